// Building DOM without HTML strings: text is always text.

// h('a', {href: '/x', class: 'link'}, 'text', childNode, [more, children])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      listen(el, k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

// Handlers are looked up when the event fires, so that `morph` can hand
// an element that stays in the page the handlers of its replacement.
function listen(el, type, fn) {
  if (!el.__on) el.__on = {};
  if (!(type in el.__on)) {
    el.addEventListener(type, (e) => {
      if (el.__on[type]) el.__on[type](e);
    });
  }
  el.__on[type] = fn;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces the children of `el`.
export function replace(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

// Replaces the children of `el` by `children`, changing only what differs:
// what the pages redraw on every poll keeps its elements (a click, a
// hover or a selection is not lost to a redraw).
export function morph(el, ...children) {
  const fresh = document.createElement('div');
  append(fresh, children);
  patchChildren(el, fresh);
  return el;
}

const KEYS = ['data-topic', 'data-channel', 'data-node', 'data-client', 'data-action', 'id'];

function same(x, y) {
  if (x.nodeType !== y.nodeType) return false;
  if (x.nodeType !== Node.ELEMENT_NODE) return true;
  return x.tagName === y.tagName && KEYS.every((k) => x.getAttribute(k) === y.getAttribute(k));
}

function patchChildren(a, b) {
  const olds = [...a.childNodes];
  const news = [...b.childNodes];
  news.forEach((y, i) => {
    const x = olds[i];
    if (!x) a.appendChild(y);
    else if (same(x, y)) patch(x, y);
    else a.replaceChild(y, x);
  });
  for (const x of olds.slice(news.length)) x.remove();
}

function patch(x, y) {
  if (x.nodeType !== Node.ELEMENT_NODE) {
    if (x.nodeValue !== y.nodeValue) x.nodeValue = y.nodeValue;
    return;
  }
  for (const {name, value} of [...y.attributes]) {
    if (x.getAttribute(name) !== value) x.setAttribute(name, value);
  }
  for (const {name} of [...x.attributes]) {
    if (!y.hasAttribute(name)) x.removeAttribute(name);
  }
  for (const type of Object.keys(x.__on || {})) {
    if (!(y.__on && y.__on[type])) x.__on[type] = null;
  }
  for (const [type, fn] of Object.entries(y.__on || {})) listen(x, type, fn);
  patchChildren(x, y);
}

export function badge(text, kind, title) {
  return h('span', {class: `badge badge-${kind || 'default'}`, title}, text);
}

// A notice in place of a table: what is (not) there, and why.
export function notice(title, ...body) {
  return h('div', {class: 'notice'}, h('strong', {}, title), ' ', ...body);
}

// A notice that something needs attention.
export function warning(title, ...body) {
  return h('div', {class: 'notice notice-warning'}, h('strong', {}, title), ' ', ...body);
}

// A table: `head` is a list of header cells (strings or {label, num, title, colspan}).
// It comes in a box of its own that scrolls sideways when the table cannot
// be narrower than the page, so that only the table scrolls, never the page.
export function table(attrs, head, rows) {
  const th = head.map((c) => {
    const o = typeof c === 'string' ? {label: c} : c;
    return h('th', {class: o.num ? 'num' : undefined, title: o.title, colspan: o.colspan}, o.label);
  });
  const narrow = String((attrs || {}).class || '').split(' ').includes('narrow');
  return h('div', {class: narrow ? 'table-wrap narrow' : 'table-wrap'},
    h('table', attrs, h('thead', {}, h('tr', {}, th)), h('tbody', {}, rows)));
}

export function num(v, attrs) {
  return h('td', Object.assign({class: 'num'}, attrs || {}), v);
}
