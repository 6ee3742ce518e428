// How numbers and durations read on the pages (as Go nsqadmin writes them).

export function commafy(n) {
  n = n || 0;
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function round(v, places) {
  const m = Math.pow(10, places);
  return Math.round(v * m) / m;
}

// Nanoseconds as 1h2m3.5s, 12.34ms, 5us, 10ns.
export function nanotohuman(n) {
  n = n || 0;
  let s = '';
  if (n >= 3600e9) {
    s = Math.floor(n / 3600e9) + 'h';
    n %= 3600e9;
  }
  if (n >= 60e9) {
    s += Math.floor(n / 60e9) + 'm';
    n %= 60e9;
  }
  if (n >= 1e9) return s + round(n / 1e9, 2) + 's';
  if (s) return s;
  if (n >= 1e6) return round(n / 1e6, 2) + 'ms';
  if (n >= 1e3) return round(n / 1e3, 2) + 'us';
  return n + 'ns';
}

// A quantile as a column title: 0.99 -> "99th".
export function percentile(q) {
  const p = Math.floor(q * 1000) / 10;
  const whole = Math.floor(q * 100);
  const v = whole % 10;
  const teen = whole % 100 >= 11 && whole % 100 <= 13;
  const suffix = teen ? 'th' : v === 1 ? 'st' : v === 2 ? 'nd' : v === 3 ? 'rd' : 'th';
  return `${p}${suffix}`;
}

// Messages per second, short: 0, 0.4, 12, 1.2k, 3.4M.
export function rate(r) {
  if (r === null || r === undefined || !isFinite(r)) return '–';
  if (r >= 1e6) return round(r / 1e6, 1) + 'M';
  if (r >= 1e4) return Math.round(r / 1e3) + 'k';
  if (r >= 1e3) return round(r / 1e3, 1) + 'k';
  if (r >= 10) return String(Math.round(r));
  return String(round(r, 1));
}

// `hostname:port` of an `addr:port` node, as Go nsqadmin shows a node.
export function hostPort(hostname, addr) {
  const port = String(addr || '').split(':').pop();
  return `${hostname}:${port}`;
}

// A connection's age (whole seconds): 2h3m4s, 5m0s, 12s.
export function age(ns) {
  let s = Math.max(0, Math.floor((ns || 0) / 1e9));
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
