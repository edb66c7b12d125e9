// Small DOM helpers: elements, SVG, and the checks every colour and URL from a story passes.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.keys(attrs || {}).forEach((k) => {
    // Custom properties through the CSSOM: a style attribute would be refused by the embed CSP.
    if (k === 'order') node.style.setProperty('--i', attrs[k]);
    else node.setAttribute(k, String(attrs[k]));
  });
  return node;
}

export function color(value) {
  return typeof value === 'string' && /^#[0-9a-f]{3,8}$/i.test(value) ? value : null;
}

// Media may come from the server, a CDN or be inline; never from javascript: and the like.
export function mediaUrl(value, base) {
  if (typeof value !== 'string' || !value) return null;
  try {
    const url = new URL(value, base || location.href);
    return /^(https?|blob|data):$/.test(url.protocol) ? url.href : null;
  } catch { return null; }
}

export function linkUrl(value, scheme) {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    const ok = url.protocol === 'https:' || url.protocol === 'http:' ||
      (scheme && url.protocol === `${String(scheme).toLowerCase()}:`);
    return ok ? url.href : null;
  } catch { return null; }
}

export function reducedMotion() {
  return !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
}

// The player's stylesheet, added to the page once: the link element, found or made.
export function ensureStylesheet(host) {
  const found = document.querySelector('link[data-recap-player]');
  if (found) return found;
  const link = el('link');
  link.rel = 'stylesheet';
  link.href = `${host}/widget/player.css`;
  link.setAttribute('data-recap-player', '');
  document.head.appendChild(link);
  return link;
}
