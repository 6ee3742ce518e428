// A topic: its nodes, its channels, its actions.
import {get, post, del, path, enc} from './api.js';
import {h, replace, morph, table, num, notice, warning} from './dom.js';
import {commafy, rate} from './format.js';
import {record, rateOf, series} from './live.js';
import {spark} from './spark.js';
import {history} from './graphite.js';
import {nodeLink, pausedBadge, e2eHeads, e2eCells, card, runAction, actionHead, breadcrumb} from './widgets.js';

export default function topicPage(ctx) {
  const name = ctx.params.topic;
  const url = '/topics/' + enc(name);

  async function onAction(action) {
    const done = await runAction(ctx, action, name, () =>
      action === 'delete' ? del(url) : post(url, {action}));
    if (done && action === 'delete') ctx.navigate('/');
    else if (done) ctx.refresh();
  }

  async function tombstone(node) {
    const done = await runAction(ctx, 'tombstone', `${node} for ${name}`, () =>
      del('/nodes/' + enc(node), {topic: name}));
    if (done) ctx.refresh();
  }

  const body = h('div', {}, h('p', {class: 'loading'}, 'Loading…'));
  const head = actionHead(ctx, 'Topic', h('h1', {}, h('span', {class: 'kind'}, 'Topic'), ' ', name), onAction);
  replace(ctx.main,
    breadcrumb({label: 'Topics', href: path('/')}, {label: name}),
    head.el,
    body,
    history('topic', name, '', ['depth', 'message_count']));

  async function tick() {
    const t = await get(url);
    ctx.warn(t.message);
    const nodes = t.nodes || [];
    const channels = t.channels || [];
    const key = 'topic:' + name;
    const total = rateOf(key, t.message_count);
    const depth = record('depth:' + key, t.depth);
    const lat = t.e2e_processing_latency;

    const nodeRows = nodes.map((n) => {
      const r = rateOf(`${key}@${n.node}`, n.message_count);
      return h('tr', {'data-node': n.node},
        h('td', {},
          ctx.isAdmin ? h('button', {class: 'icon-btn', title: 'tombstone this node for the topic', 'data-tombstone': n.node, onclick: () => tombstone(n.node)}, '✕') : null,
          nodeLink(n.hostname, n.node), ' ', pausedBadge(n.paused)),
        num(commafy(n.depth), {'data-col': 'depth'}),
        num(`${commafy(n.memory_depth)} + ${commafy(n.backend_depth)}`),
        num(commafy(n.message_count), {'data-col': 'message_count'}),
        num(rate(r)),
        num(commafy((n.channels || []).length)),
        e2eCells(lat, n.e2e_processing_latency));
    });
    nodeRows.push(h('tr', {class: 'total'},
      h('td', {}, 'Total'),
      num(commafy(t.depth)),
      num(`${commafy(t.memory_depth)} + ${commafy(t.backend_depth)}`),
      num(commafy(t.message_count)),
      num(rate(total)),
      num(commafy(channels.length)),
      e2eCells(lat, lat)));

    const channelRows = channels.map((c) => {
      const ck = `channel:${name}/${c.channel_name}`;
      const r = rateOf(ck, c.message_count);
      const d = record('depth:' + ck, c.depth);
      return h('tr', {'data-channel': c.channel_name},
        h('td', {}, h('a', {'data-link': true, href: path(`/topics/${enc(name)}/${enc(c.channel_name)}`)}, c.channel_name), ' ', pausedBadge(c.paused)),
        num(commafy(c.depth), {'data-col': 'depth'}),
        num(`${commafy(c.memory_depth)} + ${commafy(c.backend_depth)}`),
        num(commafy(c.in_flight_count), {'data-col': 'in_flight_count'}),
        num(commafy(c.deferred_count)),
        num(commafy(c.requeue_count)),
        num(commafy(c.timeout_count)),
        num(commafy(c.message_count), {'data-col': 'message_count'}),
        num(rate(r)),
        num(commafy(c.client_count), {'data-col': 'client_count'}),
        h('td', {class: 'charts'}, spark(d, 'depth'), spark(series('rate:' + ck), 'rate')),
        e2eCells(lat, c.e2e_processing_latency));
    });

    head.update(t.paused, nodes.length > 0);
    morph(body,
      nodes.length === 0
        ? warning('No producers exist for this topic.', 'See ', h('a', {'data-link': true, href: path('/lookup')}, 'Lookup'), ' for more information.')
        : [
          h('div', {class: 'cards'},
            card('Depth', commafy(t.depth), spark(depth, 'depth', 160, 32), {'data-card': 'depth'}),
            card('Messages', commafy(t.message_count), null, {'data-card': 'message_count'}),
            card('Publish rate', `${rate(total)}/s`, spark(series('rate:' + key), 'rate', 160, 32)),
            card('Channels', commafy(channels.length)),
            card('Nodes', commafy(nodes.length))),
          h('h2', {}, 'Topic message queue'),
          table({id: 'topic-nodes', class: 'grid'}, [
            'nsqd host',
            {label: 'Depth', num: true},
            {label: 'Memory + Disk', num: true},
            {label: 'Messages', num: true},
            {label: 'msg/s', num: true},
            {label: 'Channels', num: true},
            ...e2eHeads(lat),
          ], nodeRows),
        ],
      h('h2', {}, 'Channel message queues'),
      channels.length === 0
        ? notice('No channels exist for this topic.', 'Messages will queue at the topic until a channel is created.')
        : table({id: 'channels', class: 'grid'}, [
          'Channel',
          {label: 'Depth', num: true},
          {label: 'Memory + Disk', num: true},
          {label: 'In-Flight', num: true},
          {label: 'Deferred', num: true},
          {label: 'Requeued', num: true},
          {label: 'Timed Out', num: true},
          {label: 'Messages', num: true},
          {label: 'msg/s', num: true},
          {label: 'Connections', num: true},
          {label: 'Depth · Rate'},
          ...e2eHeads(lat),
        ], channelRows));
  }
  return {tick};
}
