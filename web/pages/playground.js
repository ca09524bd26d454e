// `#/playground`: classify and detect on one image. The class with its top-k scores, the boxes
// of a chosen cascade (or your own cascade XML) drawn over the image, and the `curl` line that
// makes the same request.
import { get, post, form } from '../lib/api.js';
import { h, card, field, button, pageHead, empty, dropZone, toast, showError, loading } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

export async function playground({ main }) {
  let file = null;
  const img = h('img', { class: 'stage-img', alt: t('play.image.alt'), id: 'play-image' });
  const overlay = document.createElementNS(SVG, 'svg');
  overlay.setAttribute('class', 'boxes');
  overlay.setAttribute('aria-hidden', 'true');
  const stage = h('div', { class: 'stage', hidden: true }, img, overlay);
  const placeholder = empty('search', t('play.empty'));
  const zone = dropZone(t('play.pick'), 'image/*', (picked) => {
    file = picked;
    img.src = URL.createObjectURL(picked);
    stage.hidden = false;
    placeholder.hidden = true;
    overlay.replaceChildren();
    classResult.replaceChildren();
    detectResult.replaceChildren();
  });
  zone.input.id = 'play-file';

  const topk = h('input', { type: 'number', min: 1, max: 20, value: 5, id: 'top-k' });
  const classResult = h('div', { class: 'result', id: 'classify-result', 'aria-live': 'polite' });
  const classifyBtn = button(t('play.classify'), { id: 'classify', iconName: 'search' });
  classifyBtn.addEventListener('click', async () => {
    if (!needFile()) return;
    curl.textContent = `curl -F file=@photo.jpg '${location.origin}/api/v1/classify?top_k=${topk.value}'`;
    classResult.replaceChildren(loading());
    try {
      const answer = await post(`/api/v1/classify?top_k=${encodeURIComponent(topk.value)}`, form({ file }));
      classResult.replaceChildren(
        h('p', { class: 'answer' }, h('span', { class: 'answer-label' }, answer.class_name), h('span', { class: 'muted' }, ` ${pct(answer.score)}`)),
        h('ol', { class: 'bars' }, answer.top_k.map((c) => h('li', {},
          h('span', { class: 'bar-label' }, c.class_name),
          meter(c.score),
          h('span', { class: 'bar-value' }, pct(c.score))))),
        h('p', { class: 'muted small' }, t('play.model', { model: answer.model })));
    } catch (err) {
      classResult.replaceChildren(h('p', { class: 'error-text' }, err.message));
    }
  });

  const cascade = h('select', { id: 'cascade' }, h('option', { value: '' }, t('common.loading')));
  const xml = h('input', { type: 'file', accept: '.xml,text/xml,application/xml', id: 'cascade-xml' });
  const detectResult = h('div', { class: 'result', id: 'detect-result', 'aria-live': 'polite' });
  const detectBtn = button(t('play.detect'), { id: 'detect', kind: 'secondary', iconName: 'studio' });
  detectBtn.addEventListener('click', async () => {
    if (!needFile()) return;
    const own = xml.files[0];
    const query = own ? '' : `?cascade=${encodeURIComponent(cascade.value)}`;
    curl.textContent = own
      ? `curl -H 'Authorization: Bearer TOKEN' -F file=@photo.jpg -F cascade_xml=@${own.name} '${location.origin}/api/v1/detect'`
      : `curl -F file=@photo.jpg '${location.origin}/api/v1/detect${query}'`;
    detectResult.replaceChildren(loading());
    try {
      const answer = await post(`/api/v1/detect${query}`, form({ file, cascade_xml: own }));
      drawBoxes(answer);
      detectResult.replaceChildren(h('p', { class: 'answer' },
        h('span', { class: 'answer-label' }, t('play.found', { count: answer.boxes.length })),
        h('span', { class: 'muted' }, ` · ${answer.cascade}`)));
    } catch (err) {
      detectResult.replaceChildren(h('p', { class: 'error-text' }, err.message));
    }
  });

  const curl = h('code', { class: 'curl', id: 'curl' }, `curl -F file=@photo.jpg '${location.origin}/api/v1/classify'`);
  const copy = button(t('common.copy'), {
    kind: 'ghost', iconName: 'copy', class: 'btn btn-ghost btn-small',
    onclick: () => navigator.clipboard.writeText(curl.textContent).then(() => toast(t('play.curl.copied')), () => toast(t('family.copy.failed'), 'error')),
  });

  function needFile() {
    if (file) return true;
    toast(t('play.pick.first'), 'error');
    zone.focus();
    return false;
  }

  function drawBoxes(answer) {
    overlay.setAttribute('viewBox', `0 0 ${answer.width} ${answer.height}`);
    overlay.replaceChildren();
    const stroke = Math.max(2, Math.round(Math.max(answer.width, answer.height) / 200));
    for (const b of answer.boxes) {
      const rect = document.createElementNS(SVG, 'rect');
      for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.width, height: b.height, 'stroke-width': stroke, rx: stroke })) rect.setAttribute(k, v);
      overlay.append(rect);
    }
  }

  main.append(
    pageHead(t('play.title'), t('play.lead')),
    h('div', { class: 'split' },
      h('div', { class: 'stack' }, card(null, zone, placeholder, stage)),
      h('div', { class: 'stack' },
        card(t('play.classify.title'), h('div', { class: 'row end-items' }, field(t('play.topk'), topk), classifyBtn), classResult),
        card(t('play.detect.title'), h('div', { class: 'stack' }, h('div', { class: 'grid-2' }, field(t('play.cascade'), cascade), field(t('play.xml'), xml, t('play.xml.hint'))), h('div', {}, detectBtn)), detectResult),
        card(t('play.request'), h('div', { class: 'curl-row' }, curl, copy)))));

  try {
    const cascades = await get('/api/v1/detect/cascades');
    cascade.replaceChildren(...cascades.map((c) => h('option', { value: c.name, selected: c.name === 'frontalface_default' }, c.name)));
    if (!cascades.length) cascade.replaceChildren(h('option', { value: '' }, t('play.nocascades')));
  } catch (err) {
    cascade.replaceChildren(h('option', { value: '' }, t('play.nocascades')));
  }
}

function pct(score) {
  return `${(score * 100).toFixed(1)}%`;
}

function meter(score) {
  const fill = h('span', { class: 'meter-fill' });
  fill.style.width = `${Math.max(1, score * 100)}%`;
  return h('span', { class: 'meter', 'aria-hidden': 'true' }, fill);
}
