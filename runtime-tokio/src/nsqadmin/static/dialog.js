// The confirmation every action asks for.
import {replace, h} from './dom.js';

const DANGER = new Set(['delete', 'empty', 'tombstone']);

// "Are you sure you want to <verb> <what>?" -> true if confirmed.
export function confirmAction(verb, what, detail) {
  const dialog = document.getElementById('confirm');
  replace(
    document.getElementById('confirm-text'),
    'Are you sure you want to ',
    h('strong', {}, verb),
    ' ',
    h('em', {}, what),
    '?',
    detail ? h('span', {class: 'dialog-detail'}, detail) : null,
  );
  const ok = document.getElementById('confirm-ok');
  ok.textContent = verb.charAt(0).toUpperCase() + verb.slice(1);
  ok.className = `btn ${DANGER.has(verb) ? 'btn-danger' : 'btn-primary'}`;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}
