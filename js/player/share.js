// Buttons and sharing: links, deep links, and the share itself, prepared as soon as the card
// frame is drawn so that a tap hands it to Web Share at once, inside the user's gesture (iOS
// Safari refuses navigator.share once a round trip has passed since the tap).
import { el, linkUrl } from './dom.js';
import { shareSheet } from './share_sheet.js';

export const sharing = {
  pressButton(frame, button) {
    const action = String(button.action || '');
    const scheme = this.story.app && this.story.app.deep_link_scheme;
    this.tracker.track('button_clicked', { frame_id: String(frame.id || this.index), button_id: String(button.id || ''), action });
    if (action === 'share') { this.share(frame, button); return; }
    if (action === 'event') {
      if (button.event) this.tracker.track(String(button.event), Object.assign({}, button.properties || {}, { frame_id: String(frame.id || this.index) }));
      return;
    }
    const href = linkUrl(button.href, action === 'deep_link' ? scheme : null);
    if (!href) return;
    if (action === 'deep_link') {
      if (this.options.onDeepLink) this.options.onDeepLink(href);
      else location.href = href;
    } else if (action === 'url') this.openUrl(href);
  },

  openUrl(href) {
    if (this.options.onOpenUrl) this.options.onOpenUrl(href);
    else window.open(href, '_blank', 'noopener');
  },

  // One share per story view: made (or found: the server answers the same share for the same
  // card) once, with its image already downloaded, however many times Share is tapped.
  prepareShare() {
    if (this.prepared) return this.prepared;
    this.prepared = this.createShare().then((link) => this.withFile(link)).then((link) => {
      this.preparedLink = link;
      return link;
    });
    return this.prepared;
  },

  createShare() {
    const o = this.options;
    const title = this.story.title || this.t.my_story;
    const fallback = { url: o.shareUrl || location.href, image: null, title, text: title };
    if (!o.token) return Promise.resolve(fallback);
    return fetch(`${o.host}/v1/shares`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.token}` },
      body: JSON.stringify({ template: this.story.template || o.template })
    }).then((res) => res.ok ? res.json() : null, () => null).then((body) => {
      if (!body || !body.url) return fallback;
      const images = body.images || {};
      const video = body.video || {};
      return { url: body.url, image: images.story || null, sticker: images.sticker || null,
        background: body.background || null, title, text: body.text || title,
        video: video.url || null, videoStatus: video.status || 'off' };
    });
  },

  // The file Web Share hands on: the story's video once it is drawn (Instagram Stories and the
  // chat apps take an MP4), else the card's image.
  withFile(link) {
    if (!link.image || !navigator.share || !navigator.canShare) return Promise.resolve(link);
    const asFile = (src, name, type) => fetch(src).then((res) => res.status === 200 ? res.blob() : null).then((blob) => {
      const file = blob && new File([blob], name, { type });
      return file && navigator.canShare({ files: [file] }) ? file : null;
    }, () => null);
    const video = link.video && link.videoStatus === 'ready' ? asFile(link.video, 'story.mp4', 'video/mp4') : Promise.resolve(null);
    return video.then((file) => file || asFile(link.image, 'story.png', 'image/png'))
      .then((file) => file ? Object.assign({}, link, { file }) : link);
  },

  share(frame, button) {
    this.pause('overlay');
    const shared = (channel) => {
      this.tracker.track('story_shared', { channel, frame_id: String(frame.id || this.index), button_id: String(button.id || '') });
    };
    const done = () => { if (this.overlay.hidden) this.resume('overlay'); };
    const ready = this.preparedLink;
    if (ready && navigator.share) { this.webShare(ready, shared).then(done); return; }  // still inside the tap
    this.prepareShare().then((link) => {
      if (this.options.onShare && !this.bridge.native) {  // a host page that shares by itself
        this.options.onShare(this.hostShare(link, 'host'));
        shared('host');
        return;
      }
      if (navigator.share && !this.bridge.native) return this.webShare(link, shared);
      this.showShareSheet(link, shared);
    }).then(done);
  },

  webShare(link, shared) {
    const data = { title: link.title, text: link.text, url: link.url };
    if (link.file) data.files = [link.file];
    return navigator.share(data).then(() => shared(link.file ? 'web_share_file' : 'web_share'), (err) => {
      if (err && err.name === 'AbortError') return;  // the viewer dismissed the share sheet
      this.showShareSheet(link, shared);
    });
  },

  // What the host app gets to share: the card image, the sticker and background colours for
  // Instagram Stories, the story's MP4 once drawn (null before), the link and its text, and the
  // channel the viewer chose.
  hostShare(link, channel) {
    const background = link.background || {};
    return { channel, url: link.url, image: link.image, sticker: link.sticker || null, title: link.title,
      text: link.text, background_top: background.top || null, background_bottom: background.bottom || null,
      video: link.videoStatus === 'ready' ? link.video : null };
  },

  // The story's MP4 saved as a file: fetched (it answers 202 while it is being drawn), then
  // handed to a download link; whether it was.
  downloadVideo(src) {
    return fetch(src).then((res) => res.status === 200 ? res.blob() : null).then((blob) => {
      if (!blob) return false;
      const save = el('a');
      save.href = URL.createObjectURL(blob);
      save.download = 'story.mp4';
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(save.href), 60_000);
      return true;
    }, () => false);
  },

  copyLink(url) {
    return navigator.clipboard && navigator.clipboard.writeText
      ? navigator.clipboard.writeText(url).then(() => true, () => false)
      : Promise.resolve(false);
  },

  // A bottom sheet over the paused story; Escape or Done closes it and the story resumes.
  showOverlay(heading, fill) {
    const dialog = el('div', 'recap-dialog');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    dialog.setAttribute('aria-label', heading);
    dialog.appendChild(el('h2', '', heading));
    const dismiss = () => {
      this.overlay.hidden = true;
      this.overlay.replaceChildren();
      this.resume('overlay');
      this.root.focus({ preventScroll: true });
    };
    fill(dialog, dismiss);
    const done = el('button', 'recap-btn recap-btn-primary', this.t.done);
    done.type = 'button';
    dialog.appendChild(done);
    done.addEventListener('click', dismiss);
    dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); dismiss(); } });
    this.overlay.replaceChildren(dialog);
    this.overlay.hidden = false;
    this.pause('overlay');
    (dialog.querySelector('.recap-target') || done).focus();
  },

  showShareSheet: shareSheet,
};
