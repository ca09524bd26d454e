// `#/studio` and `#/studio/{pid}`: the detector studio. The list of projects (create, rename,
// share with the family, delete), and one project: its labels with their colours, its media
// (upload with real progress, import followed live), the export menu, the training card with a
// live loss / eval mAP chart from `job-progress` events, and the detectors it has trained.
import { get, post, patch, del, uploadFile } from '../lib/api.js';
import { h, card, field, button, pageHead, empty, loading, progressBar, dropZone, confirmDialog, promptDialog, toast, showError, icon, when } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { onJobProgress } from '../lib/realtime.js';
import { stageText, statusText, finished } from '../lib/jobs.js';
import { lineChart } from '../lib/chart.js';

const API = '/api/v1/studio';
const FORMATS = ['cvat_video', 'cvat_images', 'coco', 'yolo', 'voc'];
const BUDGETS = [15, 30, 60, 120, 300, 600, 1800];
const PALETTE = ['#e03131', '#1971c2', '#2f9e44', '#f08c00', '#9c36b5', '#0c8599', '#e8590c', '#5c940d'];

export async function studio(ctx) {
  if (ctx.params[0]) return project(ctx, Number(ctx.params[0]));
  return projects(ctx);
}

/** The projects list. */
async function projects({ main, user, navigate }) {
  const list = h('ul', { class: 'list', id: 'project-list' });
  const name = h('input', { name: 'project-name', id: 'project-name', required: true, maxlength: 120, autocomplete: 'off' });
  const share = h('input', { type: 'checkbox', id: 'project-share' });
  const create = button(t('studio.create'), { type: 'submit', iconName: 'plus', id: 'create-project' });
  const formEl = h('form', { class: 'stack' },
    field(t('studio.name'), name, t('studio.name.hint')),
    h('label', { class: 'check' }, share, h('span', {}, t('studio.share'))),
    h('div', {}, create));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    create.disabled = true;
    try {
      const made = await post(`${API}/projects`, { name: name.value.trim(), shared_with_family: share.checked });
      toast(t('studio.created'));
      navigate('studio', made.id);
    } catch (err) {
      showError(err);
    } finally {
      create.disabled = false;
    }
  });

  main.append(
    pageHead(t('studio.title'), t('studio.lead')),
    h('div', { class: 'split' },
      card(t('studio.new'), formEl),
      h('section', { class: 'card', 'aria-labelledby': 'projects-title' }, h('h2', { class: 'card-title', id: 'projects-title' }, t('studio.projects')), list)));

  function row(p) {
    const mine = p.owner_id === user.id;
    const title = h('a', { href: `#/studio/${p.id}`, class: 'project-link' }, p.name);
    const shareBox = h('input', { type: 'checkbox', checked: p.shared_with_family, disabled: !mine, 'aria-label': t('studio.share.of', { name: p.name }) });
    shareBox.addEventListener('change', async () => {
      try {
        Object.assign(p, await patch(`${API}/projects/${p.id}`, { shared_with_family: shareBox.checked }));
        toast(p.shared_with_family ? t('studio.shared') : t('studio.unshared'));
      } catch (err) {
        shareBox.checked = !shareBox.checked;
        showError(err);
      }
    });
    const rename = button(t('studio.rename'), {
      kind: 'ghost', class: 'btn btn-ghost btn-small', 'aria-label': t('studio.rename.of', { name: p.name }), hidden: !mine,
      onclick: async () => {
        const next = await promptDialog(t('studio.rename.title'), t('studio.name'), p.name, t('studio.rename'));
        if (!next || next === p.name) return;
        try {
          Object.assign(p, await patch(`${API}/projects/${p.id}`, { name: next }));
          title.textContent = p.name;
        } catch (err) {
          showError(err);
        }
      },
    });
    const remove = button(t('common.delete'), {
      kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'aria-label': t('studio.delete.of', { name: p.name }), hidden: !mine,
      onclick: async () => {
        if (!(await confirmDialog(t('studio.delete.confirm', { name: p.name }), t('common.delete')))) return;
        try {
          await del(`${API}/projects/${p.id}`);
          el.remove();
          if (!list.children.length) list.append(h('li', {}, empty('studio', t('studio.empty'))));
          toast(t('studio.deleted'));
        } catch (err) {
          showError(err);
        }
      },
    });
    const el = h('li', { class: 'list-item project', dataset: { project: p.id } },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, icon('studio')),
      h('div', { class: 'grow' },
        h('div', {}, title, mine ? null : h('span', { class: 'badge badge-accent' }, t('studio.fromfamily'))),
        h('div', { class: 'muted small' }, t('studio.counts', { media: p.media_count, frames: p.annotated_frames, detectors: p.detector_count }))),
      h('div', { class: 'row wrap end' },
        h('label', { class: 'check small' }, shareBox, h('span', {}, t('studio.family'))), rename, remove));
    return el;
  }

  list.append(loading());
  try {
    const all = (await get(`${API}/projects`)).projects;
    list.replaceChildren(...all.map(row));
    if (!all.length) list.append(h('li', {}, empty('studio', t('studio.empty'))));
  } catch (err) {
    list.replaceChildren(h('li', {}, empty('studio', t('studio.empty'))));
    showError(err);
  }
}

