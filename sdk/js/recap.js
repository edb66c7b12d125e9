/*! recap.js: Recap analytics for web pages. No dependencies. See docs/JS.md. */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var PREFIX = "recap:";
  // sendBeacon and keepalive fetch both refuse bodies over 64 KiB in flight; stay under it.
  var MAX_BODY = 60000;
  var MAX_EVENT = 32768; // the server's limit per event, in UTF-8 bytes of its JSON
  var MAX_QUEUE = 1000;
  // Characters of the saved queue, of the ~5 million a browser lets the whole site store.
  var MAX_SAVED = 1000000;
  var MAX_TEXT = 100;
  var CLICKABLE = "a,button,[data-recap-event],[role=button],input[type=submit],input[type=button]";
  var FIELDS = "textarea,select,[contenteditable],input:not([type=submit]):not([type=button])";
  // Subtrees whose text may be something the user typed: never read.
  var NO_TEXT = { INPUT: 1, TEXTAREA: 1, SELECT: 1, OPTION: 1, SCRIPT: 1, STYLE: 1, NOSCRIPT: 1 };

  if (window.Recap && typeof window.Recap.track === "function") return; // loaded twice: keep the first

  var script = document.currentScript;
  var config = null;
  var disabled = false;
  var queue = []; // JSON strings, one per event
  var timer = null;
  var retries = 0;
  var sending = false; // a batch is in flight
  var waiting = false; // ...and more were ready to go
  var memory = {};
  var store = pickStore();
  var view = null; // the current page view: {url, path, started, visibleSince}

  function warn(message) {
    try { if (window.console) window.console.warn("recap.js: " + message); } catch (e) { /* nothing */ }
  }

  // Every entry point goes through safe(): an analytics bug must never break the page.
  function safe(fn) {
    return function () {
      try { return fn.apply(null, arguments); } catch (e) { warn("internal error: " + e); }
    };
  }

  function pickStore() {
    // localStorage, else sessionStorage (private modes), else this page's memory. Never cookies.
    var names = ["localStorage", "sessionStorage"];
    for (var i = 0; i < names.length; i++) {
      try {
        var s = window[names[i]];
        s.setItem(PREFIX + "probe", "1");
        s.removeItem(PREFIX + "probe");
        return s;
      } catch (e) { /* blocked: try the next */ }
    }
    return null;
  }

  function load(key) {
    try { if (store) return store.getItem(PREFIX + key); } catch (e) { /* fall through */ }
    return memory.hasOwnProperty(key) ? memory[key] : null;
  }

  function save(key, value) {
    memory[key] = value;
    try {
      if (!store) return;
      if (value === null) store.removeItem(PREFIX + key);
      else store.setItem(PREFIX + key, value);
    } catch (e) { /* full or blocked: memory still holds it */ }
  }

  function uuid() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = "";
    for (var j = 0; j < 16; j++) h += (b[j] + 256).toString(16).slice(1) + (j === 3 || j === 5 || j === 7 || j === 9 ? "-" : "");
    return h;
  }

  function anonymousId() {
    var id = load("anonymousId");
    if (!id) { id = uuid(); save("anonymousId", id); setCookie(id); }
    return id;
  }

  // The id in a cookie too, for the site's own server (sdk.autocapture) to join its page views
  // to this visitor. A year; written, never read; null deletes it.
  function setCookie(id) {
    try {
      document.cookie = "recap_aid=" + (id || "") + "; path=/; SameSite=Lax; max-age=" + (id ? 31536000 : 0) +
        (location.protocol === "https:" ? "; Secure" : "");
    } catch (e) { /* a sandboxed frame has no cookies */ }
  }

  function doNotTrack() {
    var n = window.navigator || {};
    var v = n.doNotTrack || window.doNotTrack || n.msDoNotTrack;
    return v === "1" || v === "yes" || n.globalPrivacyControl === true;
  }

  function blocked() {
    return disabled || !config || load("optOut") === "1";
  }

  // The page's address without its fragment: fragments carry OAuth tokens and such.
  function pageUrl() {
    return location.href.split("#")[0];
  }

  // What does not change within a page load, built once: Intl.DateTimeFormat() alone costs
  // more than the rest of a track() call.
  var fixed = null;

  function context(referrer) {
    if (!fixed) {
      var zone;
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = undefined; }
      var s = window.screen || {};
      fixed = { userAgent: navigator.userAgent, library: { name: "recap.js", version: VERSION },
                timezone: zone, locale: navigator.language,
                screen: { width: s.width, height: s.height, density: window.devicePixelRatio } };
    }
    return {
      page: { path: location.pathname, url: pageUrl(), search: location.search,
              referrer: referrer === undefined ? document.referrer : referrer, title: document.title },
      userAgent: fixed.userAgent, library: fixed.library, timezone: fixed.timezone,
      locale: fixed.locale, screen: fixed.screen
    };
  }

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function enqueue(message, referrer) {
    if (blocked()) return;
    message.anonymousId = anonymousId();
    var userId = load("userId");
    if (userId) message.userId = userId;
    message.messageId = uuid();
    message.timestamp = new Date().toISOString();
    message.context = context(referrer);
    var json;
    try { json = JSON.stringify(message); } catch (e) { warn("event not JSON-serialisable: " + e); return; }
    var size = utf8Length(json);
    if (size > MAX_EVENT) { warn("event too large (" + size + " bytes; the limit is " + MAX_EVENT + "), dropped: " + (message.event || message.type)); return; }
    queue.push(json);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (queue.length >= config.flushAt) flush();
    else schedule(config.flushInterval);
  }

  function schedule(delay) {
    if (!timer) timer = setTimeout(safe(function () { timer = null; flush(); }), delay);
  }

  // The browser's 64 KiB limit counts UTF-8 bytes, not characters.
  function utf8Length(text) {
    var n = text.length;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c > 0x7f) n += c > 0x7ff && (c < 0xd800 || c > 0xdfff) ? 2 : 1; // surrogate pairs: 4 in all
    }
    return n;
  }

  // Take events off the queue up to one body's worth.
  function takeBatch() {
    var items = [];
    var size = 0;
    while (queue.length) {
      var n = utf8Length(queue[0]) + 1;
      if (size + n > MAX_BODY - 200) break;
      size += n;
      items.push(queue.shift());
    }
    return items;
  }

  function body(items) {
    // writeKey travels in the body: sendBeacon cannot set an Authorization header.
    return '{"batch":[' + items.join(",") + '],"sentAt":' + JSON.stringify(new Date().toISOString()) +
      ',"writeKey":' + JSON.stringify(config.writeKey) + "}";
  }

  function endpoint() {
    return config.host.replace(/\/+$/, "") + "/v1/batch";
  }

  function flush(useBeacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!config) return;
    while (queue.length) {
      if (sending && !useBeacon) { waiting = true; return; }
      var items = takeBatch();
      if (!items.length) { queue.shift(); continue; }
      if (useBeacon) {
        var ok = false;
        try { ok = navigator.sendBeacon(endpoint(), new Blob([body(items)], { type: "text/plain" })); } catch (e) { ok = false; }
        if (!ok) { queue = items.concat(queue); keepForNextPage(); return; }
      } else {
        post(items);
      }
    }
  }

  // One batch in flight at a time: Chromium fails keepalive fetches past 64 KiB of bodies in
  // flight, and what waits here still leaves by beacon if the page is hidden meanwhile.
  function post(items) {
    if (!window.fetch) { warn("no fetch: events dropped"); return; }
    sending = true;
    // text/plain keeps the request "simple": no CORS preflight, same as a beacon.
    window.fetch(endpoint(), { method: "POST", body: body(items), keepalive: true, credentials: "omit",
                               headers: { "Content-Type": "text/plain" } })
      .then(function (r) {
        if (r.status >= 500 || r.status === 408 || r.status === 429) throw new Error("HTTP " + r.status);
        if (r.ok) retries = 0;
        else warn("server refused a batch (HTTP " + r.status + "); dropped");
        // Read to the end: until then the request still counts against the keepalive quota.
        return r.json().then(safe(function (answer) { if (r.ok) warnRejected(answer.rejected, items); }),
                             function () { /* not JSON */ });
      })
      .then(safe(sent), safe(function () {
        // Network error or overload: put the events back and retry with capped exponential backoff.
        sending = false;
        queue = items.concat(queue);
        if (queue.length > MAX_QUEUE) queue.length = MAX_QUEUE;
        retries = Math.min(retries + 1, 6);
        schedule(Math.random() * 1000 * Math.pow(2, retries));
      }));
  }

  // The batch in flight is answered: what waited behind it goes now.
  function sent() {
    sending = false;
    if (waiting) { waiting = false; flush(); }
  }

  // A 200 answer names the events it did not store (a beacon's answer cannot be read).
  function warnRejected(rejected, items) {
    (rejected || []).forEach(function (r) {
      var message = JSON.parse(items[r.index]);
      warn("server rejected " + (message.event || message.type) + " (" + r.field + ": " + r.message + ")");
    });
  }

  // What a beacon could not carry is kept, with what other tabs of this site kept, and sent when
  // the page is visible again or by the next page. Past MAX_SAVED characters or what a page
  // holds in memory, the oldest go.
  function keepForNextPage() {
    var all = takeSaved().concat(queue);
    var kept = [];
    var seen = {};
    var size = 2;
    var dropped = 0;
    for (var i = all.length - 1; i >= 0; i--) {
      if (seen[all[i]]) continue; // the same event from two tabs: serialised once, so the same string
      seen[all[i]] = true;
      size += JSON.stringify(all[i]).length + 1;
      if (size > MAX_SAVED || kept.length === MAX_QUEUE) dropped++;
      else kept.push(all[i]);
    }
    if (dropped) warn("no room to keep " + dropped + " events for the next page; the oldest were dropped");
    save("queue", JSON.stringify(kept.reverse()));
    queue = [];
  }

  // The events kept by this or another tab, oldest first, taken out of storage.
  function takeSaved() {
    var saved = load("queue");
    if (!saved) return [];
    save("queue", null);
    try {
      var items = JSON.parse(saved);
      if (Array.isArray(items)) return items.filter(function (s) { return typeof s === "string"; });
    } catch (e) { /* corrupt: drop it */ }
    return [];
  }

  function restoreSaved() {
    queue = takeSaved().concat(queue);
  }

  // ---- page views and page leave -------------------------------------------------------------

  function startView(referrer, name, properties) {
    var props = isObject(properties) ? copy(properties) : {};
    props.path = location.pathname;
    props.url = pageUrl();
    props.search = location.search;
    props.referrer = referrer === undefined ? document.referrer : referrer;
    props.title = document.title;
    var message = { type: "page", properties: props };
    if (name) message.name = name;
    view = { url: pageUrl(), path: location.pathname, started: Date.now(),
             visibleSince: document.visibilityState === "hidden" ? null : Date.now() };
    enqueue(message, props.referrer);
  }

  // One page_left per stretch of visible time: a tab switched away and back yields two,
  // whose duration_ms add up to the time the page was actually seen.
  function leave(reason) {
    if (!view || view.visibleSince === null && reason !== "navigate") return;
    var duration = view.visibleSince === null ? 0 : Date.now() - view.visibleSince;
    view.visibleSince = null;
    enqueue({ type: "track", event: "page_left",
              properties: { path: view.path, url: view.url, duration_ms: duration,
                            time_since_view_ms: Date.now() - view.started, reason: reason } });
  }

  function onRouteChange() {
    if (!view || pageUrl() === view.url) return; // fragment or state-only change: same page
    var previous = view.url;
    if (config.capturePageLeave) leave("navigate");
    startView(previous);
  }

  function patchHistory() {
    var h = window.history;
    var changed = safe(onRouteChange);
    ["pushState", "replaceState"].forEach(function (method) {
      var original = h[method];
      if (typeof original !== "function") return;
      h[method] = function () {
        var result = original.apply(this, arguments);
        changed();
        return result;
      };
    });
    window.addEventListener("popstate", changed);
  }

  function onVisibility() {
    if (document.visibilityState === "hidden") {
      if (config.capturePageLeave) leave("hidden");
      flush(true);
    } else {
      if (view && view.visibleSince === null) view.visibleSince = Date.now();
      // Back from the background: what no beacon could carry goes now, not on the next page.
      restoreSaved();
      if (queue.length) schedule(0);
    }
  }

  function onPageHide() {
    if (config.capturePageLeave) leave("unload");
    flush(true);
  }

  // ---- clicks ---------------------------------------------------------------------------------

  // Visible text of an element, skipping form fields so nothing typed is ever read.
  function textOf(el) {
    var out = "";
    (function walk(node) {
      for (var n = node.firstChild; n && out.length <= MAX_TEXT; n = n.nextSibling) {
        if (n.nodeType === 3) out += n.nodeValue + " ";
        else if (n.nodeType === 1 && !NO_TEXT[n.nodeName] && !n.isContentEditable &&
                 !n.hasAttribute("data-recap-mask")) walk(n);
      }
    })(el);
    out = out.replace(/\s+/g, " ").trim();
    if (!out) out = el.getAttribute("aria-label") || el.getAttribute("title") || "";
    return out.length > MAX_TEXT ? out.slice(0, MAX_TEXT - 1) + "\u2026" : out;
  }

  function selectorOf(el) {
    var parts = [];
    for (var depth = 0; el && el.nodeType === 1 && depth < 4; depth++, el = el.parentElement) {
      if (parts.length && (el.nodeName === "BODY" || el.nodeName === "HTML")) break; // implied
      if (el.id && /^[A-Za-z][\w-]*$/.test(el.id)) { parts.unshift("#" + el.id); break; }
      var part = el.nodeName.toLowerCase();
      var classes = (typeof el.className === "string" ? el.className : "").trim().split(/\s+/)
        .filter(function (c) { return /^[A-Za-z_-][\w-]*$/.test(c); }).slice(0, 2);
      if (classes.length) part += "." + classes.join(".");
      var parent = el.parentElement;
      if (parent && part === el.nodeName.toLowerCase()) {
        var same = 0, index = 0;
        for (var s = parent.firstElementChild; s; s = s.nextElementSibling) {
          if (s.nodeName === el.nodeName) { same++; if (s === el) index = same; }
        }
        if (same > 1) part += ":nth-of-type(" + index + ")";
      }
      parts.unshift(part);
    }
    return parts.join(" > ");
  }

  function onClick(e) {
    var t = e.target;
    // Clicking into a form field is typing, not pressing the element around it.
    if (!t || !t.closest || t.closest(FIELDS)) return;
    var el = t.closest(CLICKABLE);
    if (!el || el.closest("[data-recap-ignore]")) return;
    var custom = el.getAttribute("data-recap-event");
    var props = { tag: el.nodeName.toLowerCase(), selector: selectorOf(el) };
    // Input buttons are labelled by their value; it is still an input's value, so it is not read.
    if (el.nodeName !== "INPUT") props.text = textOf(el);
    if (el.nodeName === "A" && el.getAttribute("href")) {
      // Only where the link goes, not its query or fragment (they can hold personal data).
      try { var u = new URL(el.href, location.href); props.href = u.origin + u.pathname; } catch (x) { /* odd href */ }
    }
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name.indexOf("data-recap-prop-") === 0) props[a.name.slice(16).replace(/-(\w)/g, upper)] = a.value;
    }
    enqueue({ type: "track", event: custom || "element_clicked", properties: props });
  }

  function upper(_, c) { return c.toUpperCase(); }

  function copy(o) {
    var out = {};
    for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) out[k] = o[k];
    return out;
  }

  // ---- public API -----------------------------------------------------------------------------

  function init(options) {
    if (config) { warn("init() called twice; the first configuration stays"); return; }
    options = options || {};
    if (typeof options.writeKey !== "string" || !options.writeKey) { warn("init() needs a writeKey"); return; }
    if (typeof options.host !== "string" || !/^https?:\/\//.test(options.host)) { warn("init() needs host, e.g. https://recap.example"); return; }
    config = {
      writeKey: options.writeKey,
      host: options.host,
      flushAt: options.flushAt > 0 ? options.flushAt : 20,
      flushInterval: options.flushInterval > 0 ? options.flushInterval : 5000,
      capturePageViews: options.capturePageViews !== false,
      captureClicks: options.captureClicks !== false,
      capturePageLeave: options.capturePageLeave !== false
    };
    disabled = options.respectDoNotTrack !== false && doNotTrack();
    // Renewed on each page load; taken away under DNT and opt-out.
    setCookie(blocked() ? null : anonymousId());
    if (disabled) return;
    restoreSaved();
    document.addEventListener("visibilitychange", safe(onVisibility));
    window.addEventListener("pagehide", safe(onPageHide));
    if (config.captureClicks) document.addEventListener("click", safe(onClick), true);
    if (config.capturePageViews) { patchHistory(); startView(); }
    if (queue.length) schedule(0);
  }

  function track(event, properties) {
    if (typeof event !== "string" || !event) { warn("track() needs an event name"); return; }
    if (properties !== undefined && !isObject(properties)) { warn("track() properties must be an object"); return; }
    enqueue({ type: "track", event: event, properties: properties || {} });
  }

  function page(name, properties) {
    if (isObject(name) && properties === undefined) { properties = name; name = undefined; }
    if (name !== undefined && typeof name !== "string") { warn("page() name must be a string"); return; }
    if (properties !== undefined && !isObject(properties)) { warn("page() properties must be an object"); return; }
    if (blocked()) return;
    var referrer = view ? view.url : undefined;
    if (view && config.capturePageLeave) leave("navigate");
    startView(referrer, name, properties);
  }

  function identify(userId, traits) {
    if (typeof userId === "number") userId = String(userId);
    if (typeof userId !== "string" || !userId) { warn("identify() needs a userId"); return; }
    if (traits !== undefined && !isObject(traits)) { warn("identify() traits must be an object"); return; }
    if (blocked()) return;
    save("userId", userId);
    // anonymousId rides along, so the server joins this browser's earlier events to the user.
    enqueue({ type: "identify", traits: traits || {} });
  }

  function reset() {
    save("userId", null);
    save("anonymousId", null);
    setCookie(blocked() ? null : anonymousId());
  }

  function optOut() {
    save("optOut", "1");
    save("queue", null);
    queue = [];
    setCookie(null);
  }

  function optIn() {
    save("optOut", null);
    if (!blocked()) setCookie(anonymousId());
  }

  var methods = {
    version: VERSION,
    init: safe(init),
    track: safe(track),
    page: safe(page),
    identify: safe(identify),
    reset: safe(reset),
    optOut: safe(optOut),
    optIn: safe(optIn),
    flush: safe(function () { flush(false); }),
    anonymousId: safe(function () { return blocked() ? null : anonymousId(); }),
    userId: safe(function () { return load("userId"); })
  };
  safe(function () {
    var key = script && script.getAttribute("data-write-key");
    if (key) {
      var host = script.getAttribute("data-host") || new URL(script.src).origin;
      init({ writeKey: key, host: host, capturePageViews: script.getAttribute("data-page-views") !== "false",
             captureClicks: script.getAttribute("data-clicks") !== "false" });
    }
  })();
  // After the snippet's init(), so queued calls find recap.js started.
  extendRecap(methods);

  // window.Recap is one object that recap.js and player.js extend, loaded in any order. Calls
  // queued with Recap.push([method, ...args]) (or in an array before either loads) run once a
  // file with that method is in; one that throws is reported and the rest still run.
  // Identical in both files (a test compares them).
  function extendRecap(methods) {
    var R = window.Recap;
    var calls = Array.isArray(R) ? R : R && R._queued || [];
    if (!R || Array.isArray(R)) R = window.Recap = {};
    for (var m in methods) R[m] = methods[m];
    R._queued = [];
    R.push = function () {
      for (var i = 0; i < arguments.length; i++) {
        var call = arguments[i];
        if (!Array.isArray(call)) continue;
        if (!(R[call[0]] instanceof Function)) R._queued.push(call);
        else try { R[call[0]].apply(R, call.slice(1)); } catch (e) { setTimeout(function () { throw e; }); }
      }
    };
    R.push.apply(R, calls);
  }
})(window, document);
