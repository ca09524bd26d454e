// `#/detector/{did}`: one trained detector. Its mAP@0.5 and mAP@[.5:.95], a table per label
// (AP50, AP, recall), the precision–recall curve of each label, the training history (loss and
// eval mAP per epoch), "try it" on an image (POST /api/v1/detect?detector=), download, delete.
import { get, post, del, form } from '../lib/api.js';
import { h, card, field, button, pageHead, empty, dropZone, confirmDialog, toast, showError, icon, loading, when } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { lineChart } from '../lib/chart.js';
import { pct } from './studio.js';

const API = '/api/v1/studio';
const SVG = 'http://www.w3.org/2000/svg';

export async function detector({ main, params, navigate }) {
  const did = Number(params[0]);
  let d;
  try {
    d = await get(`${API}/detectors/${did}`);
  } catch (err) {
    main.append(pageHead(t('det.title')), card(null, empty('studio', err.message, h('a', { class: 'btn btn-secondary', href: '#/studio' }, t('studio.back')))));
    return;
  }
  const metrics = d.metrics || { per_label: [] };
  const colourOf = (id) => (d.labels.find((l) => l.id === id) || {}).color;

  const download = h('a', { class: 'btn btn-secondary', href: `${API}/detectors/${did}/download`, download: `detector-${did}.zip`, id: 'det-download' }, icon('download'), h('span', {}, t('det.download')));
  const remove = button(t('common.delete'), {
    kind: 'ghost', iconName: 'trash', id: 'det-delete',
    onclick: async () => {
      if (!(await confirmDialog(t('det.delete.confirm'), t('common.delete')))) return;
      try {
        await del(`${API}/detectors/${did}`);
        toast(t('det.deleted'));
        navigate('studio', d.project_id);
      } catch (err) {
        showError(err);
      }
    },
  });
  const back = h('a', { class: 'btn btn-ghost', href: `#/studio/${d.project_id}` }, t('det.back'));

  const stats = h('div', { class: 'stats' },
    stat(t('det.map50'), pct(metrics.map50), 'det-map50'),
    stat(t('det.map'), pct(metrics.map), 'det-map'),
    stat(t('det.frames'), t('det.frames.value', { train: d.train_frames ?? '–', eval: d.eval_frames ?? '–' })),
    stat(t('det.time'), d.training_secs ? `${Math.round(d.training_secs)} s` : '–'));

  const table = h('table', { class: 'table', id: 'det-table' },
    h('caption', { class: 'sr-only' }, t('det.perlabel')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('det.label')), h('th', { scope: 'col' }, 'AP50'), h('th', { scope: 'col' }, 'AP'), h('th', { scope: 'col' }, t('det.recall')))),
    h('tbody', {}, (metrics.per_label || []).map((l) => {
      const sw = h('span', { class: 'label-swatch', 'aria-hidden': 'true' });
      sw.style.background = colourOf(l.label_id) || '#888';
      return h('tr', {}, h('th', { scope: 'row' }, h('span', { class: 'row' }, sw, l.name)), h('td', {}, pct(l.ap50)), h('td', {}, pct(l.ap)), h('td', {}, pct(l.recall)));
    }), (metrics.per_label || []).length ? null : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, t('det.noeval')))));

  const pr = lineChart({
    label: t('det.pr'), xLabel: t('chart.recall'), yLabel: t('chart.precision'), xMin: 0, xMax: 1, yMin: 0, yMax: 1,
    empty: t('det.nodata'),
    series: (metrics.per_label || []).map((l) => ({ name: l.name, colour: colourOf(l.label_id), points: (l.pr_curve || []).map(([r, p]) => [r, p]) })),
  });
  const hist = d.history || [];
  const training = lineChart({
    label: t('det.history'), xLabel: t('chart.epoch'), yLabel: t('chart.loss'), y2Label: t('chart.map50'), xMin: 0, yMin: 0, y2Min: 0, y2Max: 1,
    empty: t('det.nodata'),
    series: [
      { name: t('chart.loss'), points: hist.map((e) => [e.epoch, e.loss]) },
      { name: t('chart.map50'), axis: 'y2', points: hist.filter((e) => typeof e.eval_map50 === 'number').map((e) => [e.epoch, e.eval_map50]) },
    ],
  });

  // Try it.
  let file = null;
  const img = h('img', { class: 'stage-img', alt: t('play.image.alt'), id: 'det-image' });
  const overlay = document.createElementNS(SVG, 'svg');
  overlay.setAttribute('class', 'boxes det-boxes');
  overlay.setAttribute('aria-hidden', 'true');
  const stage = h('div', { class: 'stage', hidden: true }, img, overlay);
  const result = h('div', { class: 'result', id: 'det-result', 'aria-live': 'polite' });
  const minScore = h('input', { type: 'number', min: 0.05, max: 0.95, step: 0.05, value: 0.3, id: 'det-min' });
  const zone = dropZone(t('play.pick'), 'image/*', (picked) => {
    file = picked;
    img.src = URL.createObjectURL(picked);
    stage.hidden = false;
    overlay.replaceChildren();
    result.replaceChildren();
  });
  zone.input.id = 'det-file';
  const run = button(t('play.detect'), { id: 'det-run', iconName: 'search' });
  run.addEventListener('click', async () => {
    if (!file) { toast(t('play.pick.first'), 'error'); return; }
    result.replaceChildren(loading());
    try {
      const answer = await post(`/api/v1/detect?detector=${did}&min_score=${encodeURIComponent(minScore.value)}`, form({ file }));
      draw(answer);
      result.replaceChildren(h('p', { class: 'answer' }, h('span', { class: 'answer-label' }, t('play.found', { count: answer.boxes.length }))),
        h('ul', { class: 'list' }, answer.boxes.map((b) => h('li', { class: 'list-item' }, h('span', { class: 'grow' }, b.label), h('span', { class: 'muted' }, pct(b.score))))));
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error-text' }, err.message));
    }
  });

  function draw(answer) {
    overlay.setAttribute('viewBox', `0 0 ${answer.width} ${answer.height}`);
    overlay.replaceChildren();
    const stroke = Math.max(2, Math.round(Math.max(answer.width, answer.height) / 200));
    for (const b of answer.boxes) {
      const colour = colourOf(b.label_id) || '#ffb020';
      const rect = document.createElementNS(SVG, 'rect');
      for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.width, height: b.height, 'stroke-width': stroke, stroke: colour })) rect.setAttribute(k, v);
      const text = document.createElementNS(SVG, 'text');
      for (const [k, v] of Object.entries({ x: b.x + stroke, y: Math.max(stroke * 7, b.y - stroke * 2), fill: colour, 'font-size': stroke * 7, class: 'ann-text' })) text.setAttribute(k, v);
      text.textContent = `${b.label} ${Math.round(b.score * 100)}%`;
      overlay.append(rect, text);
    }
  }

  main.append(
    pageHead(d.name || t('studio.detector.name', { id: did }), d.base_detector_id
      ? t('det.lead.tuned', { when: when(d.created_at), base: t('studio.detector.name', { id: d.base_detector_id }) })
      : t('det.lead', { when: when(d.created_at) }), back, download, remove),
    h('div', { class: 'split' },
      h('div', { class: 'stack' },
        card(t('det.quality'), stats, table),
        card(t('det.try'), zone, stage, h('div', { class: 'row end-items try-row' }, field(t('ann.auto.min'), minScore), run), result)),
      h('div', { class: 'stack' },
        card(t('det.pr'), pr),
        card(t('det.history'), training))));
}

function stat(label, value, id) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value', id }, value), h('div', { class: 'stat-label muted small' }, label));
}
