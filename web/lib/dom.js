// Small DOM helpers: element builder (text is always set as text, never parsed as HTML),
// icons, toasts, dialogs, progress bars and the shared page pieces every page is built from.
import { t } from './i18n.js';

/** Builds an element: h('button', {class: 'btn', onclick}, 'Label', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled' || key === 'muted') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const ICONS = {
  brush: 'M7 14c-1.7 0-3 1.3-3 3 0 1.3-1.2 2-2 2 .9 1.2 2.5 2 4 2 2.2 0 4-1.8 4-4 0-1.7-1.3-3-3-3zm13.7-9.3-1.4-1.4a1 1 0 0 0-1.4 0L9 12.2 11.8 15l8.9-8.9a1 1 0 0 0 0-1.4z',
  photo: 'M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5l3.5-4.5z',
  family: 'M16 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm-8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm0 2c-2.3 0-7 1.2-7 3.5V19h14v-2.5C15 14.2 10.3 13 8 13zm8 0c-.3 0-.6 0-1 .1 1.2.8 2 2 2 3.4V19h6v-2.5c0-2.3-4.7-3.5-7-3.5z',
  search: 'M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 14 15.5l.3.3v.8l5 5 1.5-1.5-5-5zm-6 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9z',
  jobs: 'M3 13h2v-2H3v2zm0 4h2v-2H3v2zm0-8h2V7H3v2zm4 4h14v-2H7v2zm0 4h14v-2H7v2zM7 7v2h14V7H7z',
  studio: 'M3 5v4h2V5h4V3H5a2 2 0 0 0-2 2zm2 10H3v4a2 2 0 0 0 2 2h4v-2H5v-4zm14 4h-4v2h4a2 2 0 0 0 2-2v-4h-2v4zm0-16h-4v2h4v4h2V5a2 2 0 0 0-2-2zM8 8h8v8H8z',
  undo: 'M12.5 8c-2.6 0-5 1-6.9 2.6L2 7v9h9l-3.6-3.6A8 8 0 0 1 20.1 16l2.4-.8A10.5 10.5 0 0 0 12.5 8z',
  eraser: 'M16.2 3.6 21 8.4a2 2 0 0 1 0 2.8L12.2 20H20v2H8l-4.9-4.9a2 2 0 0 1 0-2.8L13.4 3.6a2 2 0 0 1 2.8 0zM5 15.7l4.2 4.3h.2l3.5-3.5-4.3-4.3L5 15.7z',
  pen: 'M3 17.3V21h3.8L17.8 9.9 14 6.2 3 17.3zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.7 3.7L20.7 7z',
  marker: 'M18 2l4 4-12 12H6v-4L18 2zM4 20h16v2H4z',
  trash: 'M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z',
  copy: 'M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z',
  plus: 'M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6v2z',
  upload: 'M9 16h6v-6h4l-7-7-7 7h4v6zm-4 2h14v2H5v-2z',
  download: 'M19 9h-4V3H9v6H5l7 7 7-7zM5 18v2h14v-2H5z',
  close: 'M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z',
  globe: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm6.9 6h-3a15.7 15.7 0 0 0-1.4-3.6A8 8 0 0 1 18.9 8zM12 4c.8 1.2 1.5 2.5 1.9 4h-3.8c.4-1.4 1.1-2.8 1.9-4zM4.3 14a8.2 8.2 0 0 1 0-4h3.4a16.5 16.5 0 0 0 0 4H4.3zm.8 2h3a15.7 15.7 0 0 0 1.4 3.6A8 8 0 0 1 5.1 16zm3-8h-3a8 8 0 0 1 4.3-3.6C8.9 5.5 8.4 6.7 8.1 8zM12 20c-.8-1.2-1.5-2.5-1.9-4h3.8c-.4 1.4-1.1 2.8-1.9 4zm2.3-6H9.7a14.7 14.7 0 0 1 0-4h4.6a14.7 14.7 0 0 1 0 4zm.3 5.6c.6-1.1 1.1-2.3 1.4-3.6h3a8 8 0 0 1-4.4 3.6zm1.8-5.6a16.5 16.5 0 0 0 0-4h3.4a8.2 8.2 0 0 1 0 4h-3.4z',
  play: 'M8 5v14l11-7z',
  pause: 'M6 19h4V5H6v14zm8-14v14h4V5h-4z',
  prev: 'M6 6h2v12H6zm3.5 6 8.5 6V6z',
  next: 'M6 18l8.5-6L6 6v12zM16 6v12h2V6h-2z',
  box: 'M3 3h18v18H3V3zm2 2v14h14V5H5z',
  redo: 'M18.4 10.6A10.5 10.5 0 0 0 1.5 15.2l2.4.8A8 8 0 0 1 16.6 12.4L13 16h9V7l-3.6 3.6z',
  zoomin: 'M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 14 15.5l.3.3v.8l5 5 1.5-1.5-5-5zm-6 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zM12 10h-2v2H9v-2H7V9h2V7h1v2h2v1z',
  zoomout: 'M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 14 15.5l.3.3v.8l5 5 1.5-1.5-5-5zm-6 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zM7 9h5v1H7V9z',
  chart: 'M5 9.2h3V19H5V9.2zM10.6 5h2.8v14h-2.8V5zm5.6 8H19v6h-2.8v-6z',
  check: 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2z',
  logout: 'M10.1 15.6 11.5 17l5-5-5-5-1.4 1.4 2.6 2.6H3v2h9.7l-2.6 2.6zM19 3H5a2 2 0 0 0-2 2v4h2V5h14v14H5v-4H3v4a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2z',
};

/** An inline SVG icon (decorative: hidden from assistive technology). */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.plus);
  svg.append(path);
  return svg;
}

