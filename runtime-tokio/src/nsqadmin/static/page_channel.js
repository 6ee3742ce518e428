// A channel: its nodes, its consumers, its actions.
import {get, post, del, path, enc} from './api.js';
import {h, replace, morph, table, num, notice, warning, badge} from './dom.js';
import {commafy, rate, age, hostPort} from './format.js';
import {record, rateOf, series} from './live.js';
import {spark} from './spark.js';
import {history} from './graphite.js';
import {nodeLink, pausedBadge, e2eHeads, e2eCells, card, runAction, actionHead, breadcrumb} from './widgets.js';

function attributes(c) {
  const tlsTitle = c.tls_version
    ? `${c.tls_version} ${c.tls_cipher_suite} ${c.tls_negotiated_protocol} mutual:${c.tls_negotiated_protocol_is_mutual}`
    : undefined;
  const authTitle = `Authed${c.auth_identity ? ' Identity: ' + c.auth_identity : ''}`;
  return [
    c.sample_rate ? badge(`Sampled ${c.sample_rate}%`, 'info') : null,
    c.tls ? badge('TLS', 'warning', tlsTitle) : null,
    c.deflate ? badge('Deflate', 'default') : null,
    c.snappy ? badge('Snappy', 'primary') : null,
    c.authed
      ? (/^https?:\/\//i.test(c.auth_identity_url || '')
        ? h('a', {href: c.auth_identity_url, class: 'badge badge-success', title: authTitle, rel: 'noopener'}, 'Authed')
        : badge('Authed', 'success', authTitle))
      : null,
  ];
}

// Go nsqadmin leaves the client id out when it only repeats the host name.
function clientName(c) {
  const id = (c.client_id || '').toLowerCase();
  const host = (c.hostname || '').toLowerCase();
  const showId = id && id !== host.split('.')[0] && id !== host;
  return [hostPort(c.hostname, c.remote_address), showId ? h('span', {class: 'muted'}, ` (${c.client_id})`) : null];
}

export default function channelPage(ctx) {
  const {topic, channel} = ctx.params;
  const url = `/topics/${enc(topic)}/${enc(channel)}`;
  const what = `${topic}/${channel}`;

  async function onAction(action) {
    const done = await runAction(ctx, action, what, () =>
      action === 'delete' ? del(url) : post(url, {action}));
    if (done && action === 'delete') ctx.navigate('/topics/' + enc(topic));
    else if (done) ctx.refresh();
  }

  const body = h('div', {}, h('p', {class: 'loading'}, 'Loading…'));
  const head = actionHead(ctx, 'Channel',
    h('h1', {}, h('span', {class: 'kind'}, 'Channel'), ' ', channel,
      h('span', {class: 'muted of'}, ' of ', h('a', {'data-link': true, href: path('/topics/' + enc(topic))}, topic))),
    onAction);
  replace(ctx.main,
    breadcrumb({label: 'Topics', href: path('/')}, {label: topic, href: path('/topics/' + enc(topic))}, {label: channel}),
    head.el,
    body,
    history('channel', topic, channel, ['depth', 'in_flight_count', 'message_count', 'requeue_count']));

  async function tick() {
    const c = await get(url);
    ctx.warn(c.message);
    const nodes = c.nodes || [];
    const clients = c.clients || [];
    const key = `channel:${topic}/${channel}`;
    const total = rateOf(key, c.message_count);
    const depth = record('depth:' + key, c.depth);
    const inflight = record('inflight:' + key, c.in_flight_count);
    const lat = c.e2e_processing_latency;

    const row = (n, first, r, attrs) => h('tr', attrs,
      first,
      num(commafy(n.depth), {'data-col': 'depth'}),
      num(`${commafy(n.memory_depth)} + ${commafy(n.backend_depth)}`),
      num(commafy(n.in_flight_count), {'data-col': 'in_flight_count'}),
      num(commafy(n.deferred_count), {'data-col': 'deferred_count'}),
      num(commafy(n.requeue_count)),
      num(commafy(n.timeout_count)),
      num(commafy(n.message_count), {'data-col': 'message_count'}),
      num(rate(r)),
      num(commafy(n.client_count)),
      e2eCells(lat, n.e2e_processing_latency));
    const nodeRows = nodes.map((n) =>
      row(n, h('td', {}, nodeLink(n.hostname, n.node), ' ', pausedBadge(n.paused)),
        rateOf(`${key}@${n.node}`, n.message_count), {'data-node': n.node}));
    nodeRows.push(row(c, h('td', {}, 'Total'), total, {class: 'total'}));

    const clientRows = clients.map((cl) => h('tr', {'data-client': cl.remote_address},
      h('td', {title: cl.remote_address}, clientName(cl)),
      h('td', {class: 'agent'}, cl.user_agent ? h('small', {}, cl.user_agent) : null),
      h('td', {class: 'attrs'}, attributes(cl)),
      h('td', {class: 'addr'}, h('a', {'data-link': true, href: path('/nodes/' + enc(cl.node))}, cl.node)),
      num(commafy(cl.in_flight_count), {'data-col': 'in_flight_count'}),
      num(commafy(cl.ready_count), {'data-col': 'ready_count'}),
      num(commafy(cl.finish_count)),
      num(commafy(cl.requeue_count)),
      num(commafy(cl.message_count)),
      num(age(cl.connected), {title: new Date(cl.connect_ts * 1000).toLocaleString()})));

    head.update(c.paused, nodes.length > 0);
    morph(body,
      nodes.length === 0
        ? warning('No producers exist for this topic/channel.', 'See ', h('a', {'data-link': true, href: path('/lookup')}, 'Lookup'), ' for more information.')
        : [
          h('div', {class: 'cards'},
            card('Depth', commafy(c.depth), spark(depth, 'depth', 160, 32), {'data-card': 'depth'}),
            card('In-Flight', commafy(c.in_flight_count), spark(inflight, 'rate', 160, 32), {'data-card': 'in_flight_count'}),
            card('Deferred', commafy(c.deferred_count)),
            card('Messages', commafy(c.message_count), null, {'data-card': 'message_count'}),
            card('Rate', `${rate(total)}/s`, spark(series('rate:' + key), 'rate', 160, 32)),
            card('Connections', commafy(c.client_count), null, {'data-card': 'client_count'})),
          h('h2', {}, 'Channel'),
          table({id: 'channel-nodes', class: 'grid'}, [
            'nsqd host',
            {label: 'Depth', num: true},
            {label: 'Memory + Disk', num: true},
            {label: 'In-Flight', num: true},
            {label: 'Deferred', num: true},
            {label: 'Requeued', num: true},
            {label: 'Timed Out', num: true},
            {label: 'Messages', num: true},
            {label: 'msg/s', num: true},
            {label: 'Connections', num: true},
            ...e2eHeads(lat),
          ], nodeRows),
        ],
      h('h2', {}, 'Client connections'),
      clients.length === 0
        ? notice('No clients connected to this channel.', '')
        : table({id: 'clients', class: 'grid'}, [
          'Client host', 'User-Agent', 'Attributes', 'nsqd host',
          {label: 'In-Flight', num: true},
          {label: 'Ready (RDY)', num: true},
          {label: 'Finished', num: true},
          {label: 'Requeued', num: true},
          {label: 'Messages', num: true},
          {label: 'Connected', num: true},
        ], clientRows));
  }
  return {tick};
}
