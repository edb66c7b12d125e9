// recap.js: Recap analytics for web pages. No dependencies. See docs/JS.md.
// Built into sdk/js/recap.js by js/build.mjs.
import { BatchQueue } from '../shared/batch_queue.js';
import { uuid, timezone } from '../shared/ids.js';
import { createStorage } from '../shared/storage.js';
import { extendRecap } from '../shared/recap_global.js';
import { clickEvent } from './clicks.js';

const VERSION = '1.0.0';
const MAX_QUEUE = 1000;

function warn(message) {
  try { if (window.console) window.console.warn(`recap.js: ${message}`); } catch { /* nothing */ }
}

// Every entry point goes through safe(): an analytics bug must never break the page.
function safe(fn) {
  return (...args) => {
    try { return fn(...args); } catch (e) { warn(`internal error: ${e}`); return undefined; }
  };
}

function start() {
  const script = document.currentScript;
  const storage = createStorage('recap:');
  const { load, save } = storage;
  let config = null;
  let disabled = false;
  let batches = null;
  let view = null; // the current page view: {url, path, started, visibleSince}

  function anonymousId() {
    let id = load('anonymousId');
    if (!id) { id = uuid(); save('anonymousId', id); setCookie(id); }
    return id;
  }

  // The id in a cookie too, for the site's own server (sdk.autocapture) to join its page views
  // to this visitor. A year; written, never read; null deletes it.
  function setCookie(id) {
    try {
      document.cookie = `recap_aid=${id || ''}; path=/; SameSite=Lax; max-age=${id ? 31536000 : 0}${
        location.protocol === 'https:' ? '; Secure' : ''}`;
    } catch { /* a sandboxed frame has no cookies */ }
  }

  function doNotTrack() {
    const n = window.navigator || {};
    const v = n.doNotTrack || window.doNotTrack || n.msDoNotTrack;
    return v === '1' || v === 'yes' || n.globalPrivacyControl === true;
  }

  function blocked() {
    return disabled || !config || load('optOut') === '1';
  }

  // The page's address without its fragment: fragments carry OAuth tokens and such.
  function pageUrl() {
    return location.href.split('#')[0];
  }

  // What does not change within a page load, built once.
  let fixed = null;

  function context(referrer) {
    if (!fixed) {
      const s = window.screen || {};
      fixed = { userAgent: navigator.userAgent, library: { name: 'recap.js', version: VERSION },
        timezone: timezone(), locale: navigator.language,
        screen: { width: s.width, height: s.height, density: window.devicePixelRatio } };
    }
    return {
      page: { path: location.pathname, url: pageUrl(), search: location.search,
        referrer: referrer === undefined ? document.referrer : referrer, title: document.title },
      userAgent: fixed.userAgent, library: fixed.library, timezone: fixed.timezone,
      locale: fixed.locale, screen: fixed.screen
    };
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  function enqueue(message, referrer) {
    if (blocked()) return;
    message.anonymousId = anonymousId();
    const userId = load('userId');
    if (userId) message.userId = userId;
    message.messageId = uuid();
    message.timestamp = new Date().toISOString();
    message.context = context(referrer);
    batches.push(message);
  }

  function flush(useBeacon) {
    if (batches) batches.flush(useBeacon);
  }

  // ---- page views and page leave -------------------------------------------------------------

  function startView(referrer, name, properties) {
    const props = isObject(properties) ? { ...properties } : {};
    props.path = location.pathname;
    props.url = pageUrl();
    props.search = location.search;
    props.referrer = referrer === undefined ? document.referrer : referrer;
    props.title = document.title;
    const message = { type: 'page', properties: props };
    if (name) message.name = name;
    view = { url: pageUrl(), path: location.pathname, started: Date.now(),
      visibleSince: document.visibilityState === 'hidden' ? null : Date.now() };
    enqueue(message, props.referrer);
  }

  // One page_left per stretch of visible time: a tab switched away and back yields two,
  // whose duration_ms add up to the time the page was actually seen.
  function leave(reason) {
    if (!view || (view.visibleSince === null && reason !== 'navigate')) return;
    const duration = view.visibleSince === null ? 0 : Date.now() - view.visibleSince;
    view.visibleSince = null;
    enqueue({ type: 'track', event: 'page_left',
      properties: { path: view.path, url: view.url, duration_ms: duration,
        time_since_view_ms: Date.now() - view.started, reason } });
  }

  function onRouteChange() {
    if (!view || pageUrl() === view.url) return; // fragment or state-only change: same page
    const previous = view.url;
    if (config.capturePageLeave) leave('navigate');
    startView(previous);
  }

  function patchHistory() {
    const h = window.history;
    const changed = safe(onRouteChange);
    for (const method of ['pushState', 'replaceState']) {
      const original = h[method];
      if (typeof original !== 'function') continue;
      h[method] = function (...args) {
        const result = original.apply(this, args);
        changed();
        return result;
      };
    }
    window.addEventListener('popstate', changed);
  }

  function onVisibility() {
    if (document.visibilityState === 'hidden') {
      if (config.capturePageLeave) leave('hidden');
      flush(true);
    } else {
      if (view && view.visibleSince === null) view.visibleSince = Date.now();
      // Back from the background: what no beacon could carry goes now, not on the next page.
      batches.restoreSaved();
    }
  }

  function onPageHide() {
    if (config.capturePageLeave) leave('unload');
    flush(true);
  }

  // ---- public API -----------------------------------------------------------------------------

  function init(options = {}) {
    if (config) { warn('init() called twice; the first configuration stays'); return; }
    if (typeof options.writeKey !== 'string' || !options.writeKey) { warn('init() needs a writeKey'); return; }
    if (typeof options.host !== 'string' || !/^https?:\/\//.test(options.host)) { warn('init() needs host, e.g. https://recap.example'); return; }
    config = {
      writeKey: options.writeKey,
      host: options.host,
      flushAt: options.flushAt > 0 ? options.flushAt : 20,
      flushInterval: options.flushInterval > 0 ? options.flushInterval : 5000,
      capturePageViews: options.capturePageViews !== false,
      captureClicks: options.captureClicks !== false,
      capturePageLeave: options.capturePageLeave !== false
    };
    batches = new BatchQueue({
      endpoint: `${config.host.replace(/\/+$/, '')}/v1/batch`, writeKey: () => config.writeKey,
      storage, warn, safe, maxQueue: MAX_QUEUE, flushAt: config.flushAt, flushInterval: config.flushInterval
    });
    disabled = options.respectDoNotTrack !== false && doNotTrack();
    // Renewed on each page load; taken away under DNT and opt-out.
    setCookie(blocked() ? null : anonymousId());
    if (disabled) return;
    batches.restoreSaved();
    document.addEventListener('visibilitychange', safe(onVisibility));
    window.addEventListener('pagehide', safe(onPageHide));
    if (config.captureClicks) document.addEventListener('click', safe((e) => { const m = clickEvent(e); if (m) enqueue(m); }), true);
    if (config.capturePageViews) { patchHistory(); startView(); }
  }

  function track(event, properties) {
    if (typeof event !== 'string' || !event) { warn('track() needs an event name'); return; }
    if (properties !== undefined && !isObject(properties)) { warn('track() properties must be an object'); return; }
    enqueue({ type: 'track', event, properties: properties || {} });
  }

  function page(name, properties) {
    if (isObject(name) && properties === undefined) { properties = name; name = undefined; }
    if (name !== undefined && typeof name !== 'string') { warn('page() name must be a string'); return; }
    if (properties !== undefined && !isObject(properties)) { warn('page() properties must be an object'); return; }
    if (blocked()) return;
    const referrer = view ? view.url : undefined;
    if (view && config.capturePageLeave) leave('navigate');
    startView(referrer, name, properties);
  }

  function identify(userId, traits) {
    if (typeof userId === 'number') userId = String(userId);
    if (typeof userId !== 'string' || !userId) { warn('identify() needs a userId'); return; }
    if (traits !== undefined && !isObject(traits)) { warn('identify() traits must be an object'); return; }
    if (blocked()) return;
    save('userId', userId);
    // anonymousId rides along, so the server joins this browser's earlier events to the user.
    enqueue({ type: 'identify', traits: traits || {} });
  }

  function reset() {
    save('userId', null);
    save('anonymousId', null);
    setCookie(blocked() ? null : anonymousId());
  }

  function optOut() {
    save('optOut', '1');
    save('queue', null);
    if (batches) batches.clear();
    setCookie(null);
  }

  function optIn() {
    save('optOut', null);
    if (!blocked()) setCookie(anonymousId());
  }

  const methods = {
    version: VERSION,
    init: safe(init),
    track: safe(track),
    page: safe(page),
    identify: safe(identify),
    reset: safe(reset),
    optOut: safe(optOut),
    optIn: safe(optIn),
    flush: safe(() => { flush(false); }),
    anonymousId: safe(() => (blocked() ? null : anonymousId())),
    userId: safe(() => load('userId'))
  };
  safe(() => {
    const key = script && script.getAttribute('data-write-key');
    if (key) {
      const host = script.getAttribute('data-host') || new URL(script.src).origin;
      init({ writeKey: key, host, capturePageViews: script.getAttribute('data-page-views') !== 'false',
        captureClicks: script.getAttribute('data-clicks') !== 'false' });
    }
  })();
  // After the snippet's init(), so queued calls find recap.js started.
  extendRecap(methods);
}

if (!(window.Recap && typeof window.Recap.track === 'function')) start(); // loaded twice: keep the first
