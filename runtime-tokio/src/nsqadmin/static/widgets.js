// Pieces the pages share: node links, latency columns, summary cards, actions.
import {path, enc} from './api.js';
import {confirmAction} from './dialog.js';
import {h, badge, replace} from './dom.js';
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

// The head of a topic or channel page, built once so that its buttons stay
// put while the figures below refresh; `update(paused, hasNodes)` after
// each poll. Admins get the actions.
export function actionHead(ctx, kind, title, onAction) {
  const badgeSlot = h('span');
  const btn = (action, label, cls) =>
    h('button', {class: `btn ${cls}`, 'data-action': action, onclick: () => onAction(action)}, label);
  const pause = btn('pause', `Pause ${kind}`, 'btn-primary');
  const unpause = btn('unpause', `Unpause ${kind}`, 'btn-success');
  const bar = ctx.isAdmin
    ? h('div', {class: 'actions', hidden: true},
      btn('empty', 'Empty Queue', 'btn-warning'), btn('delete', `Delete ${kind}`, 'btn-danger'), pause, unpause)
    : null;
  return {
    el: h('div', {class: 'page-head'}, title, ' ', badgeSlot, bar),
    update(paused, hasNodes) {
      replace(badgeSlot, pausedBadge(paused));
      if (!bar) return;
      bar.hidden = !hasNodes;
      pause.hidden = paused;
      unpause.hidden = !paused;
    },
  };
}

export function breadcrumb(...items) {
  return h('nav', {class: 'breadcrumb'}, items.map((it, i) => [
    i > 0 ? h('span', {class: 'sep'}, '/') : null,
    it.href ? h('a', {'data-link': true, href: it.href}, it.label) : h('span', {class: 'current'}, it.label),
  ]));
}
