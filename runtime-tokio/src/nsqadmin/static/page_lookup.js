// Lookup: the nsqlookupd hosts, topics no node carries, and creating
// topics and channels ahead of their producers.
import {get, post, del, path, enc} from './api.js';
import {h, replace, morph, table, notice, warning} from './dom.js';
import {runAction} from './widgets.js';

export default function lookupPage(ctx) {
  const lookupds = ctx.config.nsqlookupd || [];
  const inactive = h('div', {id: 'inactive'});
  const result = h('div', {class: 'form-result', id: 'create-result'});

  async function create(e) {
    e.preventDefault();
    const form = e.target;
    const topic = form.elements.topic.value.trim();
    const channel = form.elements.channel.value.trim();
    if (!topic) return;
    try {
      const r = await post('/topics', {topic, channel});
      ctx.warn(r.message);
      replace(result, h('span', {class: 'ok'}, 'Created ',
        h('a', {'data-link': true, href: path('/topics/' + enc(topic) + (channel ? '/' + enc(channel) : ''))},
          channel ? `${topic}/${channel}` : topic), '.'));
      form.reset();
      ctx.refresh();
    } catch (err) {
      replace(result, h('span', {class: 'err'}, err.message));
    }
  }

  async function remove(topic, channel) {
    const what = channel ? `${topic}/${channel}` : topic;
    const url = '/topics/' + enc(topic) + (channel ? '/' + enc(channel) : '');
    if (await runAction(ctx, 'delete', what, () => del(url))) ctx.refresh();
  }

  const x = (topic, channel) => ctx.isAdmin
    ? h('button', {class: 'icon-btn', title: 'delete', onclick: () => remove(topic, channel)}, '✕')
    : null;

  if (lookupds.length === 0) {
    replace(ctx.main, h('div', {class: 'page-head'}, h('h1', {}, 'Lookup')),
      warning('nsqadmin is not configured with nsqlookupd hosts.', 'It was started with --nsqd-http-address.'));
  } else {
    replace(ctx.main,
      h('div', {class: 'page-head'}, h('h1', {}, 'Lookup')),
      h('div', {class: 'columns'},
        h('div', {},
          table({class: 'grid narrow', id: 'lookupds'}, ['nsqlookupd host'], lookupds.map((l) => h('tr', {}, h('td', {}, l)))),
          h('h2', {}, 'Inactive topics'),
          inactive),
        ctx.isAdmin
          ? h('form', {class: 'panel create', id: 'create', onsubmit: create},
            h('h2', {}, 'Create topic / channel'),
            h('p', {class: 'muted'}, 'Sets up a stream hierarchy before services are deployed. If the channel name is empty, just the topic is created.'),
            h('label', {}, 'Topic', h('input', {type: 'text', name: 'topic', placeholder: 'topic name', required: true, pattern: '[.a-zA-Z0-9_\\-]+(#ephemeral)?', maxlength: 64})),
            h('label', {}, 'Channel', h('input', {type: 'text', name: 'channel', placeholder: 'channel name (optional)', pattern: '[.a-zA-Z0-9_\\-]+(#ephemeral)?', maxlength: 64})),
            h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create'),
            result)
          : null));
  }

  async function tick() {
    if (lookupds.length === 0) return;
    const d = await get('/topics?inactive=true');
    ctx.warn(d.message);
    const names = Object.keys(d.topics).sort();
    morph(inactive, names.length === 0
      ? notice('No inactive topics.', '')
      : [
        h('p', {class: 'muted'}, 'Topics and channels present in the lookup data that no nsqd in the cluster carries.'),
        h('ul', {class: 'tree'}, names.map((t) => h('li', {'data-topic': t},
          x(t, ''), h('a', {'data-link': true, href: path('/topics/' + enc(t))}, t),
          h('ul', {}, d.topics[t].map((c) => h('li', {'data-channel': c},
            x(t, c), h('a', {'data-link': true, href: path(`/topics/${enc(t)}/${enc(c)}`)}, c))))))),
      ]);
  }
  // Asking every lookupd about every topic is not for each poll: on
  // opening the page and after each change only.
  return {tick, once: true};
}
