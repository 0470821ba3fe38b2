// SPDX-License-Identifier: MPL-2.0
// A tiny element builder and the Danish formatting helpers the views share.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const when = new Intl.DateTimeFormat('da-DK', { dateStyle: 'short', timeStyle: 'short' });
export const fmtTime = (ms) => (ms ? when.format(new Date(Number(ms))) : '');
export const short = (hex) => `${hex.slice(0, 4)} ${hex.slice(4, 8)}`;

/** A button that runs an async action, disabled while it runs. */
export function action(label, fn, attrs = {}) {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await fn(); } finally { b.disabled = false; }
  });
  return b;
}
