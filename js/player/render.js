// Rendering: the player's chrome, each frame, its media and the share card.
import { el, color, mediaUrl } from './dom.js';
import { renderChart } from './chart.js';
import { Tracker } from './tracker.js';
import { fill } from './strings.js';

// Used when a frame names no background: one vivid gradient per position, Wrapped style.
const PALETTE = [['#5b2cff', '#c2185b'], ['#064e3b', '#13703a'], ['#9a3412', '#b93d0b'], ['#0b1e5b', '#0369a1'], ['#7a0bc0', '#be185d'], ['#1a1a1a', '#5c5c5c']];

export const rendering = {
  start(story) {
    this.story = story;
    this.frames = (story.frames || []).filter((f) => f && typeof f === 'object');
    this.tracker = new Tracker({
      ...this.options, template: story.template || this.options.template, experiment: story.experiment
    });
    const theme = story.theme || {};
    const root = el('div', 'recap-player');
    root.tabIndex = 0;
    root.setAttribute('role', 'region');
    root.dir = this.direction;
    root.lang = this.locale;
    root.setAttribute('aria-roledescription', this.t.role);
    root.setAttribute('aria-label', story.title || this.t.story);
    [['--recap-bg', theme.background], ['--recap-fg', theme.foreground], ['--recap-accent', theme.accent]]
      .forEach((p) => { if (color(p[1])) root.style.setProperty(p[0], color(p[1])); });

    const progress = el('div', 'recap-progress');
    progress.setAttribute('aria-hidden', 'true');
    this.fills = this.frames.map(() => {
      const seg = el('div', 'recap-seg');
      const fill = el('div', 'recap-seg-fill');
      seg.appendChild(fill);
      progress.appendChild(seg);
      return fill;
    });

    const top = el('div', 'recap-top');
    top.appendChild(el('span', 'recap-brand', (story.app && story.app.name) || story.title || ''));
    this.pauseButton = this.iconButton('recap-pause', this.t.pause, () => {
      this.isPaused('key') ? this.resume('key') : this.pause('key', true);
    });
    this.replayButton = this.iconButton('recap-replay', this.t.replay_story, () => { this.go(0, 'manual', 'restart'); });
    this.replayButton.textContent = this.t.replay;
    this.replayButton.hidden = true;
    this.muteButton = this.iconButton('recap-mute', this.t.sound_on, () => { this.toggleMute(); });
    this.muteButton.hidden = true;
    const close = this.iconButton('recap-close', this.t.close_story, () => { this.close('button'); });
    top.appendChild(this.replayButton);
    top.appendChild(this.pauseButton);
    top.appendChild(this.muteButton);
    top.appendChild(close);

    this.stage = el('div', 'recap-stage');
    const prev = this.iconButton('recap-nav recap-prev', this.t.previous, (e) => { if (!e.detail) this.back(); });
    const next = this.iconButton('recap-nav recap-next', this.t.next, (e) => { if (!e.detail) this.forward('manual'); });
    this.live = el('div', 'recap-live');
    this.live.setAttribute('aria-live', 'polite');
    this.overlay = el('div', 'recap-overlay');
    this.overlay.hidden = true;

    [progress, this.stage, prev, next, top, this.live, this.overlay].forEach((n) => { root.appendChild(n); });
    this.root = root;
    this.element.replaceChildren(root);

    root.addEventListener('pointerdown', this.onPointerDown.bind(this));
    root.addEventListener('pointermove', this.onPointerMove.bind(this));
    root.addEventListener('pointerup', this.onPointerUp.bind(this));
    root.addEventListener('pointercancel', this.endPress.bind(this));
    root.addEventListener('lostpointercapture', this.endPress.bind(this));
    root.addEventListener('contextmenu', (e) => { if (this.press) e.preventDefault(); });
    root.addEventListener('keydown', this.onKey.bind(this));
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('pagehide', this.onPageHide);
    window.addEventListener('pageshow', this.onPageShow);

    if (!this.frames.length) { this.showError({ kind: 'server' }); return; }
    if (this.tracker.delivery && !this.opened) {
      this.opened = true;
      this.tracker.track('notification_opened', {});
    }
    this.tracker.track('story_viewed', { frames: this.frames.length });
    if (this.options.autofocus !== false) root.focus({ preventScroll: true });
    if (document.hidden) this.paused.hidden = true;
    this.go(0, 'manual');
  },

  iconButton(className, label, onClick) {
    const button = el('button', `recap-icon ${className}`);
    button.type = 'button';
    button.setAttribute('aria-label', label);
    button.addEventListener('click', onClick);
    return button;
  },

  frameBackground(frame, index) {
    const bg = frame.background || {};
    const layer = el('div', 'recap-bg');
    const pair = Array.isArray(bg.gradient) ? bg.gradient.map(color).filter(Boolean) : [];
    if (pair.length >= 2) {
      layer.style.background = `linear-gradient(160deg, ${pair.join(', ')})`;
    } else if (color(bg.color)) {
      // A flat colour gets depth from a shade towards the bottom, the Wrapped look.
      layer.style.backgroundColor = color(bg.color);
      layer.style.backgroundImage = 'linear-gradient(165deg, rgba(255,255,255,.10), rgba(0,0,0,.38))';
    } else {
      const p = PALETTE[index % PALETTE.length];
      layer.style.background = `linear-gradient(160deg, ${p[0]}, ${p[1]})`;
    }
    const image = mediaUrl(bg.image, this.options.host || location.href);
    if (image) {
      const img = el('img', 'recap-bg-img');
      img.alt = '';
      img.src = image;
      layer.appendChild(img);
    }
    layer.appendChild(el('div', `recap-shape recap-shape-${index % 3}`));
    layer.appendChild(el('div', 'recap-blob recap-blob-a'));
    layer.appendChild(el('div', 'recap-blob recap-blob-b'));
    return layer;
  },

  renderFrame(frame, index) {
    const kind = String(frame.kind || 'text');
    const node = el('section', `recap-frame recap-kind-${kind.replace(/[^a-z]/g, '')}`);
    node.setAttribute('aria-label', `${fill(this.t.n_of, { n: index + 1, total: this.frames.length })}${frame.title ? `: ${frame.title}` : ''}`);
    node.setAttribute('data-frame-id', String(frame.id || index));
    node.appendChild(this.frameBackground(frame, index));
    const content = el('div', 'recap-content');
    let order = 0;
    function add(child) { child.style.setProperty('--i', order++); content.appendChild(child); return child; }

    if (index === 0 && this.story.period && this.story.period.label) add(el('p', 'recap-eyebrow', this.story.period.label));
    if (kind !== 'card' && frame.title) add(el('h2', 'recap-title', frame.title));
    if (kind !== 'card' && frame.subtitle) add(el('p', 'recap-subtitle', frame.subtitle));

    if (frame.stat && typeof frame.stat === 'object') {
      const stat = add(el('div', 'recap-stat'));
      const value = el('span', 'recap-stat-value', frame.stat.value);
      const length = String(frame.stat.value || '').length;
      // Numbers stay huge; a phrase ("The Night Owl") steps down so it still fits the frame.
      if (length > 12) value.classList.add('is-long');
      else if (length > 7) value.classList.add('is-medium');
      stat.appendChild(value);
      if (frame.stat.unit) stat.appendChild(el('span', 'recap-stat-unit', frame.stat.unit));
      if (frame.stat.caption) stat.appendChild(el('span', 'recap-stat-caption', frame.stat.caption));
    }
    if (Array.isArray(frame.items) && frame.items.length) {
      const list = add(el('ol', 'recap-list'));
      frame.items.forEach((item, i) => {
        const li = el('li', 'recap-item');
        li.style.setProperty('--i', order + i);
        li.appendChild(el('span', 'recap-rank', item.rank !== undefined && item.rank !== null ? item.rank : i + 1));
        const src = mediaUrl(item.image, this.options.host || location.href);
        if (src) { const img = el('img', 'recap-item-img'); img.alt = ''; img.src = src; li.appendChild(img); }
        const text = el('span', 'recap-item-text');
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
      const figure = add(el('figure', 'recap-figure'));
      figure.appendChild(renderChart(frame.chart));
      if (frame.chart.caption) figure.appendChild(el('figcaption', 'recap-caption', frame.chart.caption));
    }
    if (kind === 'card' && this.story.card) add(this.renderCard(this.story.card, frame));
    if (frame.body) add(el('p', 'recap-body', frame.body));
    if (Array.isArray(frame.buttons) && frame.buttons.length) {
      const actions = add(el('div', 'recap-actions'));
      frame.buttons.forEach((b, i) => {
        const button = el('button', `recap-btn${i === 0 ? ' recap-btn-primary' : ''}`, b.label || this.t.open);
        button.type = 'button';
        button.setAttribute('data-button-id', String(b.id || i));
        button.addEventListener('click', () => { this.pressButton(frame, b); });
        actions.appendChild(button);
      });
    }
    node.appendChild(content);
    return node;
  },

  renderMedia(frame, index) {
    const src = mediaUrl(frame.media.src, this.options.host || location.href);
    const box = el('figure', 'recap-media');
    if (!src) return box;
    if (frame.kind === 'video') {
      const video = this.preloaded[index] instanceof HTMLVideoElement ? this.preloaded[index] : el('video');
      video.className = 'recap-video';
      video.src = src;
      video.muted = !this.soundOn;
      video.playsInline = true;
      video.setAttribute('playsinline', '');
      video.preload = 'auto';
      const poster = mediaUrl(frame.media.poster, this.options.host || location.href);
      if (poster) video.poster = poster;
      if (frame.media.alt) video.setAttribute('aria-label', frame.media.alt);
      video.addEventListener('ended', () => { if (this.video === video) this.forward('auto'); });
      video.addEventListener('error', () => { if (this.video === video) this.video = null; });
      this.video = video;
      box.appendChild(video);
      const unmute = el('button', 'recap-unmute', this.t.tap_for_sound);
      unmute.type = 'button';
      unmute.hidden = !!this.soundOn;
      unmute.addEventListener('click', () => { this.toggleMute(); });
      box.appendChild(unmute);
    } else {
      const img = el('img', 'recap-img');
      img.alt = frame.media.alt || '';
      img.src = src;
      box.appendChild(img);
    }
    return box;
  },

  renderCard(card, frame) {
    this.prepareShare();  // ready before the viewer reaches for Share
    const box = el('div', 'recap-card');
    const theme = card.theme || {};
    if (color(theme.background)) box.style.setProperty('--card-bg', color(theme.background));
    if (color(theme.foreground)) box.style.setProperty('--card-fg', color(theme.foreground));
    if (color(theme.accent)) box.style.setProperty('--card-accent', color(theme.accent));
    const image = mediaUrl(card.image, this.options.host || location.href);
    if (image) { const img = el('img', 'recap-card-img'); img.alt = ''; img.src = image; box.appendChild(img); }
    box.appendChild(el('h2', 'recap-card-title', card.title || frame.title || ''));
    if (card.subtitle || frame.subtitle) box.appendChild(el('p', 'recap-card-subtitle', card.subtitle || frame.subtitle));
    if (Array.isArray(card.stats) && card.stats.length) {
      const stats = el('dl', 'recap-card-stats');
      card.stats.forEach((s) => {
        const cell = el('div', 'recap-card-stat');
        cell.appendChild(el('dt', '', s.label));
        cell.appendChild(el('dd', '', s.value));
        stats.appendChild(cell);
      });
      box.appendChild(stats);
    }
    if (card.list && Array.isArray(card.list.items) && card.list.items.length) {
      box.appendChild(el('h3', 'recap-card-list-title', card.list.title || ''));
      const ol = el('ol', 'recap-card-list');
      card.list.items.forEach((item) => { ol.appendChild(el('li', '', item)); });
      box.appendChild(ol);
    }
    if (card.footer) box.appendChild(el('p', 'recap-card-footer', card.footer));
    return box;
  },
};
