// Charts (bars, line, a radial clock face) as SVG, and the count-up of a frame's big number.
import { svg, reducedMotion } from './dom.js';

export function renderChart(chart) {
  const labels = Array.isArray(chart.labels) ? chart.labels.map(String) : [];
  const values = (Array.isArray(chart.values) ? chart.values : []).map((v) => Number(v) || 0);
  const n = Math.min(labels.length || values.length, values.length);
  const max = Math.max.apply(null, values.slice(0, n).concat([1]));
  const summary = labels.slice(0, n).map((l, i) => `${l}: ${values[i]}`).join(', ');
  const root = svg('svg', { viewBox: '0 0 320 220', role: 'img', class: `recap-chart recap-chart-${chart.type}`,
    'aria-label': (chart.caption ? `${chart.caption}. ` : '') + summary });
  const hi = chart.highlight;
  if (chart.type === 'radial') {
    // A clock face: one spoke per bucket (hours, usually), longest where the viewer was busiest.
    root.setAttribute('viewBox', '0 0 260 260');
    const cx = 130, cy = 130, inner = 42, outer = 112;
    root.appendChild(svg('circle', { cx, cy, r: inner - 8, class: 'recap-ring' }));
    for (let r = 0; r < n; r++) {
      const angle = (r / n) * Math.PI * 2 - Math.PI / 2;
      if (values[r] > 0) {
        const len = inner + (outer - inner) * (values[r] / max);
        root.appendChild(svg('line', {
          x1: cx + Math.cos(angle) * inner, y1: cy + Math.sin(angle) * inner,
          x2: cx + Math.cos(angle) * len, y2: cy + Math.sin(angle) * len,
          class: `recap-bar${r === hi ? ' is-highlight' : ''}`, order: r,
          'stroke-width': Math.max(3, Math.min(12, 250 / n)), 'stroke-linecap': 'round'
        }));
      }
      if (n >= 4 && r % (n / 4) === 0) {
        const tick = svg('text', { x: cx + Math.cos(angle) * (inner - 20), y: cy + Math.sin(angle) * (inner - 20) + 4,
          'text-anchor': 'middle', class: 'recap-chart-label' });
        tick.textContent = labels[r];
        root.appendChild(tick);
      }
    }
    return root;
  }
  const left = 8, bottom = 190, width = 304, height = 170, step = width / Math.max(n, 1);
  const every = Math.ceil(n / 8);  // keep labels legible on a phone
  if (chart.type === 'line') {
    const points = values.slice(0, n).map((v, i) => [left + step * (i + 0.5), bottom - height * (v / max)]);
    const line = points.map((p, i) => `${(i ? 'L' : 'M') + p[0].toFixed(1)} ${p[1].toFixed(1)}`).join(' ');
    if (points.length) {
      const last = points[points.length - 1];
      root.appendChild(svg('path', { d: `${line} L${last[0].toFixed(1)} ${bottom} L${points[0][0].toFixed(1)} ${bottom} Z`, class: 'recap-area' }));
      root.appendChild(svg('path', { d: line, class: 'recap-line', pathLength: 1 }));
    }
    points.forEach((p, i) => {
      root.appendChild(svg('circle', { cx: p[0], cy: p[1], r: i === hi ? 7 : 3.5, class: `recap-dot${i === hi ? ' is-highlight' : ''}` }));
    });
  } else {
    for (let b = 0; b < n; b++) {
      const h = Math.max(2, height * (values[b] / max));
      root.appendChild(svg('rect', {
        x: left + step * b + step * 0.15, y: bottom - h, width: step * 0.7, height: h, rx: Math.min(6, step * 0.2),
        class: `recap-bar${b === hi ? ' is-highlight' : ''}`, order: b
      }));
    }
  }
  for (let t = 0; t < n; t++) {
    // Every few labels, and always the highlighted one, with room kept around it.
    if (t !== hi && (t % every || (hi !== null && hi !== undefined && Math.abs(t - hi) < every))) continue;
    const label = svg('text', { x: left + step * (t + 0.5), y: 212, 'text-anchor': 'middle',
      class: `recap-chart-label${t === hi ? ' is-highlight' : ''}` });
    label.textContent = labels[t];
    root.appendChild(label);
  }
  return root;
}

// How the steps of a count-up to ``text`` (the server's number, in the story's locale) are written:
// in its own digits and separator, grouped by three, so every step reads like the last ("2,963",
// "2.963", "2 963", "٢٬٩٦٣"); null (no count-up) when the text is not a whole number so written.
function stepsLike(text, target) {
  const grouped = /^\p{Nd}{1,3}(?:(\P{Nd})\p{Nd}{3})?(?:\1\p{Nd}{3})*$/u.exec(text);
  const whole = String(Math.round(target));
  if (!grouped || text.replace(/\P{Nd}/gu, '').length !== whole.length) return null;
  const zero = text.codePointAt(0) - whole[0];
  return (n) => String(n).replace(/\B(?=(\d{3})+$)/g, grouped[1] || '').replace(/\d/g, (d) => String.fromCodePoint(zero + +d));
}

export function countUp(node, stat) {
  const target = Number(stat.raw);
  const text = String(stat.value);
  if (!isFinite(target) || target <= 0 || reducedMotion()) return;
  const step = stepsLike(text, target);
  if (!step) return;
  const span = 1600;
  let start = null;
  node.textContent = step(0);
  // Timed from the first frame drawn, not from the call: a busy page's first frame comes late.
  requestAnimationFrame(function next(now) {
    if (!node.isConnected) return;
    if (start === null) start = now;
    const t = Math.min(1, (now - start) / span);
    node.textContent = t < 1 ? step(Math.round(target * (1 - Math.pow(1 - t, 3)))) : text;
    if (t < 1) requestAnimationFrame(next);
  });
}
