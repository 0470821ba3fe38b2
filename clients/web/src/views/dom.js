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
const num = new Intl.NumberFormat('da-DK', { maximumFractionDigits: 1 });
/** A file size the way Danish interfaces write it: 820 byte, 14 kB, 2,9 MB. */
export function fmtSize(n) {
  if (n < 1024) return `${n} byte`;
  if (n < 1024 * 1024) return `${num.format(Math.round(n / 1024))} kB`;
  return `${num.format(n / (1024 * 1024))} MB`;
}
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
