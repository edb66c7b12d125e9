/*
 * Recap story player. Plain JavaScript, no dependencies, no build step.
 *
 *   Recap.story(element, {token, template, host, onClose, ...})   a user's story from the server
 *   Recap.story(element, {story: {...}})                           preview a story object
 *
 * Every string from a story is inserted with textContent (or as an SVG text node), never as HTML.
 */
(function () {
  'use strict';

  var VERSION = '1.0';
  var SCRIPT_ORIGIN = document.currentScript && document.currentScript.src
    ? new URL(document.currentScript.src).origin : '';
  var HOLD_MS = 220;          // a press longer than this pauses instead of navigating
  var SWIPE_PX = 40;
  var DEFAULT_DURATION = 6000;
  var FLUSH_MS = 2000;
  var MAX_QUEUE = 200;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  // Used when a frame names no background: one vivid gradient per position, Wrapped style.
  var PALETTE = [['#5b2cff', '#ff3d8b'], ['#0f5132', '#1ed760'], ['#ff6b2c', '#ffd23f'],
    ['#0b1e5b', '#2ec5ff'], ['#7a0bc0', '#fa58b6'], ['#1a1a1a', '#5c5c5c']];

  // --- small helpers -------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      // Custom properties through the CSSOM: a style attribute would be refused by the embed CSP.
      if (k === 'order') node.style.setProperty('--i', attrs[k]);
      else node.setAttribute(k, String(attrs[k]));
    });
    return node;
  }

  function color(value) {
    return typeof value === 'string' && /^#[0-9a-f]{3,8}$/i.test(value) ? value : null;
  }

  // Media may come from the server, a CDN or be inline; never from javascript: and the like.
  function mediaUrl(value, base) {
    if (typeof value !== 'string' || !value) return null;
    try {
      var url = new URL(value, base || location.href);
      return /^(https?|blob|data):$/.test(url.protocol) ? url.href : null;
    } catch (e) { return null; }
  }

  function linkUrl(value, scheme) {
    if (typeof value !== 'string') return null;
    try {
      var url = new URL(value);
      var ok = url.protocol === 'https:' || url.protocol === 'http:' ||
        (scheme && url.protocol === String(scheme).toLowerCase() + ':');
      return ok ? url.href : null;
    } catch (e) { return null; }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === 'x' ? r : (r & 3) | 8).toString(16);
    });
  }

  function reducedMotion() {
    return !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
  }

  function ensureStylesheet(host) {
    if (document.querySelector('link[data-recap-player]')) return;
    var link = el('link');
    link.rel = 'stylesheet';
    link.href = host + '/widget/player.css';
    link.setAttribute('data-recap-player', '');
    document.head.appendChild(link);
  }

  // --- host bridge ---------------------------------------------------------------------------
  // WebViews have no navigator.share and cannot open other apps by themselves, so close,
  // deep links and sharing are handed to the host: iOS WKScriptMessageHandler "recap", an
  // Android @JavascriptInterface "RecapAndroid", and postMessage to a parent frame.

  function bridge() {
    var ios = window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.recap;
    var android = window.RecapAndroid && typeof window.RecapAndroid.postMessage === 'function'
      ? window.RecapAndroid : null;
    var framed = window.parent && window.parent !== window;
    return {
      native: !!(ios || android),
      hasHost: !!(ios || android || framed),
      send: function (type, data) {
        var message = Object.assign({ source: 'recap', type: type }, data || {});
        if (ios) ios.postMessage(message);
        if (android) android.postMessage(JSON.stringify(message));
        if (framed) window.parent.postMessage(message, '*');
        return !!(ios || android || framed);
      }
    };
  }

  // --- engagement analytics ------------------------------------------------------------------

  function Tracker(options) {
    this.endpoint = options.host + '/v1/batch';
    this.token = options.token;
    this.template = options.template;
    this.enabled = !!options.token && options.analytics !== false;
    this.listener = options.onAnalytics;
    this.queue = [];
    this.timer = null;
  }

  Tracker.prototype.track = function (event, properties) {
    var message = {
      type: 'track', event: event, messageId: uuid(), timestamp: new Date().toISOString(),
      properties: Object.assign({ template: this.template }, properties || {}),
      context: {
        library: { name: 'recap-player', version: VERSION },
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone
      }
    };
    if (this.listener) this.listener(message);
    if (!this.enabled) return;
    this.queue.push(message);
    if (this.queue.length > MAX_QUEUE) this.queue.shift();
    if (!this.timer) this.timer = setTimeout(this.flush.bind(this), FLUSH_MS);
  };

  Tracker.prototype.flush = function () {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.queue.length) return Promise.resolve();
    var batch = this.queue.splice(0);
    var self = this;
    return fetch(this.endpoint, {
      method: 'POST', keepalive: true,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + this.token },
      body: JSON.stringify({ batch: batch, sentAt: new Date().toISOString() })
    }).then(function (res) {
      // Retry later on overload and server errors; a refused token will not get better.
      if (res.status === 429 || res.status >= 500) self.requeue(batch);
    }, function () { self.requeue(batch); });
  };

  Tracker.prototype.requeue = function (batch) {
    this.queue = batch.concat(this.queue).slice(-MAX_QUEUE);
    if (!this.timer) this.timer = setTimeout(this.flush.bind(this), FLUSH_MS * 3);
  };

  // On page hide only sendBeacon is sure to leave, and it cannot set headers: the viewer
  // token travels as the body's writeKey (text/plain, so no CORS preflight is needed).
  Tracker.prototype.beacon = function () {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.queue.length) return;
    var batch = this.queue.splice(0);
    var body = JSON.stringify({ batch: batch, sentAt: new Date().toISOString(), writeKey: this.token });
    var sent = navigator.sendBeacon &&
      navigator.sendBeacon(this.endpoint, new Blob([body], { type: 'text/plain' }));
    if (!sent) {
      fetch(this.endpoint, { method: 'POST', keepalive: true, body: body,
        headers: { 'Content-Type': 'text/plain' } }).catch(function () {});
    }
  };

  // --- frame rendering -----------------------------------------------------------------------

  function renderChart(chart) {
    var labels = Array.isArray(chart.labels) ? chart.labels.map(String) : [];
    var values = (Array.isArray(chart.values) ? chart.values : []).map(function (v) { return Number(v) || 0; });
    var n = Math.min(labels.length || values.length, values.length);
    var max = Math.max.apply(null, values.slice(0, n).concat([1]));
    var summary = labels.slice(0, n).map(function (l, i) { return l + ': ' + values[i]; }).join(', ');
    var root = svg('svg', { viewBox: '0 0 320 220', role: 'img', class: 'recap-chart recap-chart-' + chart.type,
      'aria-label': (chart.caption ? chart.caption + '. ' : '') + summary });
    var hi = chart.highlight;
    if (chart.type === 'radial') {
      // A clock face: one spoke per bucket (hours, usually), longest where the viewer was busiest.
      root.setAttribute('viewBox', '0 0 260 260');
      var cx = 130, cy = 130, inner = 42, outer = 112;
      root.appendChild(svg('circle', { cx: cx, cy: cy, r: inner - 8, class: 'recap-ring' }));
      for (var r = 0; r < n; r++) {
        var angle = (r / n) * Math.PI * 2 - Math.PI / 2;
        if (values[r] > 0) {
          var len = inner + (outer - inner) * (values[r] / max);
          root.appendChild(svg('line', {
            x1: cx + Math.cos(angle) * inner, y1: cy + Math.sin(angle) * inner,
            x2: cx + Math.cos(angle) * len, y2: cy + Math.sin(angle) * len,
            class: 'recap-bar' + (r === hi ? ' is-highlight' : ''), order: r,
            'stroke-width': Math.max(3, Math.min(12, 250 / n)), 'stroke-linecap': 'round'
          }));
        }
        if (n >= 4 && r % (n / 4) === 0) {
          var tick = svg('text', { x: cx + Math.cos(angle) * (inner - 20), y: cy + Math.sin(angle) * (inner - 20) + 4,
            'text-anchor': 'middle', class: 'recap-chart-label' });
          tick.textContent = labels[r];
          root.appendChild(tick);
        }
      }
      return root;
    }
    var left = 8, bottom = 190, width = 304, height = 170, step = width / Math.max(n, 1);
    var every = Math.ceil(n / 8);  // keep labels legible on a phone
    if (chart.type === 'line') {
      var points = values.slice(0, n).map(function (v, i) {
        return [left + step * (i + 0.5), bottom - height * (v / max)];
      });
      var line = points.map(function (p, i) { return (i ? 'L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1); }).join(' ');
      if (points.length) {
        var last = points[points.length - 1];
        root.appendChild(svg('path', { d: line + ' L' + last[0].toFixed(1) + ' ' + bottom + ' L' + points[0][0].toFixed(1) + ' ' + bottom + ' Z', class: 'recap-area' }));
        root.appendChild(svg('path', { d: line, class: 'recap-line', pathLength: 1 }));
      }
      points.forEach(function (p, i) {
        root.appendChild(svg('circle', { cx: p[0], cy: p[1], r: i === hi ? 7 : 3.5, class: 'recap-dot' + (i === hi ? ' is-highlight' : '') }));
      });
    } else {
      for (var b = 0; b < n; b++) {
        var h = Math.max(2, height * (values[b] / max));
        root.appendChild(svg('rect', {
          x: left + step * b + step * 0.15, y: bottom - h, width: step * 0.7, height: h, rx: Math.min(6, step * 0.2),
          class: 'recap-bar' + (b === hi ? ' is-highlight' : ''), order: b
        }));
      }
    }
    for (var t = 0; t < n; t++) {
      // Every few labels, and always the highlighted one, with room kept around it.
      if (t !== hi && (t % every || (hi !== null && hi !== undefined && Math.abs(t - hi) < every))) continue;
      var label = svg('text', { x: left + step * (t + 0.5), y: 212, 'text-anchor': 'middle',
        class: 'recap-chart-label' + (t === hi ? ' is-highlight' : '') });
      label.textContent = labels[t];
      root.appendChild(label);
    }
    return root;
  }

  function countUp(node, stat) {
    var target = Number(stat.raw);
    var text = String(stat.value);
    if (!isFinite(target) || target <= 0 || reducedMotion() || !/^[\d.,\s]+$/.test(text)) return;
    var format = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
    var start = performance.now(), span = 1200;
    (function step(now) {
      var t = Math.min(1, (now - start) / span);
      if (!node.isConnected) return;
      node.textContent = t < 1 ? format.format(Math.round(target * (1 - Math.pow(1 - t, 3)))) : text;
      if (t < 1) requestAnimationFrame(step);
    })(start);
  }

  // --- the player ----------------------------------------------------------------------------

  function Player(element, options) {
    this.element = element;
    this.options = Object.assign({ host: SCRIPT_ORIGIN }, options || {});
    this.options.host = String(this.options.host || '').replace(/\/$/, '');
    this.bridge = bridge();
    this.paused = {};           // reasons: hold, key, hidden, overlay, api, ended
    this.index = -1;
    this.dwelt = 0;             // visible ms on the current frame, until shownAt (null while hidden)
    this.preloaded = {};
    this.raf = null;
    this.done = false;
    if (this.options.css !== false) ensureStylesheet(this.options.host);
    this.onVisibility = this.onVisibility.bind(this);
    this.onPageHide = this.onPageHide.bind(this);
    this.onPageShow = this.onPageShow.bind(this);
    this.tick = this.tick.bind(this);
    this.load();
  }

  Player.prototype.load = function () {
    var self = this;
    this.element.replaceChildren();
    this.element.classList.add('recap-root');
    var loading = el('div', 'recap-message recap-loading');
    loading.setAttribute('role', 'status');
    loading.appendChild(el('div', 'recap-spinner'));
    loading.appendChild(el('p', '', 'Loading your story…'));
    this.element.appendChild(loading);
    var story = this.options.story ? Promise.resolve(this.options.story) : this.fetchStory();
    // destroy() may come first: a story that arrives after it must not bring the player back.
    story.then(function (s) { if (!self.destroyed) self.start(s); },
      function (err) { if (!self.destroyed) self.showError(err); });
  };

  Player.prototype.fetchStory = function () {
    var o = this.options;
    var url = o.host + '/v1/stories/' + encodeURIComponent(o.template || '');
    return fetch(url, { headers: { Accept: 'application/json', Authorization: 'Bearer ' + (o.token || '') } })
      .catch(function () { throw { kind: 'network' }; })
      .then(function (res) {
        if (res.ok) return res.json();
        return res.json().catch(function () { return {}; }).then(function (body) {
          var code = body && body.error && body.error.code;
          var reasons = (body && body.error && body.error.details && body.error.details.token) || [];
          var kind = res.status !== 401 ? (code === 'not_eligible' ? 'not_eligible' : 'server')
            : reasons.indexOf('expired') >= 0 ? 'expired' : 'invalid';
          throw { kind: kind, status: res.status, message: body && body.error && body.error.message };
        });
      });
  };

  var ERRORS = {
    expired: ['This story link has expired', 'Links to stories last a short while. Try again, or close and reopen your story.'],
    invalid: ['This story link doesn’t work', 'Close and reopen your story from the app to get a fresh link.'],
    not_eligible: ['Your story isn’t ready yet', 'Keep going and check back soon.'],
    network: ['Can’t reach Recap', 'Check your connection and try again.'],
    server: ['Something went wrong', 'We couldn’t load your story. Please try again.']
  };

  Player.prototype.showError = function (err) {
    var self = this;
    var kind = (err && ERRORS[err.kind]) ? err.kind : 'server';
    if ((kind === 'expired' || kind === 'invalid') && this.options.onTokenExpired) this.options.onTokenExpired();
    var box = el('div', 'recap-message recap-error');
    box.setAttribute('role', 'alert');
    box.setAttribute('data-error', kind);
    box.appendChild(el('h2', '', ERRORS[kind][0]));
    // The template says what a viewer needs to do to be eligible; trying again will not change it.
    var ineligible = kind === 'not_eligible';
    box.appendChild(el('p', '', ineligible && typeof err.message === 'string' && err.message ? err.message : ERRORS[kind][1]));
    if (!ineligible) {
      var retry = el('button', 'recap-btn recap-btn-primary', 'Try again');
      retry.type = 'button';
      retry.addEventListener('click', function () { self.retry(); });
      box.appendChild(retry);
    }
    if (this.options.onClose) {
      var close = el('button', 'recap-btn', 'Close');
      close.type = 'button';
      close.addEventListener('click', function () { self.options.onClose({ progress: 0 }); });
      box.appendChild(close);
    }
    this.element.replaceChildren(box);
    var first = box.querySelector('button');
    if (first) first.focus();
  };

  Player.prototype.retry = function () {
    var self = this;
    var refresh = this.options.refreshToken ? Promise.resolve(this.options.refreshToken()) : Promise.resolve(null);
    refresh.then(function (token) { if (token) self.setToken(token); }, function () {})
      .then(function () { if (!self.destroyed) self.load(); });
  };

  Player.prototype.setToken = function (token) {
    this.options.token = token;
    if (this.tracker) { this.tracker.token = token; this.tracker.enabled = this.options.analytics !== false; }
  };

  Player.prototype.start = function (story) {
    var self = this;
    this.story = story;
    this.frames = (story.frames || []).filter(function (f) { return f && typeof f === 'object'; });
    this.tracker = new Tracker(Object.assign({}, this.options, { template: story.template || this.options.template }));
    var theme = story.theme || {};
    var root = el('div', 'recap-player');
    root.tabIndex = 0;
    root.setAttribute('role', 'region');
    root.setAttribute('aria-roledescription', 'story');
    root.setAttribute('aria-label', story.title || 'Story');
    [['--recap-bg', theme.background], ['--recap-fg', theme.foreground], ['--recap-accent', theme.accent]]
      .forEach(function (p) { if (color(p[1])) root.style.setProperty(p[0], color(p[1])); });

    var progress = el('div', 'recap-progress');
    progress.setAttribute('aria-hidden', 'true');
    this.fills = this.frames.map(function () {
      var seg = el('div', 'recap-seg');
      var fill = el('div', 'recap-seg-fill');
      seg.appendChild(fill);
      progress.appendChild(seg);
      return fill;
    });

    var top = el('div', 'recap-top');
    top.appendChild(el('span', 'recap-brand', (story.app && story.app.name) || story.title || ''));
    this.pauseButton = this.iconButton('recap-pause', 'Pause story', function () {
      self.isPaused('key') ? self.resume('key') : self.pause('key', true);
    });
    this.muteButton = this.iconButton('recap-mute', 'Turn sound on', function () { self.toggleMute(); });
    this.muteButton.hidden = true;
    var close = this.iconButton('recap-close', 'Close story', function () { self.close('button'); });
    top.appendChild(this.pauseButton);
    top.appendChild(this.muteButton);
    top.appendChild(close);

    this.stage = el('div', 'recap-stage');
    var prev = this.iconButton('recap-nav recap-prev', 'Previous frame', function (e) { if (!e.detail) self.back(); });
    var next = this.iconButton('recap-nav recap-next', 'Next frame', function (e) { if (!e.detail) self.forward('manual'); });
    this.live = el('div', 'recap-live');
    this.live.setAttribute('aria-live', 'polite');
    this.overlay = el('div', 'recap-overlay');
    this.overlay.hidden = true;

    [progress, this.stage, prev, next, top, this.live, this.overlay].forEach(function (n) { root.appendChild(n); });
    this.root = root;
    this.element.replaceChildren(root);

    root.addEventListener('pointerdown', this.onPointerDown.bind(this));
    root.addEventListener('pointermove', this.onPointerMove.bind(this));
    root.addEventListener('pointerup', this.onPointerUp.bind(this));
    root.addEventListener('pointercancel', this.endPress.bind(this));
    root.addEventListener('lostpointercapture', this.endPress.bind(this));
    root.addEventListener('contextmenu', function (e) { if (self.press) e.preventDefault(); });
    root.addEventListener('keydown', this.onKey.bind(this));
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('pagehide', this.onPageHide);
    window.addEventListener('pageshow', this.onPageShow);

    if (!this.frames.length) { this.showError({ kind: 'server' }); return; }
    this.tracker.track('story_viewed', { frames: this.frames.length });
    if (this.options.autofocus !== false) root.focus({ preventScroll: true });
    if (document.hidden) this.paused.hidden = true;
    this.go(0, 'manual');
  };

  Player.prototype.iconButton = function (className, label, onClick) {
    var button = el('button', 'recap-icon ' + className);
    button.type = 'button';
    button.setAttribute('aria-label', label);
    button.addEventListener('click', onClick);
    return button;
  };

  Player.prototype.frameBackground = function (frame, index) {
    var bg = frame.background || {};
    var layer = el('div', 'recap-bg');
    var pair = Array.isArray(bg.gradient) ? bg.gradient.map(color).filter(Boolean) : [];
    if (pair.length >= 2) {
      layer.style.background = 'linear-gradient(160deg, ' + pair.join(', ') + ')';
    } else if (color(bg.color)) {
      // A flat colour gets depth from a shade towards the bottom, the Wrapped look.
      layer.style.backgroundColor = color(bg.color);
      layer.style.backgroundImage = 'linear-gradient(165deg, rgba(255,255,255,.10), rgba(0,0,0,.38))';
    } else {
      var p = PALETTE[index % PALETTE.length];
      layer.style.background = 'linear-gradient(160deg, ' + p[0] + ', ' + p[1] + ')';
    }
    var image = mediaUrl(bg.image, this.options.host || location.href);
    if (image) {
      var img = el('img', 'recap-bg-img');
      img.alt = '';
      img.src = image;
      layer.appendChild(img);
    }
    layer.appendChild(el('div', 'recap-shape recap-shape-' + (index % 3)));
    layer.appendChild(el('div', 'recap-blob recap-blob-a'));
    layer.appendChild(el('div', 'recap-blob recap-blob-b'));
    return layer;
  };

  Player.prototype.renderFrame = function (frame, index) {
    var self = this;
    var kind = String(frame.kind || 'text');
    var node = el('section', 'recap-frame recap-kind-' + kind.replace(/[^a-z]/g, ''));
    node.setAttribute('aria-label', (index + 1) + ' of ' + this.frames.length + (frame.title ? ': ' + frame.title : ''));
    node.setAttribute('data-frame-id', String(frame.id || index));
    node.appendChild(this.frameBackground(frame, index));
    var content = el('div', 'recap-content');
    var order = 0;
    function add(child) { child.style.setProperty('--i', order++); content.appendChild(child); return child; }

    if (index === 0 && this.story.period && this.story.period.label) add(el('p', 'recap-eyebrow', this.story.period.label));
    if (kind !== 'card' && frame.title) add(el('h2', 'recap-title', frame.title));
    if (kind !== 'card' && frame.subtitle) add(el('p', 'recap-subtitle', frame.subtitle));

    if (frame.stat && typeof frame.stat === 'object') {
      var stat = add(el('div', 'recap-stat'));
      var value = el('span', 'recap-stat-value', frame.stat.value);
      var length = String(frame.stat.value || '').length;
      // Numbers stay huge; a phrase ("The Night Owl") steps down so it still fits the frame.
      if (length > 12) value.classList.add('is-long');
      else if (length > 7) value.classList.add('is-medium');
      stat.appendChild(value);
      if (frame.stat.unit) stat.appendChild(el('span', 'recap-stat-unit', frame.stat.unit));
      if (frame.stat.caption) stat.appendChild(el('span', 'recap-stat-caption', frame.stat.caption));
      countUp(value, frame.stat);
    }
    if (Array.isArray(frame.items) && frame.items.length) {
      var list = add(el('ol', 'recap-list'));
      frame.items.forEach(function (item, i) {
        var li = el('li', 'recap-item');
        li.style.setProperty('--i', order + i);
        li.appendChild(el('span', 'recap-rank', item.rank !== undefined && item.rank !== null ? item.rank : i + 1));
        var src = mediaUrl(item.image, self.options.host || location.href);
        if (src) { var img = el('img', 'recap-item-img'); img.alt = ''; img.src = src; li.appendChild(img); }
        var text = el('span', 'recap-item-text');
        text.appendChild(el('span', 'recap-item-label', item.label));
        if (item.value) text.appendChild(el('span', 'recap-item-value', item.value));
        li.appendChild(text);
        list.appendChild(li);
      });
    }
    if (frame.media && (kind === 'image' || kind === 'gif' || kind === 'video')) {
      add(this.renderMedia(frame, index));
    }
    if (frame.chart && typeof frame.chart === 'object') {
      var figure = add(el('figure', 'recap-figure'));
      figure.appendChild(renderChart(frame.chart));
      if (frame.chart.caption) figure.appendChild(el('figcaption', 'recap-caption', frame.chart.caption));
    }
    if (kind === 'card' && this.story.card) add(this.renderCard(this.story.card, frame));
    if (frame.body) add(el('p', 'recap-body', frame.body));
    if (Array.isArray(frame.buttons) && frame.buttons.length) {
      var actions = add(el('div', 'recap-actions'));
      frame.buttons.forEach(function (b, i) {
        var button = el('button', 'recap-btn' + (i === 0 ? ' recap-btn-primary' : ''), b.label || 'Open');
        button.type = 'button';
        button.setAttribute('data-button-id', String(b.id || i));
        button.addEventListener('click', function () { self.pressButton(frame, b); });
        actions.appendChild(button);
      });
    }
    node.appendChild(content);
    return node;
  };

  Player.prototype.renderMedia = function (frame, index) {
    var self = this;
    var src = mediaUrl(frame.media.src, this.options.host || location.href);
    var box = el('figure', 'recap-media');
    if (!src) return box;
    if (frame.kind === 'video') {
      var video = this.preloaded[index] instanceof HTMLVideoElement ? this.preloaded[index] : el('video');
      video.className = 'recap-video';
      video.src = src;
      video.muted = !this.soundOn;
      video.playsInline = true;
      video.setAttribute('playsinline', '');
      video.preload = 'auto';
      var poster = mediaUrl(frame.media.poster, this.options.host || location.href);
      if (poster) video.poster = poster;
      if (frame.media.alt) video.setAttribute('aria-label', frame.media.alt);
      video.addEventListener('ended', function () { if (self.video === video) self.forward('auto'); });
      video.addEventListener('error', function () { if (self.video === video) self.video = null; });
      this.video = video;
      box.appendChild(video);
      var unmute = el('button', 'recap-unmute', 'Tap for sound');
      unmute.type = 'button';
      unmute.hidden = !!this.soundOn;
      unmute.addEventListener('click', function () { self.toggleMute(); });
      box.appendChild(unmute);
    } else {
      var img = el('img', 'recap-img');
      img.alt = frame.media.alt || '';
      img.src = src;
      box.appendChild(img);
    }
    return box;
  };

  Player.prototype.renderCard = function (card, frame) {
    var box = el('div', 'recap-card');
    var theme = card.theme || {};
    if (color(theme.background)) box.style.setProperty('--card-bg', color(theme.background));
    if (color(theme.foreground)) box.style.setProperty('--card-fg', color(theme.foreground));
    if (color(theme.accent)) box.style.setProperty('--card-accent', color(theme.accent));
    var image = mediaUrl(card.image, this.options.host || location.href);
    if (image) { var img = el('img', 'recap-card-img'); img.alt = ''; img.src = image; box.appendChild(img); }
    box.appendChild(el('h2', 'recap-card-title', card.title || frame.title || ''));
    if (card.subtitle || frame.subtitle) box.appendChild(el('p', 'recap-card-subtitle', card.subtitle || frame.subtitle));
    if (Array.isArray(card.stats) && card.stats.length) {
      var stats = el('dl', 'recap-card-stats');
      card.stats.forEach(function (s) {
        var cell = el('div', 'recap-card-stat');
        cell.appendChild(el('dt', '', s.label));
        cell.appendChild(el('dd', '', s.value));
        stats.appendChild(cell);
      });
      box.appendChild(stats);
    }
    if (card.list && Array.isArray(card.list.items) && card.list.items.length) {
      box.appendChild(el('h3', 'recap-card-list-title', card.list.title || ''));
      var ol = el('ol', 'recap-card-list');
      card.list.items.forEach(function (item) { ol.appendChild(el('li', '', item)); });
      box.appendChild(ol);
    }
    if (card.footer) box.appendChild(el('p', 'recap-card-footer', card.footer));
    return box;
  };

  // --- moving between frames -----------------------------------------------------------------

  Player.prototype.go = function (target, advance, direction) {
    if (!this.frames || !this.frames.length) return;
    target = Math.max(0, Math.min(this.frames.length - 1, target));
    if (this.index >= 0) this.leaveFrame(advance, direction || (target > this.index ? 'forward' : 'back'));
    var previous = this.index;
    this.index = target;
    this.elapsed = 0;
    this.dwelt = 0;
    this.shownAt = document.hidden ? null : Date.now();
    delete this.paused.ended;
    var frame = this.frames[target];
    if (this.video) { this.video.pause(); this.video = null; }
    var node = this.renderFrame(frame, target);
    var old = this.stage.firstElementChild;
    node.classList.add(target >= previous ? 'recap-from-right' : 'recap-from-left');
    this.stage.appendChild(node);
    if (old) {
      old.classList.add('recap-leaving');
      old.setAttribute('aria-hidden', 'true');
      setTimeout(function () { old.remove(); }, reducedMotion() ? 0 : 320);
    }
    requestAnimationFrame(function () { requestAnimationFrame(function () { node.classList.add('recap-in'); }); });
    this.muteButton.hidden = !this.video;
    this.fills.forEach(function (fill, i) { fill.style.transform = 'scaleX(' + (i < target ? 1 : 0) + ')'; });
    this.live.textContent = 'Frame ' + (target + 1) + ' of ' + this.frames.length + (frame.title ? '. ' + frame.title : '');
    this.root.setAttribute('data-index', String(target));
    this.preload(target + 1);
    if (target === this.frames.length - 1 && !this.done) {
      this.done = true;
      this.tracker.track('story_completed', { frames: this.frames.length });
      if (this.options.onComplete) this.options.onComplete();
    }
    this.sync();
  };

  Player.prototype.leaveFrame = function (advance, direction) {
    var frame = this.frames[this.index];
    this.tracker.track('frame_viewed', {
      frame_id: String(frame.id || this.index), index: this.index,
      dwell_ms: this.dwell(), advance: advance === 'auto' ? 'auto' : 'manual',
      direction: direction
    });
  };

  // Dwell counts the time the frame was visible: a tab in the background is not being watched.
  Player.prototype.dwell = function () {
    return this.dwelt + (this.shownAt ? Date.now() - this.shownAt : 0);
  };

  Player.prototype.watching = function (visible) {
    this.dwelt = this.dwell();
    this.shownAt = visible ? Date.now() : null;
  };

  Player.prototype.forward = function (advance) {
    if (this.index >= this.frames.length - 1) {
      // The last frame (the card) stays up so it can be shared; the story is over.
      if (this.fills) this.fills[this.index].style.transform = 'scaleX(1)';
      this.paused.ended = true;
      this.sync();
      if (this.options.onEnd) this.options.onEnd();
      return;
    }
    this.go(this.index + 1, advance, 'forward');
  };

  Player.prototype.back = function () {
    if (this.index === 0) { this.go(0, 'manual', 'restart'); return; }
    this.go(this.index - 1, 'manual', 'back');
  };

  Player.prototype.preload = function (index) {
    var frame = this.frames[index];
    if (!frame || this.preloaded[index]) return;
    var host = this.options.host || location.href;
    var urls = [];
    if (frame.background && frame.background.image) urls.push(frame.background.image);
    if (frame.media && frame.kind !== 'video') urls.push(frame.media.src);
    if (frame.media && frame.media.poster) urls.push(frame.media.poster);
    (frame.items || []).forEach(function (item) { if (item && item.image) urls.push(item.image); });
    if (frame.kind === 'card' && this.story.card && this.story.card.image) urls.push(this.story.card.image);
    urls.map(function (u) { return mediaUrl(u, host); }).filter(Boolean).forEach(function (u) { new Image().src = u; });
    var videoSrc = frame.kind === 'video' && frame.media && mediaUrl(frame.media.src, host);
    if (videoSrc) {
      var video = el('video');
      video.muted = true;
      video.preload = 'auto';
      video.src = videoSrc;
      this.preloaded[index] = video;
    } else {
      this.preloaded[index] = true;
    }
  };

  // --- the clock -----------------------------------------------------------------------------

  Player.prototype.duration = function () {
    var frame = this.frames[this.index];
    var ms = Number(frame.duration_ms);
    return ms > 0 ? ms : DEFAULT_DURATION;
  };

  Player.prototype.isPaused = function (reason) {
    return reason ? !!this.paused[reason] : Object.keys(this.paused).length > 0;
  };

  Player.prototype.pause = function (reason, byUser) {
    if (this.paused[reason]) return;
    var was = this.isPaused();
    this.paused[reason] = true;
    if (!was && byUser && this.frames) {
      var frame = this.frames[this.index];
      this.tracker.track('story_paused', { frame_id: String(frame.id || this.index), index: this.index, reason: reason });
    }
    this.sync();
  };

  Player.prototype.resume = function (reason) {
    delete this.paused[reason];
    this.sync();
  };

  // One place turns the pause reasons into the clock, the video and what is shown.
  Player.prototype.sync = function () {
    if (!this.root || this.destroyed) return;
    var paused = this.isPaused();
    var state = this.paused.ended ? 'ended' : paused ? 'paused' : 'playing';
    this.root.setAttribute('data-state', state);
    this.pauseButton.setAttribute('aria-label', paused ? 'Play story' : 'Pause story');
    this.pauseButton.setAttribute('aria-pressed', String(paused));
    if (this.video) {
      if (paused) this.video.pause();
      else this.video.play().catch(function () {});
    }
    cancelAnimationFrame(this.raf);
    this.raf = null;
    if (!paused) { this.last = performance.now(); this.raf = requestAnimationFrame(this.tick); }
  };

  Player.prototype.tick = function (now) {
    this.raf = null;
    if (this.isPaused()) return;
    var progress;
    if (this.video && isFinite(this.video.duration) && this.video.duration > 0) {
      progress = this.video.currentTime / this.video.duration;  // 'ended' advances
    } else {
      this.elapsed += Math.min(now - this.last, 250);  // a stalled tab does not skip frames
      progress = this.elapsed / this.duration();
    }
    this.last = now;
    this.fills[this.index].style.transform = 'scaleX(' + Math.min(1, progress) + ')';
    if (!this.video && progress >= 1) { this.forward('auto'); return; }
    this.raf = requestAnimationFrame(this.tick);
  };

  Player.prototype.progress = function () {
    if (!this.frames || !this.frames.length || this.index < 0) return 0;
    if (this.paused.ended) return 1;
    var within = this.video && this.video.duration ? this.video.currentTime / this.video.duration
      : this.elapsed / this.duration();
    return Math.round(Math.min(1, (this.index + Math.min(1, within)) / this.frames.length) * 1000) / 1000;
  };

  // --- input ---------------------------------------------------------------------------------

  Player.prototype.onPointerDown = function (e) {
    if (e.button > 0 || !this.frames) return;
    if (e.target.closest('.recap-top, .recap-actions, .recap-overlay, .recap-unmute, .recap-card a')) return;
    var self = this;
    this.press = { x: e.clientX, y: e.clientY, held: false };
    this.holdTimer = setTimeout(function () {
      if (!self.press) return;
      self.press.held = true;
      self.pause('hold', true);
    }, HOLD_MS);
    // The release then comes back here even off the player (a mouse dragged out of it).
    this.root.setPointerCapture(e.pointerId);
  };

  Player.prototype.onPointerMove = function (e) {
    if (this.press && Math.hypot(e.clientX - this.press.x, e.clientY - this.press.y) > 12) clearTimeout(this.holdTimer);
  };

  Player.prototype.onPointerUp = function (e) {
    var press = this.endPress();
    if (!press) return;
    // A hold that ends in a swipe still swipes; a held tap only resumes.
    var dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) {
      dx < 0 ? this.forward('manual') : this.back();
    } else if (dy > SWIPE_PX * 2 && Math.abs(dy) > Math.abs(dx)) {
      this.close('swipe');
    } else if (!press.held && Math.abs(dx) < 12 && Math.abs(dy) < 12) {
      var rect = this.root.getBoundingClientRect();
      e.clientX - rect.left < rect.width / 3 ? this.back() : this.forward('manual');
    }
  };

  // However a press ends (release, cancel, capture lost), its hold ends with it.
  Player.prototype.endPress = function () {
    var press = this.press;
    this.press = null;
    clearTimeout(this.holdTimer);
    if (this.paused.hold) this.resume('hold');
    return press;
  };

  Player.prototype.onKey = function (e) {
    if (!this.frames || e.altKey || e.ctrlKey || e.metaKey) return;
    // Keys in the share dialog or a text field are theirs: ← in the link must not move the story.
    if (!this.overlay.hidden || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable) return;
    var onControl = e.target !== this.root && e.target.closest('button') && !e.target.closest('.recap-nav');
    var handled = true;
    switch (e.key) {
      case 'ArrowRight': this.forward('manual'); break;
      case 'ArrowLeft': this.back(); break;
      case 'Home': this.go(0, 'manual'); break;
      case 'End': this.go(this.frames.length - 1, 'manual'); break;
      case 'Escape': this.close('key'); break;
      case ' ':
        if (onControl) { handled = false; break; }  // Space presses the focused button
        this.isPaused('key') ? this.resume('key') : this.pause('key', true);
        break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  };

  Player.prototype.onVisibility = function () {
    this.watching(!document.hidden);
    if (document.hidden) { this.pause('hidden'); if (this.tracker) this.tracker.beacon(); }
    else this.resume('hidden');
  };

  Player.prototype.onPageHide = function () {
    this.watching(false);
    if (this.frames && this.index >= 0 && !this.closed) this.close('page_hidden', true);
    if (this.tracker) this.tracker.beacon();
  };

  // Back from the back/forward cache: the story the viewer left is open again.
  Player.prototype.onPageShow = function (e) {
    if (!e.persisted || !this.closed) return;
    this.closed = false;
    this.resume('closed');
  };

  Player.prototype.toggleMute = function () {
    this.soundOn = !this.soundOn;
    if (this.video) this.video.muted = !this.soundOn;
    this.muteButton.setAttribute('aria-label', this.soundOn ? 'Turn sound off' : 'Turn sound on');
    this.muteButton.classList.toggle('is-on', !!this.soundOn);
    var pill = this.stage.querySelector('.recap-unmute');
    if (pill) {
      var hadFocus = document.activeElement === pill;
      pill.hidden = !!this.soundOn;
      if (hadFocus && pill.hidden) this.root.focus({ preventScroll: true });  // keep the keys working
    }
  };

  // --- buttons, sharing, closing -------------------------------------------------------------

  Player.prototype.pressButton = function (frame, button) {
    var action = String(button.action || '');
    var scheme = this.story.app && this.story.app.deep_link_scheme;
    this.tracker.track('button_clicked', { frame_id: String(frame.id || this.index), button_id: String(button.id || ''), action: action });
    if (action === 'share') { this.share(frame, button); return; }
    if (action === 'event') {
      if (button.event) this.tracker.track(String(button.event), Object.assign({}, button.properties || {}, { frame_id: String(frame.id || this.index) }));
      return;
    }
    var href = linkUrl(button.href, action === 'deep_link' ? scheme : null);
    if (!href) return;
    if (action === 'deep_link') {
      if (this.options.onDeepLink) this.options.onDeepLink(href);
      else location.href = href;
    } else if (action === 'url') {
      if (this.options.onOpenUrl) this.options.onOpenUrl(href);
      else window.open(href, '_blank', 'noopener');
    }
  };

  Player.prototype.createShare = function () {
    var o = this.options;
    var fallback = { url: o.shareUrl || location.href, image: null };
    if (!o.token) return Promise.resolve(fallback);
    return fetch(o.host + '/v1/shares', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + o.token },
      body: JSON.stringify({ template: this.story.template || o.template })
    }).then(function (res) { return res.ok ? res.json() : null; }, function () { return null; })
      .then(function (body) {
        return body && body.url ? { url: body.url, image: body.images && body.images.story } : fallback;
      });
  };

  Player.prototype.share = function (frame, button) {
    var self = this;
    var title = this.story.title || 'My story';
    this.pause('overlay');
    var shared = function (channel) {
      self.tracker.track('story_shared', { channel: channel, frame_id: String(frame.id || self.index), button_id: String(button.id || '') });
    };
    this.createShare().then(function (link) {
      if (self.options.onShare) {
        self.options.onShare({ url: link.url, image: link.image, title: title });
        shared('host');
        return;
      }
      return self.webShare(link, title).then(shared, function (err) {
        if (err && err.name === 'AbortError') return;  // the viewer dismissed the share sheet
        return self.copyLink(link.url).then(shared);
      });
    }).then(function () { if (self.overlay.hidden) self.resume('overlay'); });
  };

  Player.prototype.webShare = function (link, title) {
    if (!navigator.share) return Promise.reject(new Error('no Web Share'));
    var plain = function () { return navigator.share({ title: title, url: link.url }).then(function () { return 'web_share'; }); };
    if (!link.image || !navigator.canShare) return plain();
    return fetch(link.image).then(function (res) { return res.blob(); }).then(function (blob) {
      var file = new File([blob], 'story.png', { type: blob.type || 'image/png' });
      if (!navigator.canShare({ files: [file] })) return plain();
      return navigator.share({ title: title, url: link.url, files: [file] }).then(function () { return 'web_share_file'; });
    }, plain);
  };

  Player.prototype.copyLink = function (url) {
    var self = this;
    var copied = navigator.clipboard && navigator.clipboard.writeText
      ? navigator.clipboard.writeText(url).then(function () { return true; }, function () { return false; })
      : Promise.resolve(false);
    return copied.then(function (ok) {
      self.showOverlay(ok ? 'Link copied' : 'Copy this link', url);
      return ok ? 'clipboard' : 'link';
    });
  };

  Player.prototype.showOverlay = function (heading, url) {
    var self = this;
    var dialog = el('div', 'recap-dialog');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    dialog.setAttribute('aria-label', heading);
    dialog.appendChild(el('h2', '', heading));
    var field = el('input', 'recap-link');
    field.readOnly = true;
    field.value = url;
    field.setAttribute('aria-label', 'Share link');
    dialog.appendChild(field);
    var done = el('button', 'recap-btn recap-btn-primary', 'Done');
    done.type = 'button';
    dialog.appendChild(done);
    var dismiss = function () {
      self.overlay.hidden = true;
      self.overlay.replaceChildren();
      self.resume('overlay');
      self.root.focus({ preventScroll: true });
    };
    done.addEventListener('click', dismiss);
    dialog.addEventListener('keydown', function (e) { if (e.key === 'Escape') { e.stopPropagation(); dismiss(); } });
    this.overlay.replaceChildren(dialog);
    this.overlay.hidden = false;
    this.pause('overlay');
    done.focus();
  };

  Player.prototype.close = function (how, silent) {
    if (this.closed || !this.frames) return;
    this.closed = true;
    var progress = this.progress();
    if (this.index >= 0) this.leaveFrame('manual', 'close');
    this.tracker.track('story_closed', { progress: progress, how: how });
    this.pause('closed');
    if (silent) return;
    this.tracker.flush();
    if (this.options.onClose) this.options.onClose({ progress: progress });
    else this.destroy();
  };

  Player.prototype.destroy = function () {
    this.destroyed = true;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.holdTimer);
    if (this.video) this.video.pause();
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('pagehide', this.onPageHide);
    window.removeEventListener('pageshow', this.onPageShow);
    if (this.tracker) this.tracker.flush();
    this.element.replaceChildren();
    this.element.classList.remove('recap-root');
  };

  // --- public API ----------------------------------------------------------------------------

  function story(element, options) {
    if (typeof element === 'string') element = document.querySelector(element);
    if (!element) throw new Error('Recap.story: no element to mount in');
    var player = new Player(element, options);
    return {
      next: function () { player.forward('manual'); },
      previous: function () { player.back(); },
      go: function (index) { player.go(index, 'manual'); },
      pause: function () { player.pause('api'); },
      resume: function () { player.resume('api'); },
      close: function () { player.close('api'); },
      destroy: function () { player.destroy(); },
      setToken: function (token) { player.setToken(token); },
      retry: function () { player.retry(); },
      flush: function () { return player.tracker ? player.tracker.flush() : Promise.resolve(); },
      state: function () {
        return { index: player.index, frames: player.frames ? player.frames.length : 0,
          frame_ids: (player.frames || []).map(function (f, i) { return String(f.id || i); }),
          paused: player.isPaused(), ended: !!player.paused.ended, progress: player.progress() };
      }
    };
  }

  extendRecap({ story: story, bridge: bridge, playerVersion: VERSION });

  // One window.Recap shared with recap.js in any load order: the same function is there, with
  // its explanation (a test checks the two are identical).
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
})();
