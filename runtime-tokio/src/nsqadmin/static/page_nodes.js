// Nodes: every nsqd of the cluster.
import {get, path, enc} from './api.js';
import {h, morph, table, num, notice} from './dom.js';

function httpAddress(n) {
  const host = n.broadcast_address.includes(':') ? `[${n.broadcast_address}]` : n.broadcast_address;
  return `${host}:${n.http_port}`;
}

export default function nodesPage(ctx) {
  const open = new Set();

  async function tick() {
    const d = await get('/nodes');
    ctx.warn(d.message);
    const lookupds = ctx.config.nsqlookupd.length;
    const rows = d.nodes.map((n) => {
      const addr = httpAddress(n);
      const conns = n.remote_addresses || [];
      const toggle = () => {
        if (open.has(addr)) open.delete(addr);
        else open.add(addr);
        ctx.refresh();
      };
      return h('tr', {'data-node': addr, class: n.out_of_date ? 'warning' : undefined, title: n.out_of_date ? 'older than the newest nsqd in the cluster' : undefined},
        h('td', {}, n.hostname),
        h('td', {}, h('a', {'data-link': true, href: path('/nodes/' + enc(addr))}, n.broadcast_address)),
        num(n.tcp_port),
        num(n.http_port),
        h('td', {}, n.version, n.out_of_date ? h('span', {class: 'badge badge-warning'}, 'out of date') : null),
        lookupds
          ? h('td', {},
            h('button', {class: `btn btn-xs ${conns.length !== lookupds ? 'btn-warning' : ''}`, title: 'connections to nsqlookupd', onclick: toggle}, String(conns.length)),
            open.has(addr) ? h('div', {class: 'small muted'}, conns.map((c) => h('div', {}, c))) : null)
          : null,
        h('td', {class: 'topics'},
          (n.topics || []).map((t) => h('a', {
            'data-link': true,
            href: path('/topics/' + enc(t.topic)),
            class: `badge ${t.tombstoned ? 'badge-warning' : 'badge-primary'}`,
            title: t.tombstoned ? 'this topic is currently tombstoned on this node' : undefined,
          }, t.topic))));
    });
    morph(ctx.main,
      h('div', {class: 'page-head'}, h('h1', {}, 'nsqd nodes'), h('span', {class: 'count'}, String(d.nodes.length))),
      d.nodes.length === 0
        ? notice('No nodes found.', 'No nsqd has registered with the configured nsqlookupd yet.')
        : table({id: 'nodes', class: 'grid'}, [
          'Hostname', 'Broadcast address',
          {label: 'TCP port', num: true},
          {label: 'HTTP port', num: true},
          'Version',
          lookupds ? {label: 'Lookupd conns', title: 'how many nsqlookupd this node is registered with'} : null,
          'Topics',
        ].filter(Boolean), rows));
  }
  return {tick};
}
