// The clock: pause reasons, the progress bar's tick, how far through the story the viewer is.
const DEFAULT_DURATION = 6000;

const WAITS = ['media', 'styles', 'fonts'];

export const clock = {
  duration() {
    const frame = this.frames[this.index];
    const ms = Number(frame.duration_ms);
    return ms > 0 ? ms : DEFAULT_DURATION;
  },

  isPaused(reason) {
    return reason ? !!this.paused[reason] : Object.keys(this.paused).length > 0;
  },

  pause(reason, byUser) {
    if (this.paused[reason]) return;
    const was = this.isPaused();
    this.paused[reason] = true;
    if (!was && byUser && this.frames) {
      const frame = this.frames[this.index];
      this.tracker.track('story_paused', { frame_id: String(frame.id || this.index), index: this.index, reason });
    }
    this.sync();
  },

  resume(reason) {
    delete this.paused[reason];
    this.sync();
  },

  // One place turns the pause reasons into the clock, the video and what is shown.
  sync() {
    if (!this.root || this.destroyed) return;
    const paused = this.isPaused();
    // Waiting (for a frame's media, the stylesheet, the font) is not a pause the pause button
    // shows: the story will go on.
    const stopped = Object.keys(this.paused).some((reason) => !WAITS.includes(reason));
    const state = this.paused.ended ? 'ended' : stopped ? 'paused' : paused ? 'loading' : 'playing';
    this.root.setAttribute('data-state', state);
    // A held or pulled story shows only itself, as on Instagram: the chrome fades while it is.
    this.root.classList.toggle('is-held', !!(this.paused.hold || this.paused.drag));
    this.pauseButton.setAttribute('aria-label', stopped ? this.t.play : this.t.pause);
    this.pauseButton.setAttribute('aria-pressed', String(stopped));
    // Replay takes the pause button's place once the story is over, and the focus with it.
    const focused = document.activeElement;
    this.pauseButton.hidden = !!this.paused.ended;
    this.replayButton.hidden = !this.paused.ended;
    if (focused === this.pauseButton && focused.hidden) this.replayButton.focus();
    if (focused === this.replayButton && focused.hidden) this.pauseButton.focus();
    if (this.video) {
      if (paused) this.video.pause();
      else this.video.play().catch(() => {});
    }
    cancelAnimationFrame(this.raf);
    this.raf = null;
    if (!paused) { this.last = performance.now(); this.raf = requestAnimationFrame(this.tick); }
  },

  tick(now) {
    this.raf = null;
    if (this.isPaused()) return;
    let progress;
    if (this.video && isFinite(this.video.duration) && this.video.duration > 0) {
      progress = this.video.currentTime / this.video.duration;  // 'ended' advances
    } else {
      this.elapsed += Math.min(now - this.last, 250);  // a stalled tab does not skip frames
      progress = this.elapsed / this.duration();
    }
    this.last = now;
    this.fills[this.index].style.transform = `scaleX(${Math.min(1, progress)})`;
    if (!this.video && progress >= 1) { this.forward('auto'); return; }
    this.raf = requestAnimationFrame(this.tick);
  },

  progress() {
    if (!this.frames || !this.frames.length || this.index < 0) return 0;
    if (this.paused.ended) return 1;
    const within = this.video && this.video.duration ? this.video.currentTime / this.video.duration
      : this.elapsed / this.duration();
    return Math.round(Math.min(1, (this.index + Math.min(1, within)) / this.frames.length) * 1000) / 1000;
  },
};
