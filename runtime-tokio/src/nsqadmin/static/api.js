// Talking to nsqadmin's API, under the configured base path.

export const config = JSON.parse(document.getElementById('nsqadmin-config').textContent);

const base = config.base_path === '/' ? '' : config.base_path;

// A UI path under the base path ('/topics/x' -> '/admin/topics/x').
export function path(p) {
  return (base + p).replace(/\/$/, '') || '/';
}

export function apiPath(p) {
  return path('/api' + p);
}

export const enc = encodeURIComponent;

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function call(method, p, body) {
  const opts = {method, headers: {Accept: 'application/vnd.nsq; version=1.0'}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(apiPath(p), opts);
  } catch (e) {
    throw new ApiError('ERROR: failed to connect to nsqadmin', 0);
  }
  const text = await r.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch (e) {
    data = {message: text};
  }
  if (!r.ok) throw new ApiError(data.message || `HTTP ${r.status}`, r.status);
  return data;
}

export const get = (p) => call('GET', p);
export const post = (p, body) => call('POST', p, body);
export const del = (p, body) => call('DELETE', p, body);
