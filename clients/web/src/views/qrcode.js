// SPDX-License-Identifier: MPL-2.0
// A QR code as an SVG figure (built through the DOM: the policy allows no inline markup).
import { encodeQr, qrPath } from '../app/qr.js';

const SVG = 'http://www.w3.org/2000/svg';

/** A figure with the QR code of `text`; `label` names it for screen readers. */
export function qrFigure(text, label) {
  const qr = encodeQr(text, { ecl: 'M' });
  const side = qr.size + 8;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${side} ${side}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', side);
  bg.setAttribute('height', side);
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', qrPath(qr));
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}
