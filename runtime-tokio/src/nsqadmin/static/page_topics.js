// Topics: every topic of the cluster with its live totals.
import {get, path, enc} from './api.js';
import {h, morph, table, num, notice} from './dom.js';
import {commafy, rate} from './format.js';
import {record, rateOf, series} from './live.js';
import {spark} from './spark.js';
import {pausedBadge} from './widgets.js';

export default function topicsPage(ctx) {
  async function tick() {
    const [list, over] = await Promise.all([get('/topics'), get('/overview')]);
    ctx.warn([list.message, over.message].filter(Boolean).join('; '));
    const stats = new Map(over.topics.map((t) => [t.topic_name, t]));
    const names = [...new Set([...list.topics, ...over.topics.map((t) => t.topic_name)])].sort();
    const rows = names.map((name) => {
      const t = stats.get(name);
      const href = path('/topics/' + enc(name));
      const link = h('a', {'data-link': true, href}, name);
      if (!t) {
        return h('tr', {'data-topic': name, class: 'inactive'},
          h('td', {}, link, ' ', h('span', {class: 'muted small'}, 'no nodes carry it')),
          h('td', {class: 'num muted', colspan: 7}, '–'));
      }
      const r = rateOf('topic:' + name, t.message_count);
      const depth = record('backlog:topic:' + name, t.depth + t.channel_depth);
      return h('tr', {'data-topic': name},
        h('td', {}, link, ' ', pausedBadge(t.paused)),
        num(commafy(t.node_count)),
        num(commafy(t.channel_count)),
        num(commafy(t.depth), {'data-col': 'depth', title: 'messages waiting at the topic'}),
        num(commafy(t.channel_depth), {'data-col': 'channel_depth', title: 'messages queued, in flight or deferred in its channels'}),
        num(commafy(t.message_count), {'data-col': 'message_count'}),
        num(rate(r), {'data-col': 'rate'}),
        h('td', {class: 'charts'}, spark(depth, 'depth'), spark(series('rate:topic:' + name), 'rate')));
    });
    morph(ctx.main,
      h('div', {class: 'page-head'}, h('h1', {}, 'Topics'), h('span', {class: 'count'}, `${names.length}`)),
      names.length === 0
        ? notice('No topics found.', 'Topics appear here once a producer publishes to one, or once one is created on the ',
          h('a', {'data-link': true, href: path('/lookup')}, 'Lookup'), ' page.')
        : table({id: 'topics', class: 'grid'}, [
          'Topic',
          {label: 'Nodes', num: true},
          {label: 'Channels', num: true},
          {label: 'Topic depth', num: true},
          {label: 'Channel depth', num: true},
          {label: 'Messages', num: true},
          {label: 'msg/s', num: true, title: 'messages published per second, live'},
          {label: 'Depth · Rate', title: 'total depth and publish rate, since this page opened'},
        ], rows));
  }
  return {tick};
}
