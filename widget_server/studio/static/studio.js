/*
 * Recap Studio: the page's behaviour. Edit a template in a form or as TOML; every change is
 * checked by the server (debounced) and played in the real player for a chosen user. Text from
 * templates and users goes in with textContent only. See docs/STUDIO.md.
 */
(function () {
  'use strict';

  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const DEBOUNCE_MS = 250;
  const $ = (id) => document.getElementById(id);
  const state = { id: null, source: '', spec: null, version: 0, published: null, errors: [], timer: null,
    player: null, story: null, frameId: null, seq: 0, dirty: false };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') { headers['Content-Type'] = 'application/json'; headers['X-CSRF-Token'] = CSRF; }
    return fetch(`/studio/api${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined,
      credentials: 'same-origin' })
      .then((res) => res.json().catch(() => ({})).then((json) => {
        if (res.status === 401) { $('expired').hidden = false; throw new Error('signed out'); }
        if (!res.ok) throw Object.assign(new Error((json.error && json.error.message) || res.statusText), { body: json });
        return json;
      }));
  }

  function setStatus(text) { $('status').textContent = text; }

  // --- the template list -------------------------------------------------------------------------

  function percent(rate) { return `${Math.round(rate * 100)}%`; }

  function loadList() {
    return api('GET', '/templates').then((json) => {
      const list = $('template-list');
      list.replaceChildren();
      json.templates.forEach((t) => {
        const item = el('li');
        const button = el('button', 'template');
        button.type = 'button';
        button.dataset.id = t.id;
        button.appendChild(el('span', 'name', t.id));
        const badge = t.published ? `published v${t.published}` : (t.latest ? 'draft only' : 'default');
        button.appendChild(el('span', 'badge', badge));
        const s = t.stats;
        button.appendChild(el('span', 'stats', `${s.viewers} viewers · ${percent(s.completion_rate)} finish · ${s.shares} shares`));
        button.addEventListener('click', () => { open(t.id); });
        item.appendChild(button);
        list.appendChild(item);
      });
      if (!state.id && json.templates.length) open(json.templates[0].id);
    });
  }

  // --- opening, checking, previewing -------------------------------------------------------------

  function open(id) {
    state.id = id;
    document.querySelectorAll('.template').forEach((b) => { b.setAttribute('aria-current', String(b.dataset.id === id)); });
    $('template-title').textContent = id;
    return api('GET', `/templates/${encodeURIComponent(id)}`).then((json) => {
      if (state.id !== id) return;   // another story was chosen meanwhile
      state.version = json.version;
      state.published = json.published;
      showVersions(json.versions || []);
      setSource(json.source, false);
      setStatus(json.status === 'default' ? 'The shipped default: your first save makes it yours'
        : json.version === json.published ? `Version ${json.version}, published` : `Draft version ${json.version}`);
      loadSamples();
    });
  }

  function setSource(source, changed) {
    state.source = source;
    if ($('source').value !== source) $('source').value = source;
    drawGutter();
    state.dirty = changed;
    $('save').disabled = !changed;
    $('publish').disabled = !changed && state.version === state.published;
    if (changed) setStatus('Unsaved changes');
    schedule();
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  // Check and preview the source as it is now; answers to an older source are dropped.
  function refresh() {
    const seq = ++state.seq;
    const source = state.source;
    api('POST', `/templates/${encodeURIComponent(state.id)}/check`, { source }).then((json) => {
      if (seq !== state.seq) return;
      state.errors = json.errors;
      showProblems();
      if (json.spec) { state.spec = json.spec; drawForm(); }
    }).catch(() => {});
    const user = currentUser();
    if (!user) return;
    api('POST', `/templates/${encodeURIComponent(state.id)}/preview`, { source, user_id: user }).then((json) => {
      if (seq !== state.seq) return;
      showPreview(json);
    }).catch(() => {});
  }

  function showProblems() {
    const list = $('problem-list');
    list.replaceChildren();
    state.errors.forEach((e) => {
      const item = el('li');
      if (e.line) {
        const at = el('button', 'line', `line ${e.line}`);
        at.type = 'button';
        at.addEventListener('click', () => { showTab('toml'); goToLine(e.line); });
        item.appendChild(at);
      }
      item.appendChild(el('code', 'path', e.path || 'template'));
      item.appendChild(el('span', 'reason', e.reason));
      list.appendChild(item);
    });
    $('problems').hidden = !state.errors.length;
    $('publish').disabled = state.errors.length > 0 || (!state.dirty && state.version === state.published);
    $('save').disabled = state.errors.length > 0 || !state.dirty;
    drawGutter();
  }

  function drawGutter() {
    const marked = new Set(state.errors.map((e) => e.line).filter(Boolean));
    const lines = state.source.split('\n').length;
    const gutter = $('gutter');
    gutter.replaceChildren();
    for (let n = 1; n <= lines; n++) {
      const mark = el('span', marked.has(n) ? 'marked' : '', `${n}\n`);
      if (marked.has(n)) mark.title = state.errors.filter((e) => e.line === n).map((e) => e.reason).join('\n');
      gutter.appendChild(mark);
    }
  }

  function goToLine(n) {
    const area = $('source');
    const lines = area.value.split('\n');
    const start = lines.slice(0, n - 1).reduce((sum, l) => sum + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[n - 1] || '').length);
    area.scrollTop = Math.max(0, (n - 5) * parseFloat(getComputedStyle(area).lineHeight));
  }

  // --- the preview -------------------------------------------------------------------------------

  function currentUser() { return $('user-id').value.trim() || $('sample').value; }

  function loadSamples() {
    api('POST', `/templates/${encodeURIComponent(state.id)}/samples`, { source: state.source }).then((json) => {
      const select = $('sample');
      const kept = select.value;
      select.replaceChildren();
      json.samples.forEach((s) => {
        const option = el('option', '', `${s.label} (${s.user_id})`);
        option.value = s.user_id;
        option.title = s.why;
        select.appendChild(option);
      });
      if (!json.samples.length) select.appendChild(el('option', '', 'No users yet'));
      if ([...select.options].some((o) => o.value === kept)) select.value = kept;
      schedule();
    }).catch(() => {});
  }

  function showPreview(json) {
    const notes = $('notes');
    notes.replaceChildren();
    const refused = $('not-eligible');
    if (!json.story) {
      if (state.player) { state.player.destroy(); state.player = null; }
      refused.hidden = false;
      refused.replaceChildren(el('h3', '', json.not_eligible ? 'Not eligible' : 'Nothing to play'),
        el('p', '', json.not_eligible ? json.not_eligible.message : 'Fix the problems listed on the left first.'));
      notes.appendChild(el('li', 'none', json.not_eligible ? 'This user sees the message above instead of the story.' : '—'));
      return;
    }
    refused.hidden = true;
    (json.notes || []).forEach((n) => {
      const item = el('li');
      item.appendChild(el('strong', '', n.frame));
      item.appendChild(el('span', '', ` ${n.reason}`));
      notes.appendChild(item);
    });
    if (!(json.notes || []).length) notes.appendChild(el('li', 'none', 'Every frame is shown as written.'));
    const index = state.player ? state.player.state().index : 0;
    if (state.player) state.player.destroy();
    state.story = json.story;
    state.player = window.Recap.story($('player'), { story: json.story, analytics: false, host: '' });
    const wanted = state.frameId ? json.story.frames.findIndex((f) => f.id === state.frameId) : index;
    if (wanted > 0) state.player.go(Math.min(wanted, json.story.frames.length - 1));
  }

  // --- the form view -----------------------------------------------------------------------------

  function edit(edits) {
    api('POST', `/templates/${encodeURIComponent(state.id)}/edits`, { source: state.source, edits })
      .then((json) => { setSource(json.source, true); })
      .catch((err) => { setStatus(err.message); });
  }

  function textValue(value) { return Array.isArray(value) ? value.join('\n') : (value || ''); }

  function field(label, value, path, multiline) {
    const wrap = el('label', 'field');
    wrap.appendChild(el('span', '', label));
    const variants = Array.isArray(value);
    const input = el(multiline || variants ? 'textarea' : 'input');
    input.value = textValue(value);
    if (variants) input.rows = Math.min(5, value.length + 1);
    if (variants) wrap.appendChild(el('small', '', 'One wording per line: each user gets one of them.'));
    input.addEventListener('change', () => {
      const lines = input.value.split('\n').map((l) => l.trim()).filter(Boolean);
      const next = variants || lines.length > 1 ? lines : (lines[0] || null);
      edit([{ op: 'set', path, value: Array.isArray(next) && next.length === 1 ? next[0] : next }]);
    });
    input.addEventListener('input', () => { schedulePreviewFromForm(input); });
    wrap.appendChild(input);
    return wrap;
  }

  // Typing in the form previews at once (the edit is made when the field is left, or after a pause).
  function schedulePreviewFromForm(input) {
    clearTimeout(input.pending);
    input.pending = setTimeout(() => { input.dispatchEvent(new Event('change')); }, DEBOUNCE_MS);
  }

  function conditionField(frame, i) {
    const wrap = el('label', 'field');
    wrap.appendChild(el('span', '', 'Shown when'));
    const select = el('select');
    const always = el('option', '', 'Always');
    always.value = '';
    select.appendChild(always);
    const metrics = Object.keys((state.spec && state.spec.metrics) || {});
    const current = frame.when || '';
    let matched = current === '';
    metrics.forEach((name) => {
      const text = `${name} >= 1`;
      const option = el('option', '', `${name} is at least 1`);
      option.value = text;
      if (current === text) matched = true;
      select.appendChild(option);
    });
    if (!matched) {
      const custom = el('option', '', `As written: ${current}`);
      custom.value = current;
      select.appendChild(custom);
    }
    select.value = current;
    select.addEventListener('change', () => { edit([{ op: 'set', path: ['frames', i, 'when'], value: select.value || null }]); });
    wrap.appendChild(select);
    return wrap;
  }

  function frameCard(frame, i, count) {
    const card = el('article', 'frame-card');
    card.dataset.frame = frame.id;
    const head = el('header');
    head.appendChild(el('span', 'index', String(i + 1)));
    head.appendChild(el('span', 'kind', frame.kind));
    head.appendChild(el('strong', '', frame.id));
    const on = el('label', 'toggle');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = frame.enabled !== false;
    box.addEventListener('change', () => { edit([{ op: 'set', path: ['frames', i, 'enabled'], value: box.checked ? null : false }]); });
    on.appendChild(box);
    on.appendChild(el('span', '', 'Shown'));
    head.appendChild(on);
    [['↑', 'Move up', i - 1], ['↓', 'Move down', i + 1]].forEach(([glyph, name, to]) => {
      const move = el('button', 'move', glyph);
      move.type = 'button';
      move.setAttribute('aria-label', `${name}: ${frame.id}`);
      move.disabled = to < 0 || to >= count;
      move.addEventListener('click', () => { edit([{ op: 'move', path: ['frames', i], to }]); });
      head.appendChild(move);
    });
    card.appendChild(head);
    if (frame.enabled === false) card.classList.add('off');
    card.appendChild(field('Title', frame.title, ['frames', i, 'title']));
    card.appendChild(field('Subtitle', frame.subtitle, ['frames', i, 'subtitle']));
    card.appendChild(field('Body', frame.body, ['frames', i, 'body'], true));
    const row = el('div', 'row');
    const seconds = el('label', 'field small');
    seconds.appendChild(el('span', '', 'Seconds on screen'));
    const number = el('input');
    number.type = 'number';
    number.min = '1';
    number.max = '60';
    number.value = String(Math.round((frame.duration_ms || 6000) / 1000));
    number.addEventListener('change', () => {
      edit([{ op: 'set', path: ['frames', i, 'duration_ms'], value: Math.max(1, Math.min(60, Number(number.value) || 6)) * 1000 }]);
    });
    seconds.appendChild(number);
    row.appendChild(seconds);
    const colour = el('label', 'field small');
    colour.appendChild(el('span', '', 'Background'));
    const picker = el('input');
    picker.type = 'color';
    picker.value = (frame.background && frame.background.color) || (state.spec.theme && state.spec.theme.background) || '#121212';
    picker.addEventListener('change', () => { edit([{ op: 'set', path: ['frames', i, 'background', 'color'], value: picker.value }]); });
    colour.appendChild(picker);
    row.appendChild(colour);
    row.appendChild(conditionField(frame, i));
    card.appendChild(row);
    card.addEventListener('focusin', () => { focusFrame(frame.id); });
    return card;
  }

  function focusFrame(id) {
    state.frameId = id;
    if (!state.player || !state.story) return;
    const at = state.story.frames.findIndex((f) => f.id === id);
    if (at >= 0 && state.player.state().index !== at) state.player.go(at);
  }

  function drawForm() {
    const view = $('form-view');
    const focused = document.activeElement && view.contains(document.activeElement);
    if (focused) return;   // never redraw under the author's cursor; the next check will
    view.replaceChildren();
    const frames = state.spec.frames || [];
    frames.forEach((frame, i) => { view.appendChild(frameCard(frame, i, frames.length)); });
    const card = el('article', 'frame-card');
    const head = el('header');
    head.appendChild(el('span', 'kind', 'card'));
    head.appendChild(el('strong', '', 'The card people share'));
    card.appendChild(head);
    card.appendChild(field('Title', state.spec.card.title, ['card', 'title']));
    card.appendChild(field('Subtitle', state.spec.card.subtitle, ['card', 'subtitle']));
    view.appendChild(card);
  }

  // --- saving, publishing, versions --------------------------------------------------------------

  function showVersions(versions) {
    const list = $('versions');
    list.replaceChildren();
    versions.slice().reverse().forEach((v) => {
      const item = el('li');
      item.appendChild(el('span', 'v', `v${v.version}`));
      item.appendChild(el('span', 'when', new Date(v.created_at).toLocaleString()));
      item.appendChild(el('span', `badge ${v.status}`, v.status));
      if (state.published && v.version < state.published) {
        const back = el('button', 'quiet', 'Roll back to this');
        back.type = 'button';
        back.addEventListener('click', () => {
          api('POST', `/templates/${encodeURIComponent(state.id)}/rollback`, { version: v.version })
            .then(() => open(state.id)).then(loadList).catch((err) => { setStatus(err.message); });
        });
        item.appendChild(back);
      }
      list.appendChild(item);
    });
  }

  // Publish: the changes on screen as a new version, or the draft already saved as it is.
  function save(publish) {
    const id = encodeURIComponent(state.id);
    const saved = publish && !state.dirty && state.version
      ? api('POST', `/templates/${id}/publish`, { version: state.version }).then((json) => ({ version: json.published }))
      : api('POST', `/templates/${id}/versions`, { source: state.source, publish });
    saved
      .then((json) => open(state.id).then(() => { setStatus(publish ? `Version ${json.version} published` : `Draft version ${json.version} saved`); }))
      .then(loadList)
      .catch((err) => {
        const details = err.body && err.body.error && err.body.error.details;
        if (details && details.errors) { state.errors = details.errors; showProblems(); }
        setStatus(err.message);
      });
  }

  function showTab(name) {
    const form = name === 'form';
    $('tab-form').setAttribute('aria-selected', String(form));
    $('tab-toml').setAttribute('aria-selected', String(!form));
    $('form-view').hidden = !form;
    $('toml-view').hidden = form;
  }

  $('tab-form').addEventListener('click', () => { showTab('form'); });
  $('tab-toml').addEventListener('click', () => { showTab('toml'); });
  $('source').addEventListener('input', () => { setSource($('source').value, true); });
  $('source').addEventListener('scroll', () => { $('gutter').scrollTop = $('source').scrollTop; });
  $('save').addEventListener('click', () => { save(false); });
  $('publish').addEventListener('click', () => { save(true); });
  $('sample').addEventListener('change', () => { $('user-id').value = ''; schedule(); });
  $('user-id').addEventListener('change', schedule);
  loadList().catch(() => {});
})();
