// Pieces the pages share: node links, latency columns, summary cards, actions.
import {path, enc} from './api.js';
import {confirmAction} from './dialog.js';
import {h, badge} from './dom.js';
import {nanotohuman, percentile, hostPort} from './format.js';

// A node as Go nsqadmin shows it: "hostname:port", plus the address when
// the host name differs from it; links to the node's page.
export function nodeLink(hostname, node) {
  const addr = String(node).split(':').slice(0, -1).join(':');
  const href = path('/nodes/' + enc(node));
  if (!hostname || hostname.toLowerCase() === addr.toLowerCase()) {
    return h('a', {'data-link': true, href}, hostPort(hostname || addr, node));
  }
  return h('span', {}, hostPort(hostname, node), ' ', h('a', {'data-link': true, href, class: 'muted'}, `(${node})`));
}

export function pausedBadge(paused) {
  return paused ? badge('paused', 'paused', 'paused: messages are not delivered') : null;
}

function percentiles(latency) {
  return (latency && latency.percentiles) || [];
}

// Header cells for the e2e latency percentiles of `latency` (none if off).
export function e2eHeads(latency) {
  return percentiles(latency).map((p) => ({
    label: percentile(p.quantile),
    num: true,
    title: `end-to-end processing latency, ${percentile(p.quantile)} percentile`,
  }));
}

// One cell per percentile of `template`, filled from `latency`.
export function e2eCells(template, latency) {
  const mine = percentiles(latency);
  return percentiles(template).map((t) => {
    const p = mine.find((m) => m.quantile === t.quantile);
    if (!p) return h('td', {class: 'num muted'}, '–');
    return h(
      'td',
      {class: 'num', title: `${percentile(p.quantile)}: min ${nanotohuman(p.min)}, max ${nanotohuman(p.max)}`},
      nanotohuman(p.average),
    );
  });
}

// A summary figure with its sparkline.
export function card(label, value, chart, attrs) {
  return h('div', Object.assign({class: 'card'}, attrs || {}),
    h('div', {class: 'card-label'}, label),
    h('div', {class: 'card-value'}, value),
    chart ? h('div', {class: 'card-chart'}, chart) : null);
}

// Asks, then runs `act`; failures show as an error banner.
export async function runAction(ctx, verb, what, act) {
  if (!(await confirmAction(verb, what))) return false;
  try {
    const r = await act();
    if (r && r.message) ctx.warn(r.message);
    return true;
  } catch (e) {
    ctx.error(e.message);
    return false;
  }
}

// The action buttons of a topic or channel page (admins only).
export function actionBar(ctx, kind, paused, onAction) {
  if (!ctx.isAdmin) return null;
  const btn = (action, label, cls) =>
    h('button', {class: `btn ${cls}`, 'data-action': action, onclick: () => onAction(action)}, label);
  return h('div', {class: 'actions'},
    btn('empty', 'Empty Queue', 'btn-warning'),
    btn('delete', `Delete ${kind}`, 'btn-danger'),
    paused ? btn('unpause', `Unpause ${kind}`, 'btn-success') : btn('pause', `Pause ${kind}`, 'btn-primary'));
}

export function breadcrumb(...items) {
  return h('nav', {class: 'breadcrumb'}, items.map((it, i) => [
    i > 0 ? h('span', {class: 'sep'}, '/') : null,
    it.href ? h('a', {'data-link': true, href: it.href}, it.label) : h('span', {class: 'current'}, it.label),
  ]));
}