/** A toast: errors stay until closed (or 8 s), others go after 4 s. */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': t('common.close') }, icon('close'));
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, message), close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  region.append(el);
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

/** Shows an error from the API client (or any Error) as a toast. */
export function showError(err) {
  console.warn(err);
  toast(err && err.message ? err.message : t('common.unexpected'), 'error');
}

/** A card section with a heading. */
export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', { class: 'card-title' }, title) : null, ...children);
}

/** A page header: title, optional lead sentence and actions. */
export function pageHead(title, lead, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, title), lead ? h('p', { class: 'lead' }, lead) : null),
    actions.length ? h('div', { class: 'page-actions' }, ...actions) : null);
}

/** An empty state: icon, sentence, optional action. */
export function empty(iconName, message, action) {
  return h('div', { class: 'empty' }, icon(iconName), h('p', {}, message), action || null);
}

/** A loading placeholder. */
export function loading() {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('common.loading'));
}

/** A labelled progress bar; `update(percent, text)` moves it. */
export function progressBar(label) {
  const fill = h('div', { class: 'progress-fill' });
  const text = h('span', { class: 'progress-text' });
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': label }, fill);
  const el = h('div', { class: 'progress-wrap' }, bar, text);
  el.update = (percent, caption) => {
    const p = Math.max(0, Math.min(100, Math.round(percent || 0)));
    fill.style.width = `${p}%`;
    bar.setAttribute('aria-valuenow', p);
    text.textContent = caption || '';
  };
  return el;
}

/** A labelled form field around an input/select/textarea. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A button: h('button') with the design system's classes. */
export function button(label, { kind = 'primary', iconName, type = 'button', ...rest } = {}) {
  return h('button', { class: `btn btn-${kind}`, type, ...rest }, iconName ? icon(iconName) : null, h('span', {}, label));
}

/** Confirms with a modal dialog; resolves true or false. */
export function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'dialog', 'aria-label': message });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.append(
      h('p', {}, message),
      h('div', { class: 'row end' },
        button(t('common.cancel'), { kind: 'ghost', onclick: () => done(false) }),
        button(confirmLabel, { kind: 'danger', onclick: () => done(true) })));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Asks for one line of text in a modal dialog; resolves with the trimmed text or null. */
export function promptDialog(title, label, value, confirmLabel) {
  return new Promise((resolve) => {
    const input = h('input', { value: value || '', required: true, autocomplete: 'off' });
    const dialog = h('dialog', { class: 'dialog', 'aria-label': title });
    const formEl = h('form', { class: 'stack', method: 'dialog' },
      h('h2', {}, title), field(label, input),
      h('div', { class: 'row end' },
        button(t('common.cancel'), { kind: 'ghost', onclick: () => done(null) }),
        button(confirmLabel, { type: 'submit' })));
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    formEl.addEventListener('submit', (e) => { e.preventDefault(); done(input.value.trim() || null); });
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(null); });
    dialog.append(formEl);
    document.body.append(dialog);
    dialog.showModal();
    input.select();
  });
}

/** A file picker that also accepts a dropped file; calls `onfile(File)`. */
export function dropZone(label, accept, onfile) {
  const input = h('input', { type: 'file', accept, class: 'visually-hidden' });
  const zone = h('label', { class: 'dropzone' }, icon('upload'), h('span', {}, label), input);
  input.addEventListener('change', () => { if (input.files[0]) onfile(input.files[0]); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) onfile(file);
  });
  zone.input = input;
  return zone;
}

/** A date and time in the current language. */
export function when(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
