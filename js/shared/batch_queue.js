// The one way a browser sends events to POST /v1/batch, shared by recap.js and the player:
// batches under the browser's 64 KiB keepalive limit, one batch in flight, capped exponential
// backoff on overload, a beacon when the page is hidden, and what a beacon could not carry
// kept for later.

// sendBeacon and keepalive fetch both refuse bodies over 64 KiB in flight; stay under it.
const MAX_BODY = 60000;
export const MAX_EVENT = 32768; // the server's limit per event, in UTF-8 bytes of its JSON
// Characters of the saved queue, of the ~5 million a browser lets the whole site store.
const MAX_SAVED = 1000000;

// The browser's 64 KiB limit counts UTF-8 bytes, not characters.
export function utf8Length(text) {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) n += c > 0x7ff && (c < 0xd800 || c > 0xdfff) ? 2 : 1; // surrogate pairs: 4 in all
  }
  return n;
}

export class BatchQueue {
  // options: endpoint, writeKey() (read at send time: a token can be renewed), storage
  // (createStorage), warn(message), maxQueue, flushAt, flushInterval, safe(fn) to wrap callbacks.
  constructor(options) {
    Object.assign(this, options);
    this.queue = []; // JSON strings, one per event
    this.timer = null;
    this.retries = 0;
    this.inflight = null; // the batch in flight, a promise settled once what waited behind it went
    this.waiting = false; // more were ready to go while one was in flight
  }

  // Serialises and queues one event; false (with a warning) if it cannot be sent.
  push(message) {
    let json;
    try { json = JSON.stringify(message); } catch (e) { this.warn(`event not JSON-serialisable: ${e}`); return false; }
    const size = utf8Length(json);
    if (size > MAX_EVENT) {
      this.warn(`event too large (${size} bytes; the limit is ${MAX_EVENT}), dropped: ${message.event || message.type}`);
      return false;
    }
    this.queue.push(json);
    if (this.queue.length > this.maxQueue) this.queue.splice(0, this.queue.length - this.maxQueue);
    if (this.queue.length >= this.flushAt) this.flush();
    else this.schedule(this.flushInterval);
    return true;
  }

  schedule(delay) {
    if (!this.timer) this.timer = setTimeout(this.safe(() => { this.timer = null; this.flush(); }), delay);
  }

  // Take events off the queue up to one body's worth.
  takeBatch() {
    const items = [];
    let size = 0;
    while (this.queue.length) {
      const n = utf8Length(this.queue[0]) + 1;
      if (size + n > MAX_BODY - 200) break;
      size += n;
      items.push(this.queue.shift());
    }
    return items;
  }

  body(items) {
    // writeKey travels in the body: sendBeacon cannot set an Authorization header.
    return `{"batch":[${items.join(',')}],"sentAt":${JSON.stringify(new Date().toISOString())},` +
      `"writeKey":${JSON.stringify(this.writeKey())}}`;
  }

  // Sends what is queued; the promise settles when it has been answered (or put back).
  flush(useBeacon) {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    while (this.queue.length) {
      if (this.inflight && !useBeacon) { this.waiting = true; return this.inflight; }
      const items = this.takeBatch();
      if (!items.length) { this.queue.shift(); continue; }
      if (!useBeacon) { this.post(items); continue; }
      let ok;
      try { ok = navigator.sendBeacon(this.endpoint, new Blob([this.body(items)], { type: 'text/plain' })); } catch { ok = false; }
      if (!ok) { this.queue = items.concat(this.queue); this.keepForLater(); break; }
    }
    return this.inflight || Promise.resolve();
  }

  // One batch in flight at a time: Chromium fails keepalive fetches past 64 KiB of bodies in
  // flight, and what waits here still leaves by beacon if the page is hidden meanwhile.
  post(items) {
    if (!window.fetch) { this.warn('no fetch: events dropped'); return; }
    // text/plain keeps the request "simple": no CORS preflight, same as a beacon.
    this.inflight = window.fetch(this.endpoint, {
      method: 'POST', body: this.body(items), keepalive: true, credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' }
    }).then((r) => {
      if (r.status >= 500 || r.status === 408 || r.status === 429) throw new Error(`HTTP ${r.status}`);
      if (r.ok) this.retries = 0;
      else this.warn(`server refused a batch (HTTP ${r.status}); dropped`);
      // Read to the end: until then the request still counts against the keepalive quota.
      return r.json().then(this.safe((answer) => { if (r.ok) this.warnRejected(answer.rejected, items); }),
        () => { /* not JSON */ });
    }).then(this.safe(() => this.sent()), this.safe(() => {
      // Network error or overload: put the events back and retry with capped exponential backoff.
      this.inflight = null;
      this.queue = items.concat(this.queue);
      if (this.queue.length > this.maxQueue) this.queue.length = this.maxQueue;
      this.retries = Math.min(this.retries + 1, 6);
      this.schedule(Math.random() * 1000 * 2 ** this.retries);
    }));
  }

  // The batch in flight is answered: what waited behind it goes now.
  sent() {
    this.inflight = null;
    if (!this.waiting) return undefined;
    this.waiting = false;
    return this.flush();
  }

  // A 200 answer names the events it did not store (a beacon's answer cannot be read).
  warnRejected(rejected, items) {
    for (const r of rejected || []) {
      const message = JSON.parse(items[r.index]);
      this.warn(`server rejected ${message.event || message.type} (${r.field}: ${r.message})`);
    }
  }

  // What a beacon could not carry is kept, with what other tabs of this site kept, and sent when
  // the page is visible again or by the next page. Past MAX_SAVED characters or what a page
  // holds in memory, the oldest go.
  keepForLater() {
    const all = this.takeSaved().concat(this.queue);
    const kept = [];
    const seen = new Set();
    let size = 2;
    let dropped = 0;
    for (let i = all.length - 1; i >= 0; i--) {
      if (seen.has(all[i])) continue; // the same event from two tabs: serialised once, so the same string
      seen.add(all[i]);
      size += JSON.stringify(all[i]).length + 1;
      if (size > MAX_SAVED || kept.length === this.maxQueue) dropped++;
      else kept.push(all[i]);
    }
    if (dropped) this.warn(`no room to keep ${dropped} events for the next page; the oldest were dropped`);
    this.storage.save('queue', JSON.stringify(kept.reverse()));
    this.queue = [];
  }

  // The events kept by this or another tab, oldest first, taken out of storage.
  takeSaved() {
    const saved = this.storage.load('queue');
    if (!saved) return [];
    this.storage.save('queue', null);
    try {
      const items = JSON.parse(saved);
      if (Array.isArray(items)) return items.filter((s) => typeof s === 'string');
    } catch { /* corrupt: drop it */ }
    return [];
  }

  // Back from the background or a new page: what no beacon could carry goes now.
  restoreSaved() {
    this.queue = this.takeSaved().concat(this.queue);
    if (this.queue.length) this.schedule(0);
  }

  // Opted out: nothing queued or kept goes.
  clear() {
    this.storage.save('queue', null);
    this.queue = [];
  }
}
