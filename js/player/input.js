// Input: taps, holds and swipes, keys, the page being hidden or shown again, sound.
const HOLD_MS = 220;          // a press longer than this pauses instead of navigating
const SWIPE_PX = 40;
const CLOSE_PULL = 0.2;       // of the story's height: a pull further down than this closes it

export const input = {
  onPointerDown(e) {
    if (e.button > 0 || !this.frames) return;
    if (e.target.closest('.recap-top, .recap-actions, .recap-overlay, .recap-unmute, .recap-card a')) return;
    this.press = { x: e.clientX, y: e.clientY, held: false };
    this.holdTimer = setTimeout(() => {
      if (!this.press) return;
      this.press.held = true;
      this.pause('hold', true);
    }, HOLD_MS);
    // The release then comes back here even off the player (a mouse dragged out of it).
    this.root.setPointerCapture(e.pointerId);
  },

  // A press that goes down more than sideways pulls the story down with the finger.
  onPointerMove(e) {
    const press = this.press;
    if (!press) return;
    const dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (Math.hypot(dx, dy) > 12) clearTimeout(this.holdTimer);
    if (!press.pull && dy > 12 && dy > Math.abs(dx)) { press.pull = true; this.pause('drag'); }
    if (press.pull) this.pull(Math.max(0, dy), true);
  },

  // The story moved down by dy px, a little smaller and fainter the further it goes (gone once let
  // go to close it); 0 puts it back.
  pull(dy, following) {
    const f = Math.min(1, dy / this.root.offsetHeight);
    this.root.classList.toggle('is-pulled', following);
    this.root.style.transform = dy ? `translateY(${dy}px) scale(${1 - f * 0.12})` : '';
    this.root.style.opacity = dy ? String(following ? 1 - f * 0.6 : 0) : '';
  },

  onPointerUp(e) {
    const press = this.endPress();
    if (!press) return;
    // A hold that ends in a swipe still swipes; a held tap only resumes.
    const dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (press.pull) {
      // Let go far enough down and it goes on out and closes; otherwise it springs back.
      if (dy > this.root.offsetHeight * CLOSE_PULL) { this.pull(this.root.offsetHeight, false); this.close('swipe'); }
    } else if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) {
      // Forward is a swipe towards where the text starts: left in English, right in Arabic.
      (this.direction === 'rtl' ? dx > 0 : dx < 0) ? this.forward('manual') : this.back();
    } else if (!press.held && Math.abs(dx) < 12 && Math.abs(dy) < 12) {
      // The third where a line of text starts goes back (the left in English, the right in Arabic).
      const rect = this.root.getBoundingClientRect();
      const fromStart = this.direction === 'rtl' ? rect.right - e.clientX : e.clientX - rect.left;
      fromStart < rect.width / 3 ? this.back() : this.forward('manual');
    }
  },

  // However a press ends (release, cancel, capture lost), its hold ends with it.
  endPress() {
    const press = this.press;
    this.press = null;
    clearTimeout(this.holdTimer);
    if (press && press.pull) this.pull(0, false);
    if (this.paused.hold || this.paused.drag) { delete this.paused.hold; this.resume('drag'); }
    return press;
  },

  onKey(e) {
    if (!this.frames || e.altKey || e.ctrlKey || e.metaKey) return;
    // Keys in the share dialog or a text field are theirs: ← in the link must not move the story.
    if (!this.overlay.hidden || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable) return;
    const onControl = e.target !== this.root && e.target.closest('button') && !e.target.closest('.recap-nav');
    let handled = true;
    switch (e.key) {
      // The arrows point the way the story reads: in a right-to-left story ← goes forward.
      case 'ArrowRight': this.direction === 'rtl' ? this.back() : this.forward('manual'); break;
      case 'ArrowLeft': this.direction === 'rtl' ? this.forward('manual') : this.back(); break;
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
  },

  onVisibility() {
    this.watching(!document.hidden);
    if (document.hidden) { this.pause('hidden'); if (this.tracker) this.tracker.beacon(); }
    else { this.resume('hidden'); if (this.tracker) this.tracker.restore(); }
  },

  onPageHide() {
    this.watching(false);
    if (this.frames && this.index >= 0 && !this.closed) this.close('page_hidden', true);
    if (this.tracker) this.tracker.beacon();
  },

  // Back from the back/forward cache: the story the viewer left is open again.
  onPageShow(e) {
    if (!e.persisted || !this.closed || this.closedPanel) return;
    this.closed = false;
    this.pull(0, false);
    this.resume('closed');
  },

  toggleMute() {
    this.soundOn = !this.soundOn;
    if (this.video) this.video.muted = !this.soundOn;
    this.muteButton.setAttribute('aria-label', this.soundOn ? this.t.sound_off : this.t.sound_on);
    this.muteButton.classList.toggle('is-on', !!this.soundOn);
    const pill = this.stage.querySelector('.recap-unmute');
    if (pill) {
      const hadFocus = document.activeElement === pill;
      pill.hidden = !!this.soundOn;
      if (hadFocus && pill.hidden) this.root.focus({ preventScroll: true });  // keep the keys working
    }
  },
};
