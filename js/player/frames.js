// Moving between frames: showing one, what its leaving reports, dwell time, preloading the next.
import { el, mediaUrl, reducedMotion } from './dom.js';
import { countUp } from './chart.js';
import { fill } from './strings.js';

const MEDIA_WAIT_MS = 8000;  // a picture that never comes does not hold the story for ever

export const frames = {
  go(target, advance, direction) {
    if (!this.frames || !this.frames.length) return;
    target = Math.max(0, Math.min(this.frames.length - 1, target));
    if (this.index >= 0) this.leaveFrame(advance, direction || (target > this.index ? 'forward' : 'back'));
    const previous = this.index;
    this.index = target;
    this.elapsed = 0;
    this.dwelt = 0;
    this.shownAt = document.hidden ? null : Date.now();
    delete this.paused.ended;
    const frame = this.frames[target];
    if (this.video) { this.video.pause(); this.video = null; }
    const node = this.renderFrame(frame, target);
    node.classList.add(target >= previous ? 'recap-from-right' : 'recap-from-left');
    // Every frame still on the stage leaves, not only the first: taps faster than an exit (320 ms)
    // once left the frames between on screen for good.
    for (const old of this.stage.children) {
      if (old.classList.contains('recap-leaving')) continue;
      old.classList.add('recap-leaving');
      old.setAttribute('aria-hidden', 'true');
      setTimeout(() => { old.remove(); }, reducedMotion() ? 0 : 320);
    }
    this.stage.appendChild(node);
    this.current = node;
    const stat = node.querySelector('.recap-stat-value');
    if (stat) countUp(stat, frame.stat);  // attached: it counts while the frame is on the stage
    requestAnimationFrame(() => { requestAnimationFrame(() => { node.classList.add('recap-in'); }); });
    // The clock starts when the frame can be seen: its pictures decoded, its video able to play.
    const media = this.mediaReady(node);
    if (media) {
      this.paused.media = true;
      media.then(() => { if (this.current === node) this.resume('media'); });
    } else {
      delete this.paused.media;
    }
    this.muteButton.hidden = !this.video;
    this.fills.forEach((fill, i) => { fill.style.transform = `scaleX(${i < target ? 1 : 0})`; });
    this.live.textContent = `${fill(this.t.frame_of, { n: target + 1, total: this.frames.length })}${frame.title ? `. ${frame.title}` : ''}`;
    this.root.setAttribute('data-index', String(target));
    this.preload(target + 1);
    if (target === this.frames.length - 1 && !this.done) {
      this.done = true;
      this.tracker.track('story_completed', { frames: this.frames.length });
      if (this.options.onComplete) this.options.onComplete();
    }
    this.sync();
  },

  // Null when everything in the frame can be seen now; else a promise of when it can (or the wait
  // was given up: a broken picture, or MEDIA_WAIT_MS gone by).
  mediaReady(node) {
    const waits = [...node.querySelectorAll('img')].filter((img) => !img.complete)
      .map((img) => img.decode().catch(() => {}));
    const video = this.video;
    if (video && video.readyState < 3) {
      waits.push(new Promise((done) => {
        video.addEventListener('canplay', done, { once: true });
        video.addEventListener('error', done, { once: true });
      }));
    }
    if (!waits.length) return null;
    return Promise.race([Promise.all(waits), new Promise((done) => { setTimeout(done, MEDIA_WAIT_MS); })]);
  },

  leaveFrame(advance, direction) {
    const frame = this.frames[this.index];
    this.tracker.track('frame_viewed', {
      frame_id: String(frame.id || this.index), index: this.index,
      dwell_ms: this.dwell(), advance: advance === 'auto' ? 'auto' : 'manual',
      direction
    });
  },

  // Dwell counts the time the frame was visible: a tab in the background is not being watched.
  dwell() {
    return this.dwelt + (this.shownAt ? Date.now() - this.shownAt : 0);
  },

  watching(visible) {
    this.dwelt = this.dwell();
    this.shownAt = visible ? Date.now() : null;
  },

  forward(advance) {
    if (this.index >= this.frames.length - 1) {
      // The last frame (the card) stays up so it can be shared; the story is over.
      if (this.fills) this.fills[this.index].style.transform = 'scaleX(1)';
      this.paused.ended = true;
      this.sync();
      if (this.options.onEnd) this.options.onEnd();
      return;
    }
    this.go(this.index + 1, advance, 'forward');
  },

  back() {
    if (this.index === 0) { this.go(0, 'manual', 'restart'); return; }
    this.go(this.index - 1, 'manual', 'back');
  },

  preload(index) {
    const frame = this.frames[index];
    if (!frame || this.preloaded[index]) return;
    const host = this.options.host || location.href;
    const urls = [];
    if (frame.background && frame.background.image) urls.push(frame.background.image);
    if (frame.media && frame.kind !== 'video') urls.push(frame.media.src);
    if (frame.media && frame.media.poster) urls.push(frame.media.poster);
    (frame.items || []).forEach((item) => { if (item && item.image) urls.push(item.image); });
    if (frame.kind === 'card' && this.story.card && this.story.card.image) urls.push(this.story.card.image);
    urls.map((u) => mediaUrl(u, host)).filter(Boolean).forEach((u) => { new Image().src = u; });
    const videoSrc = frame.kind === 'video' && frame.media && mediaUrl(frame.media.src, host);
    if (videoSrc) {
      const video = el('video');
      video.muted = true;
      video.preload = 'auto';
      video.src = videoSrc;
      this.preloaded[index] = video;
    } else {
      this.preloaded[index] = true;
    }
  },
};