/** One project: labels, media, export, training, detectors. */
async function project({ main, user }, pid) {
  let p;
  try {
    p = await get(`${API}/projects/${pid}`);
  } catch (err) {
    main.append(pageHead(t('studio.title')), card(null, empty('studio', err.message, h('a', { class: 'btn btn-secondary', href: '#/studio' }, t('studio.back')))));
    return undefined;
  }
  const mine = p.owner_id === user.id;
  const media = new Map();
  const disposers = [];

  // Export menu: one download link per format.
  const exportMenu = h('details', { class: 'menu', id: 'export-menu' },
    h('summary', { class: 'btn btn-ghost' }, icon('download'), h('span', {}, t('studio.export'))),
    h('ul', { class: 'menu-list' }, FORMATS.map((f) => h('li', {},
      h('a', { href: `${API}/projects/${pid}/export?format=${f}`, download: `${p.name}-${f}.zip`, dataset: { format: f } }, t(`format.${f}`))))));

  const back = h('a', { class: 'btn btn-ghost', href: '#/studio' }, t('studio.back'));
  const head = pageHead(p.name, t('studio.project.lead'), back, exportMenu);

  // Labels.
  const labelList = h('ul', { class: 'list label-list', id: 'label-list' });
  const labelName = h('input', { id: 'label-name', name: 'label-name', required: true, maxlength: 64, autocomplete: 'off' });
  const labelColour = h('input', { type: 'color', id: 'label-colour', value: PALETTE[p.labels.length % PALETTE.length] });
  const labelError = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const addLabel = button(t('studio.label.add'), { type: 'submit', iconName: 'plus', id: 'add-label', kind: 'secondary' });
  const labelForm = h('form', { class: 'label-form' },
    field(t('studio.label.name'), labelName), field(t('studio.label.colour'), labelColour), addLabel);
  labelForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    labelError.hidden = true;
    try {
      const label = await post(`${API}/projects/${pid}/labels`, { name: labelName.value.trim(), color: labelColour.value });
      p.labels.push(label);
      labelList.querySelector('.empty')?.closest('li')?.remove();
      labelList.append(labelRow(label));
      labelName.value = '';
      labelColour.value = PALETTE[p.labels.length % PALETTE.length];
      labelName.focus();
    } catch (err) {
      labelError.textContent = err.message;
      labelError.hidden = false;
    }
  });

  function labelRow(label) {
    const colour = h('input', { type: 'color', class: 'label-colour', value: label.color, 'aria-label': t('studio.label.colour.of', { name: label.name }) });
    const name = h('span', { class: 'grow label-name' }, label.name);
    const error = h('p', { class: 'error-text small', role: 'alert', hidden: true });
    const fail = (err) => { error.textContent = err.message; error.hidden = false; };
    colour.addEventListener('change', async () => {
      error.hidden = true;
      try {
        Object.assign(label, await patch(`${API}/projects/${pid}/labels/${label.id}`, { color: colour.value }));
      } catch (err) {
        colour.value = label.color;
        fail(err);
      }
    });
    const rename = button(t('studio.rename'), {
      kind: 'ghost', class: 'btn btn-ghost btn-small', 'aria-label': t('studio.rename.of', { name: label.name }),
      onclick: async () => {
        const next = await promptDialog(t('studio.label.rename'), t('studio.label.name'), label.name, t('studio.rename'));
        if (!next || next === label.name) return;
        error.hidden = true;
        try {
          Object.assign(label, await patch(`${API}/projects/${pid}/labels/${label.id}`, { name: next }));
          name.textContent = label.name;
        } catch (err) {
          fail(err);
        }
      },
    });
    const remove = button(t('common.delete'), {
      kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small icon-only', 'aria-label': t('studio.label.delete', { name: label.name }),
      onclick: async () => {
        if (!(await confirmDialog(t('studio.label.delete.confirm', { name: label.name }), t('common.delete')))) return;
        error.hidden = true;
        try {
          await del(`${API}/projects/${pid}/labels/${label.id}`);
          p.labels = p.labels.filter((l) => l.id !== label.id);
          el.remove();
        } catch (err) {
          fail(err);
        }
      },
    });
    const el = h('li', { class: 'list-item label', dataset: { label: label.id } },
      h('div', { class: 'grow' }, h('div', { class: 'row' }, colour, name, rename, remove), error));
    return el;
  }
  labelList.append(...p.labels.map(labelRow));
  if (!p.labels.length) labelList.append(h('li', {}, empty('studio', t('studio.labels.empty'))));

  // Media.
  const mediaList = h('ul', { class: 'list media-list', id: 'media-list' });
  const uploadBar = progressBar(t('studio.upload.progress'));
  uploadBar.hidden = true;
  const zone = dropZone(t('studio.media.pick'), 'video/mp4,video/webm,video/quicktime,video/x-matroska,video/x-msvideo,.mp4,.webm,.mov,.mkv,.avi,image/jpeg,image/png,image/webp,image/gif,.zip,application/zip', async (file) => {
    uploadBar.hidden = false;
    uploadBar.update(0, t('studio.uploading', { name: file.name }));
    try {
      const upload = await uploadFile(file, (f) => uploadBar.update(f * 100, t('studio.uploading', { name: file.name })));
      uploadBar.update(100, t('studio.upload.starting'));
      const m = await post(`${API}/projects/${pid}/media`, { upload_id: upload.id });
      mediaList.querySelector('.empty')?.closest('li')?.remove();
      mediaList.prepend(mediaRow(m).el);
      toast(t('studio.upload.done', { name: file.name }));
    } catch (err) {
      showError(err);
    } finally {
      uploadBar.hidden = true;
      zone.input.value = '';
    }
  });
  zone.input.id = 'media-file';

  function mediaRow(m) {
    const thumb = h('div', { class: 'thumb' });
    const status = h('span', { class: 'badge' });
    const info = h('div', { class: 'muted small' });
    const bar = progressBar(t('studio.import.progress', { name: m.name }));
    const error = h('p', { class: 'error-text small', hidden: true });
    const open = h('a', { class: 'btn btn-secondary btn-small annotate-link', href: `#/annotate/${m.id}` }, icon('pen'), h('span', {}, t('studio.annotate')));
    const remove = button(t('common.delete'), {
      kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small icon-only', 'aria-label': t('studio.media.delete', { name: m.name }),
      onclick: async () => {
        if (!(await confirmDialog(t('studio.media.delete.confirm', { name: m.name }), t('common.delete')))) return;
        try {
          await del(`${API}/media/${m.id}`);
          el.remove();
          media.delete(m.id);
        } catch (err) {
          showError(err);
        }
      },
    });
    const el = h('li', { class: 'list-item media-item', dataset: { media: m.id } },
      thumb,
      h('div', { class: 'grow' },
        h('div', { class: 'row between wrap' }, h('strong', { class: 'media-name' }, m.name), status),
        info, bar, error,
        h('div', { class: 'row wrap' }, open, remove)));
    const item = { m, el, thumb, status, info, bar, error, open };
    media.set(m.id, item);
    updateMedia(item, m);
    // Events tell the progress; a slow poll makes sure a finish that raced the row is seen.
    if (m.status === 'importing') {
      const timer = setInterval(async () => {
        if (item.m.status !== 'importing' || !el.isConnected) { clearInterval(timer); return; }
        try {
          const fresh = await get(`${API}/media/${m.id}`);
          if (fresh.status !== 'importing') updateMedia(item, fresh);
        } catch { /* the next event or poll will tell */ }
      }, 3000);
      disposers.push(() => clearInterval(timer));
    }
    return item;
  }

  function updateMedia(item, change) {
    Object.assign(item.m, change);
    const m = item.m;
    item.status.className = `badge media-status media-${m.status}`;
    item.status.textContent = t(`studio.media.${m.status}`);
    item.el.dataset.status = m.status;
    item.bar.hidden = m.status !== 'importing';
    if (m.status === 'importing' && change.progress === undefined) item.bar.update(0, t('photos.waiting'));
    item.open.hidden = m.status !== 'ready';
    item.error.hidden = !m.error;
    item.error.textContent = m.error || '';
    const parts = [];
    if (m.frame_count) parts.push(t('studio.media.frames', { n: m.frame_count }));
    if (m.width) parts.push(`${m.width}×${m.height}`);
    if (m.kind === 'video' && m.duration_ms) parts.push(`${(m.duration_ms / 1000).toFixed(1)} s`);
    item.info.textContent = parts.join(' · ');
    if (m.status === 'ready' && m.thumbnail_url && !item.thumb.firstChild) {
      item.thumb.append(h('img', { src: m.thumbnail_url, alt: t('studio.media.thumb', { name: m.name }), loading: 'lazy' }));
    } else if (!item.thumb.firstChild) {
      item.thumb.append(icon(m.kind === 'video' ? 'play' : 'photo'));
    } else if (m.status === 'ready' && m.thumbnail_url && !item.thumb.querySelector('img')) {
      item.thumb.replaceChildren(h('img', { src: m.thumbnail_url, alt: t('studio.media.thumb', { name: m.name }), loading: 'lazy' }));
    }
  }

  // Training.
  const budget = h('select', { id: 'train-budget' }, BUDGETS.map((s) => h('option', { value: s, selected: s === 120 }, budgetText(s))));
  const baseSelect = h('select', { id: 'train-base' }, h('option', { value: '' }, t('studio.train.fresh')));
  const trainBtn = button(t('studio.train.start'), { id: 'start-training', iconName: 'play' });
  const trainBar = progressBar(t('studio.train.progress'));
  const trainState = h('p', { class: 'muted small', id: 'train-state', 'aria-live': 'polite' });
  const trainError = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const history = [];
  const chart = lineChart({
    label: t('studio.train.chart'), xLabel: t('chart.epoch'), yLabel: t('chart.loss'), y2Label: t('chart.map50'),
    xMin: 0, yMin: 0, y2Min: 0, y2Max: 1, empty: t('studio.train.chart.empty'), series: [],
  });
  chart.id = 'train-chart';
  let training = p.training ? { job_id: p.training.job_id, status: p.training.state } : null;
  function drawChart() {
    chart.xMax = training && training.epochs ? training.epochs : undefined;
    chart.update([
      { name: t('chart.loss'), points: history.map((e) => [e.epoch, e.loss]) },
      { name: t('chart.map50'), axis: 'y2', points: history.filter((e) => e.eval_map50 !== null && e.eval_map50 !== undefined).map((e) => [e.epoch, e.eval_map50]) },
    ]);
  }
  function showTraining() {
    const running = training && !finished(training.status);
    trainBtn.disabled = !!running;
    trainBar.hidden = !running;
    trainState.hidden = false;
    if (!training) { trainState.textContent = t('studio.train.idle'); return; }
    trainState.textContent = running
      ? (training.epoch ? t('studio.train.epoch', { epoch: training.epoch, epochs: training.epochs }) : (training.status === 'queued' ? t('photos.waiting') : stageText(training.stage) || statusText(training.status)))
      : statusText(training.status);
    trainState.dataset.status = training.status;
    trainState.hidden = !!running;
    if (running) trainBar.update(training.progress || 0, trainState.textContent);
  }
  trainBtn.addEventListener('click', async () => {
    trainError.hidden = true;
    trainBtn.disabled = true;
    try {
      const body = { time_budget_secs: Number(budget.value) };
      if (baseSelect.value) body.base_detector_id = Number(baseSelect.value);
      const started = await post(`${API}/projects/${pid}/train`, body);
      history.length = 0;
      drawChart();
      training = { job_id: started.job_id, status: (started.job && started.job.status) || 'queued', progress: 0 };
      toast(t('studio.train.started'));
    } catch (err) {
      trainError.textContent = err.message;
      trainError.hidden = false;
    }
    showTraining();
  });
  drawChart();
  showTraining();

  // Detectors.
  const detectorList = h('ul', { class: 'list', id: 'detector-list' });
  async function loadDetectors() {
    try {
      const all = (await get(`${API}/projects/${pid}/detectors`)).detectors;
      const chosen = baseSelect.value;
      baseSelect.replaceChildren(h('option', { value: '' }, t('studio.train.fresh')),
        ...all.map((d) => h('option', { value: d.id, selected: String(d.id) === chosen }, t('studio.train.from', { name: d.name || t('studio.detector.name', { id: d.id }) }))));
      detectorList.replaceChildren(...all.map((d) => h('li', { class: 'list-item detector-item', dataset: { detector: d.id } },
        h('div', { class: 'grow' },
          h('a', { href: `#/detector/${d.id}` }, d.name || t('studio.detector.name', { id: d.id })),
          h('div', { class: 'muted small' }, when(d.created_at))),
        h('span', { class: 'badge badge-accent' }, t('studio.detector.map', { map: pct(d.metrics?.map50) })))));
      if (!all.length) detectorList.append(h('li', {}, empty('studio', t('studio.detectors.empty'))));
    } catch (err) {
      detectorList.replaceChildren(h('li', {}, h('p', { class: 'error-text' }, err.message)));
    }
  }

  const sharing = h('input', { type: 'checkbox', id: 'project-share', checked: p.shared_with_family, disabled: !mine });
  sharing.addEventListener('change', async () => {
    try {
      Object.assign(p, await patch(`${API}/projects/${pid}`, { shared_with_family: sharing.checked }));
      toast(p.shared_with_family ? t('studio.shared') : t('studio.unshared'));
    } catch (err) {
      sharing.checked = !sharing.checked;
      showError(err);
    }
  });

  main.append(head,
    h('div', { class: 'studio-grid' },
      h('div', { class: 'stack' },
        card(t('studio.media'), zone, uploadBar, mediaList),
        h('section', { class: 'card', id: 'training-card', 'aria-labelledby': 'training-title' },
          h('h2', { class: 'card-title', id: 'training-title' }, t('studio.train')),
          h('p', { class: 'muted small' }, t('studio.train.lead')),
          h('div', { class: 'row end-items wrap' }, field(t('studio.train.budget'), budget), field(t('studio.train.base'), baseSelect), trainBtn),
          trainError, trainState, trainBar, chart)),
      h('div', { class: 'stack' },
        card(t('studio.labels'), labelList, labelForm, labelError),
        card(t('studio.detectors'), detectorList),
        card(t('studio.sharing'), h('label', { class: 'check' }, sharing, h('span', {}, t('studio.share'))),
          mine ? null : h('p', { class: 'muted small' }, t('studio.notowner'))))));

  mediaList.append(loading());
  try {
    const all = (await get(`${API}/projects/${pid}/media`)).media;
    mediaList.replaceChildren(...all.map((m) => mediaRow(m).el));
    if (!all.length) mediaList.append(h('li', {}, empty('upload', t('studio.media.empty'))));
  } catch (err) {
    mediaList.replaceChildren();
    showError(err);
  }
  loadDetectors();
  if (training) {
    get(`/api/v1/jobs/${training.job_id}`).then((job) => { training = { ...training, ...job }; showTraining(); }).catch(() => {});
  }

  const onEvent = (event) => {
    if (event.kind === 'studio_import') {
      const item = [...media.values()].find((i) => i.m.job_id === event.job_id);
      if (!item) return;
      if (finished(event.status)) {
        get(`${API}/media/${item.m.id}`).then((m) => updateMedia(item, m)).catch(() => {});
      } else {
        updateMedia(item, { progress: event.progress });
        item.bar.update(event.progress, stageText(event.stage) || t('studio.media.importing'));
      }
    } else if (event.kind === 'train') {
      if (!training || training.job_id !== event.job_id) {
        // A training started elsewhere (another tab, a family member's is not ours to see).
        get(`${API}/projects/${pid}`).then((fresh) => {
          if (fresh.training && fresh.training.job_id === event.job_id) {
            training = { job_id: event.job_id, status: event.status };
            showTraining();
          }
        }).catch(() => {});
        return;
      }
      if (finished(training.status) && !finished(event.status)) return;
      Object.assign(training, { status: event.status, progress: event.progress, stage: event.stage });
      if (event.epoch !== undefined && event.epoch !== null) {
        Object.assign(training, { epoch: event.epoch, epochs: event.epochs });
        if (!history.some((e) => e.epoch === event.epoch)) history.push({ epoch: event.epoch, loss: event.loss, eval_map50: event.eval_map50 });
        drawChart();
      }
      if (finished(event.status)) {
        loadDetectors();
        if (event.status === 'failed') {
          get(`/api/v1/jobs/${event.job_id}`).then((job) => {
            if (job.error) { trainError.textContent = job.error.message; trainError.hidden = false; }
          }).catch(() => {});
        } else if (event.status === 'succeeded') {
          toast(t('studio.train.done'));
        }
      }
      showTraining();
    }
  };
  let off = null;
  onJobProgress(user.id, onEvent).then((f) => { off = f; }).catch(showError);
  return () => {
    if (off) off();
    for (const d of disposers) d();
  };
}

function budgetText(secs) {
  return secs < 60 ? t('studio.secs', { n: secs }) : t('studio.mins', { n: secs / 60 });
}

/** A fraction as a percentage ("71.3%"), or "–". */
export function pct(v) {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
}
