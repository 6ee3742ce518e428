// A node: its topics, their channels and consumers.
import {get, del, path, enc} from './api.js';
import {h, morph, table, num, notice} from './dom.js';
import {commafy, rate, age, hostPort} from './format.js';
import {record, rateOf, series} from './live.js';
import {spark} from './spark.js';
import {pausedBadge, card, runAction, breadcrumb} from './widgets.js';

export default function nodePage(ctx) {
  const node = ctx.params.node;

  async function tombstone(topic) {
    const done = await runAction(ctx, 'tombstone', `${node} for ${topic}`, () =>
      del('/nodes/' + enc(node), {topic}));
    if (done) ctx.refresh();
  }

  async function tick() {
    const d = await get('/nodes/' + enc(node));
    ctx.warn(d.message);
    const key = 'node:' + node;
    const r = rateOf(key, d.total_messages);
    const sections = d.topics.map((t) => {
      const tk = `topic:${t.topic_name}@${node}`;
      const tr = rateOf(tk, t.message_count);
      const depth = record('depth:' + tk, t.depth);
      const channels = t.channels || [];
      const rows = [];
      for (const c of channels) {
        const ck = `channel:${t.topic_name}/${c.channel_name}@${node}`;
        rows.push(h('tr', {'data-channel': c.channel_name},
          h('td', {}, h('a', {'data-link': true, href: path(`/topics/${enc(t.topic_name)}/${enc(c.channel_name)}`)}, c.channel_name), ' ', pausedBadge(c.paused)),
          num(commafy(c.depth)),
          num(`${commafy(c.memory_depth)} + ${commafy(c.backend_depth)}`),
          num(commafy(c.in_flight_count)),
          num(commafy(c.deferred_count)),
          num(commafy(c.requeue_count)),
          num(commafy(c.timeout_count)),
          num(commafy(c.message_count)),
          num(rate(rateOf(ck, c.message_count))),
          num(commafy((c.clients || []).length)),
          h('td', {class: 'charts'}, spark(record('depth:' + ck, c.depth), 'depth'))));
        for (const cl of c.clients || []) {
          rows.push(h('tr', {class: 'client'},
            h('td', {class: 'indent', colspan: 3, title: cl.remote_address},
              hostPort(cl.hostname, cl.remote_address),
              cl.client_id && cl.client_id !== cl.hostname ? h('span', {class: 'muted'}, ` (${cl.client_id})`) : null,
              cl.user_agent ? h('small', {class: 'muted'}, ' ', cl.user_agent) : null),
            num(commafy(cl.in_flight_count), {title: 'in flight'}),
            h('td', {class: 'num muted', colspan: 3}, `RDY ${commafy(cl.ready_count)} · FIN ${commafy(cl.finish_count)} · REQ ${commafy(cl.requeue_count)}`),
            num(commafy(cl.message_count)),
            h('td', {class: 'num muted', colspan: 3}, `connected ${age(cl.connected)}`)));
        }
      }
      return h('section', {class: 'panel', 'data-topic': t.topic_name},
        h('div', {class: 'panel-head'},
          ctx.isAdmin ? h('button', {class: 'icon-btn', title: 'tombstone this topic on this node', onclick: () => tombstone(t.topic_name)}, '✕') : null,
          h('a', {'data-link': true, href: path('/topics/' + enc(t.topic_name)), class: 'panel-title'}, t.topic_name), ' ', pausedBadge(t.paused),
          h('span', {class: 'panel-stats'},
            h('span', {}, 'depth ', h('b', {}, commafy(t.depth)), ` (${commafy(t.memory_depth)} + ${commafy(t.backend_depth)})`),
            h('span', {}, h('b', {}, commafy(t.message_count)), ' messages'),
            h('span', {}, h('b', {}, rate(tr)), ' msg/s'),
            spark(depth, 'depth'), spark(series('rate:' + tk), 'rate'))),
        channels.length === 0
          ? notice('No channels exist for this topic.', '')
          : table({class: 'grid'}, [
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
            'Depth',
          ], rows));
    });
    morph(ctx.main,
      breadcrumb({label: 'Nodes', href: path('/nodes')}, {label: node}),
      h('div', {class: 'page-head'}, h('h1', {}, h('span', {class: 'kind'}, 'Node'), ' ', node)),
      h('div', {class: 'cards'},
        card('Topics', commafy(d.topics.length)),
        card('Messages', commafy(d.total_messages), null, {'data-card': 'total_messages'}),
        card('Rate', `${rate(r)}/s`, spark(series('rate:' + key), 'rate', 160, 32)),
        card('Clients', commafy(d.total_clients), null, {'data-card': 'total_clients'})),
      sections.length === 0 ? notice('No topics exist on this node.', '') : sections);
  }
  return {tick};
}
