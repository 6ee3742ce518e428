// nsqadmin's web UI: a router over the pages, the header, banners and polling.
import {config, path} from './api.js';
import {h, replace} from './dom.js';
import {Poller, refreshMs, setRefresh} from './live.js';
import topicsPage from './page_topics.js';
import topicPage from './page_topic.js';
import channelPage from './page_channel.js';
import nodesPage from './page_nodes.js';
import nodePage from './page_node.js';
import counterPage from './page_counter.js';
import lookupPage from './page_lookup.js';

const main = document.getElementById('main');
const banners = document.getElementById('banners');
const liveDot = document.getElementById('live-dot');
let current = null;

function route(pathname) {
  const base = config.base_path === '/' ? '' : config.base_path;
  let p = pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  p = p.replace(/\/+$/, '') || '/';
  const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === 'topics' && parts.length === 1)) {
    return {nav: 'topics', page: topicsPage, params: {}};
  }
  if (parts[0] === 'topics' && parts.length === 2) {
    return {nav: 'topics', page: topicPage, params: {topic: parts[1]}};
  }
  if (parts[0] === 'topics' && parts.length === 3) {
    return {nav: 'topics', page: channelPage, params: {topic: parts[1], channel: parts[2]}};
  }
  if (parts[0] === 'nodes' && parts.length === 1) return {nav: 'nodes', page: nodesPage, params: {}};
  if (parts[0] === 'nodes' && parts.length === 2) {
    return {nav: 'nodes', page: nodePage, params: {node: parts[1]}};
  }
  if (parts[0] === 'counter') return {nav: 'counter', page: counterPage, params: {}};
  if (parts[0] === 'lookup') return {nav: 'lookup', page: lookupPage, params: {}};
  return null;
}

function banner(kind, text) {
  const b = h('div', {class: `banner banner-${kind}`, role: 'alert'},
    h('button', {class: 'banner-close', title: 'dismiss', onclick: () => b.remove()}, '×'), text);
  banners.appendChild(b);
}

function show() {
  if (current) current.poller.stop();
  current = null;
  replace(banners);
  window.scrollTo(0, 0);
  const r = route(location.pathname);
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', r !== null && a.dataset.nav === r.nav);
  }
  if (!r) {
    replace(main, h('div', {class: 'notice'}, h('strong', {}, 'Not found'), ' No page at ', location.pathname));
    return;
  }
  const ctx = {
    main,
    params: r.params,
    config,
    isAdmin: config.is_admin,
    // Shows the API's "message" (warnings about nodes that did not answer).
    warn(message) {
      for (const b of banners.querySelectorAll('.banner-warning')) b.remove();
      if (message) banner('warning', message);
    },
    error(message) {
      banner('error', message);
    },
    navigate,
    refresh() {
      return state.poller.run();
    },
  };
  replace(main, h('p', {class: 'loading'}, 'Loading…'));
  const page = r.page(ctx);
  const state = {
    poller: new Poller(page.tick, (err) => {
      liveDot.className = err ? 'live-dot live-error' : 'live-dot live-ok';
      for (const b of banners.querySelectorAll('.banner-error.poll')) b.remove();
      if (err) {
        banners.appendChild(h('div', {class: 'banner banner-error poll', role: 'alert'}, err.message));
      }
      if (!err) {
        liveDot.classList.remove('pulse');
        void liveDot.offsetWidth;
        liveDot.classList.add('pulse');
      }
    }, page.once),
  };
  current = state;
  state.poller.run();
}

export function navigate(p) {
  history.pushState(null, '', path(p));
  show();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  history.pushState(null, '', a.getAttribute('href'));
  show();
});
window.addEventListener('popstate', show);

const select = document.getElementById('refresh');
const ms = String(refreshMs());
if (![...select.options].some((o) => o.value === ms)) {
  select.appendChild(h('option', {value: ms}, `every ${Number(ms) / 1000}s`));
}
select.value = ms;
select.addEventListener('change', () => {
  setRefresh(select.value);
  if (current) current.poller.run();
});
document.getElementById('version').textContent = `v${config.version}`;

show();
