// Sparklines: a small SVG line over a series, from zero to its maximum.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// `kind` picks the colour: 'depth' (red, as in Go nsqadmin), 'rate' (blue), 'counter' (green).
export function spark(values, kind, width = 120, height = 24) {
  const el = svg('svg', {
    class: `spark spark-${kind || 'rate'}`,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    // the stylesheet may draw it narrower (in tables): stretch, do not letterbox
    preserveAspectRatio: 'none',
    role: 'img',
  });
  const vs = (values || []).filter((v) => v !== null && isFinite(v));
  const title = svg('title', {});
  title.textContent = vs.length ? `last ${vs.length} samples, max ${Math.max(...vs)}` : 'collecting samples…';
  el.appendChild(title);
  el.appendChild(svg('line', {x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: 'spark-base'}));
  if (vs.length < 2) return el;
  // Headroom above the highest sample keeps a steady line off the edge.
  const max = (Math.max(...vs) || 1) * 1.15;
  const step = width / (vs.length - 1);
  const pad = 2;
  const pts = vs.map((v, i) => [i * step, height - pad - (v / max) * (height - 2 * pad)]);
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  el.appendChild(svg('polygon', {points: `0,${height} ${line} ${width},${height}`, class: 'spark-area'}));
  el.appendChild(svg('polyline', {points: line, class: 'spark-line'}));
  const [lx, ly] = pts[pts.length - 1];
  el.appendChild(svg('circle', {cx: lx, cy: ly, r: 2, class: 'spark-dot'}));
  return el;
}
