// The share sheet, where there is no Web Share (desktop browsers, and app WebViews, whose host
// adds Instagram Stories and the phone's own sheet): the places people share to, the image and
// the video to download, and the link to copy.
import { el } from './dom.js';

// Each target's page for sharing a link; the text says whose story it is ("My 2026 on …").
const TARGETS = [
  ['whatsapp', 'WhatsApp', (url, text) => `https://wa.me/?text=${encodeURIComponent(`${text} ${url}`)}`],
  ['x', 'X', (url, text) => `https://x.com/intent/post?text=${encodeURIComponent(text)}&url=${encodeURIComponent(url)}`],
  ['facebook', 'Facebook', (url) => `https://www.facebook.com/sharer/sharer.php?u=${encodeURIComponent(url)}`],
  ['telegram', 'Telegram', (url, text) => `https://t.me/share/url?url=${encodeURIComponent(url)}&text=${encodeURIComponent(text)}`],
];

function target(channel, label) {
  const button = el('button', 'recap-target', label);
  button.type = 'button';
  button.setAttribute('data-channel', channel);
  return button;
}

export function shareSheet(link, shared) {
  const t = this.t;
  this.showOverlay(t.share_story, (dialog, dismiss) => {
    const grid = el('div', 'recap-targets');
    const add = (channel, label, act) => {
      const button = target(channel, label);
      button.addEventListener('click', () => { act(button); shared(channel); });
      grid.appendChild(button);
      return button;
    };
    if (this.bridge.native && link.image) {
      // Only the app can hand Instagram the layers of a story (sticker over a background).
      add('instagram_stories', 'Instagram Stories', () => { this.bridge.send('share', this.hostShare(link, 'instagram_stories')); dismiss(); });
      add('more', t.more, () => { this.bridge.send('share', this.hostShare(link, 'system')); dismiss(); });
    }
    TARGETS.forEach(([channel, label, href]) => add(channel, label, () => this.openUrl(href(link.url, link.text))));
    if (link.image && !this.bridge.native) {
      const save = el('a', 'recap-target', t.download_image);
      save.href = link.image;
      save.download = 'story.png';
      save.setAttribute('data-channel', 'download');
      save.addEventListener('click', () => shared('download'));
      grid.appendChild(save);
    }
    if (link.video && (link.videoStatus === 'ready' || link.videoStatus === 'pending')) {
      // Counted as shared once it downloaded: while it is being drawn the button says so instead.
      const video = target('download_video', t.download_video);
      video.addEventListener('click', () => this.downloadVideo(link.video).then((ok) => {
        if (ok) shared('download_video');
        else video.textContent = t.video_pending;
      }));
      grid.appendChild(video);
    }
    const copy = add('copy_link', t.copy_link, () => this.copyLink(link.url).then((ok) => {
      copy.textContent = ok ? t.link_copied : t.copy_below;
      field.select();
    }));
    dialog.appendChild(grid);
    const field = el('input', 'recap-link');
    field.readOnly = true;
    field.value = link.url;
    field.setAttribute('aria-label', t.share_link);
    dialog.appendChild(field);
  });
}
