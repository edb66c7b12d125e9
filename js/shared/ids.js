// Event and visitor ids: random UUIDs, from the browser's generator where it has one.
export function uuid() {
  const c = window.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  let h = '';
  for (let j = 0; j < 16; j++) h += (b[j] + 256).toString(16).slice(1) + (j === 3 || j === 5 || j === 7 || j === 9 ? '-' : '');
  return h;
}

// Intl.DateTimeFormat() alone costs more than the rest of a track() call: read once a page.
let zone = null;
export function timezone() {
  if (zone === null) {
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { zone = undefined; }
  }
  return zone;
}
