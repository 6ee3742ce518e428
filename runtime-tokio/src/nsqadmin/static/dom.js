// Building DOM without HTML strings: text is always text.

// h('a', {href: '/x', class: 'link'}, 'text', childNode, [more, children])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
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
export function table(attrs, head, rows) {
  const th = head.map((c) => {
    const o = typeof c === 'string' ? {label: c} : c;
    return h('th', {class: o.num ? 'num' : undefined, title: o.title, colspan: o.colspan}, o.label);
  });
  return h('table', attrs, h('thead', {}, h('tr', {}, th)), h('tbody', {}, rows));
}

export function num(v, attrs) {
  return h('td', Object.assign({class: 'num'}, attrs || {}), v);
}
