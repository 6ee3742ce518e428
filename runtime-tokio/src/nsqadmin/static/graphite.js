// History from graphite (with --graphite-url): the statsd series nsqd
// pushes, drawn by graphite as Go nsqadmin draws them.
import {config, path} from './api.js';
import {h} from './dom.js';

const TYPES = {
  depth: 'gauge', in_flight_count: 'gauge', deferred_count: 'gauge', requeue_count: 'counter',
  timeout_count: 'counter', message_count: 'counter', clients: 'gauge',
};
const INTERVALS = ['1h', '2h', '12h', '24h', '48h', '168h'];
const KEY = 'nsqadmin.graph_interval';

function statsdKey(key, name) {
  const fmt = TYPES[key] === 'counter' ? config.statsd_counter_format : config.statsd_gauge_format;
  return fmt ? fmt.replace(/%s/g, name) : name;
}

function prefix(node) {
  let p = config.statsd_prefix.replace(/%s/g, node.replace(/[.:]/g, '_'));
  if (!p.endsWith('.')) p += '.';
  return p;
}

// What statsdaemon does to a key.
function clean(s) {
  return s.replaceAll(' ', '_').replaceAll('/', '-').replace(/[^a-zA-Z0-9\-_.]/g, '');
}

function target(kind, node, topic, channel, key) {
  const p = prefix(node || '*');
  if (kind === 'topic') return `sumSeries(${statsdKey(key, `${p}topic.${clean(topic)}.${key}`)})`;
  if (kind === 'channel') {
    return `sumSeries(${statsdKey(key, `${p}topic.${clean(topic)}.channel.${clean(channel)}.${key}`)})`;
  }
  return `sumSeries(${statsdKey(key, `${p}topic.*.channel.*.${key}`)})`;
}

function renderUrl(t, key, interval) {
  const secs = config.statsd_interval;
  let tt = t;
  if (TYPES[key] === 'counter') tt = `scale(${tt},${1 / secs})`;
  const q = new URLSearchParams({
    colorList: key === 'depth' || key === 'deferred_count' ? 'red' : 'blue',
    height: '220', width: '480', bgcolor: 'ff000000', fgcolor: '999999', yMin: '0',
    lineMode: 'connected', drawNullAsZero: 'false', from: '-' + interval, until: '-1min',
    target: `summarize(${tt},"${secs}sec","avg")`,
  });
  const base = config.proxy_graphite ? path('/render') : `${config.graphite_url.replace(/\/$/, '')}/render`;
  return `${base}?${q}`;
}

// A panel of graphite graphs for `keys` of a topic, channel or the counter
// (null without graphite).
export function history(kind, topic, channel, keys) {
  if (!config.graph_enabled) return null;
  const interval = localStorage.getItem(KEY) || '2h';
  const imgs = h('div', {class: 'graphs'});
  const draw = (iv) => {
    imgs.textContent = '';
    for (const key of keys) {
      imgs.appendChild(h('figure', {},
        h('img', {src: renderUrl(target(kind, '*', topic, channel, key), key, iv), alt: key, loading: 'lazy'}),
        h('figcaption', {}, key.replace(/_/g, ' '))));
    }
  };
  const select = h('select', {onchange: (e) => { localStorage.setItem(KEY, e.target.value); draw(e.target.value); }},
    INTERVALS.map((iv) => h('option', {value: iv, selected: iv === interval}, iv)));
  draw(interval);
  return h('section', {class: 'panel graphite'},
    h('div', {class: 'panel-head'}, h('span', {class: 'panel-title'}, 'History (graphite)'), ' ', select), imgs);
}
