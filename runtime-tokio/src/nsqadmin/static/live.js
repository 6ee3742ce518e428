// Live figures: how often pages poll, the history of every figure they
// show (kept across page changes), and rates from growing counters.

const KEY = 'nsqadmin.refresh';
const KEEP = 120;

function parseInterval(v) {
  if (v === null || v === undefined || v === '') return null;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(v).trim());
  if (!m) return null;
  const n = parseFloat(m[1]);
  return m[2] === 's' ? n * 1000 : n;
}

// Milliseconds between polls (0 = paused): ?refresh=2s when the UI was
// opened, else the saved choice, else 2s. Navigating keeps it.
let current = (() => {
  const q = parseInterval(new URLSearchParams(location.search).get('refresh'));
  if (q !== null) return q;
  const saved = parseInterval(localStorage.getItem(KEY));
  return saved === null ? 2000 : saved;
})();

export function refreshMs() {
  return current;
}

export function setRefresh(ms) {
  current = parseInterval(ms) ?? current;
  localStorage.setItem(KEY, String(current));
}

const histories = new Map();

// Adds a sample to the series `key`; returns the series' values.
export function record(key, value) {
  let h = histories.get(key);
  if (!h) histories.set(key, (h = []));
  h.push(value);
  if (h.length > KEEP) h.splice(0, h.length - KEEP);
  return h;
}

export function series(key) {
  return histories.get(key) || [];
}

const counters = new Map();

// The per-second rate of the counter `key` since its last sample (null
// for the first, or when the counter went back, e.g. a node restarted);
// each rate is also recorded in the series `rate:<key>`.
export function rateOf(key, count, now = performance.now()) {
  const prev = counters.get(key);
  counters.set(key, {count, t: now});
  let r = null;
  if (prev && now > prev.t && count >= prev.count) {
    r = ((count - prev.count) * 1000) / (now - prev.t);
  }
  if (r !== null) record('rate:' + key, r);
  return r;
}

// Runs `tick` now and then every refreshMs() until stopped (only when
// asked, for a page that polls `once`); a tick that throws is reported and
// the polling goes on. Asking while a tick runs runs it again right after.
export class Poller {
  constructor(tick, onResult, once) {
    this.tick = tick;
    this.onResult = onResult;
    this.once = !!once;
    this.timer = null;
    this.stopped = false;
    this.running = null;
    this.again = false;
  }

  async run() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.tick();
          if (!this.stopped) this.onResult(null);
        } catch (e) {
          if (!this.stopped) this.onResult(e);
        }
      } while (this.again && !this.stopped);
    })();
    await this.running;
    this.running = null;
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const ms = refreshMs();
    if (!this.stopped && !this.once && ms > 0) this.timer = setTimeout(() => this.run(), ms);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
