// The message counter: every message handed to any channel, counting up live.
import {get} from './api.js';
import {h, replace} from './dom.js';
import {commafy, rate} from './format.js';
import {rateOf, series, refreshMs} from './live.js';
import {spark} from './spark.js';
import {history} from './graphite.js';

export default function counterPage(ctx) {
  let shown = null;
  let frame = null;
  const digits = h('div', {id: 'counter-total', class: 'digits', 'aria-live': 'polite'});
  const rateEl = h('p', {class: 'counter-rate', id: 'counter-rate'}, ' ');
  const chart = h('div', {class: 'counter-chart'});
  replace(ctx.main, h('div', {class: 'counter-page'},
    digits,
    h('p', {class: 'counter-caption'}, 'Messages processed'),
    rateEl,
    chart),
  history('counter', '', '', ['message_count']));

  function draw(v) {
    const text = commafy(v);
    digits.dataset.shown = String(Math.round(v));
    replace(digits, [...text].map((ch) =>
      ch === ',' ? h('span', {class: 'sep'}, ',') : h('span', {class: 'digit'}, ch)));
  }

  // Counts from what is shown to `target` over one polling interval.
  function animate(target) {
    cancelAnimationFrame(frame);
    if (shown === null || target < shown) {
      shown = target;
      draw(shown);
      return;
    }
    const from = shown;
    const start = performance.now();
    const span = Math.max(300, refreshMs() || 1000);
    const step = (now) => {
      const f = Math.min(1, (now - start) / span);
      shown = from + (target - from) * f;
      draw(shown);
      if (f < 1 && digits.isConnected) frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
  }

  async function tick() {
    const d = await get('/counter');
    ctx.warn(d.message);
    const total = Object.values(d.stats).reduce((n, s) => n + s.message_count, 0);
    digits.dataset.total = String(total);
    const r = rateOf('counter', total);
    replace(rateEl, r === null ? ' ' : `${rate(r)} messages/s`);
    replace(chart, spark(series('rate:counter'), 'counter', 640, 90));
    animate(total);
  }
  return {tick};
}
