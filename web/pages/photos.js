// `#/photos`, the 3D-photo diary: add a photo (and optionally its depth map), choose the camera
// path, follow the job live (pushed `job-progress` events with the stage), then watch the video
// and turn the glTF scene in the page; delete what you no longer want.
import { get, post, del, form } from '../lib/api.js';
import { h, card, field, button, pageHead, empty, loading, progressBar, dropZone, confirmDialog, toast, showError, icon, when } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { onJobProgress } from '../lib/realtime.js';
import { stageText, statusText, finished } from '../lib/jobs.js';

const PATHS = ['circle', 'zoom-in', 'dolly-zoom', 'swing'];

export async function photos({ main, user }) {
  const items = new Map();
  const list = h('div', { class: 'timeline', id: 'photo-list' });
  const disposers = [];

  let photo = null;
  let depth = null;
  const preview = h('img', { class: 'preview', alt: '', hidden: true });
  const photoName = h('span', { class: 'muted small' });
  const zone = dropZone(t('photos.pick'), 'image/jpeg,image/png,image/webp,image/gif', (file) => {
    photo = file;
    photoName.textContent = file.name;
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  });
  zone.input.id = 'photo-file';
  const depthInput = h('input', { type: 'file', accept: 'image/png', id: 'depth-file' });
  depthInput.addEventListener('change', () => { depth = depthInput.files[0] || null; });
  const path = h('select', { id: 'camera-path' }, PATHS.map((p) => h('option', { value: p }, t(`path.${p}`))));
  const notice = h('p', { class: 'notice', role: 'status', hidden: true });
  const submit = button(t('photos.make'), { type: 'submit', iconName: 'photo', id: 'make-3d' });
  const formEl = h('form', { class: 'stack' },
    zone, h('div', { class: 'row' }, preview, photoName),
    h('div', { class: 'grid-2' }, field(t('photos.path'), path, t('photos.path.hint')), field(t('photos.depth'), depthInput, t('photos.depth.hint'))),
    notice, submit);
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    notice.hidden = true;
    if (!photo) {
      toast(t('photos.pick.first'), 'error');
      zone.focus();
      return;
    }
    submit.disabled = true;
    try {
      const view = await post('/api/v1/photo3d', form({ image: photo, depth, path: path.value, formats: 'mp4,glb' }));
      const job = view.job || view;
      toast(t('photos.started'));
      addItem(job, true);
      photo = null; depth = null;
      formEl.reset();
      preview.hidden = true;
      photoName.textContent = '';
    } catch (err) {
      if (err.status === 429) {
        notice.textContent = `${t('photos.cap')} ${err.message}`;
        notice.hidden = false;
      } else {
        showError(err);
      }
    } finally {
      submit.disabled = false;
    }
  });

  main.append(
    pageHead(t('photos.title'), t('photos.lead')),
    h('div', { class: 'split' },
      card(t('photos.new'), formEl),
      h('section', { class: 'card', 'aria-labelledby': 'photos-mine' }, h('h2', { class: 'card-title', id: 'photos-mine' }, t('photos.mine')), list)));

  function addItem(job, first) {
    const bar = progressBar(t('photos.progress'));
    const status = h('span', { class: `badge status-${job.status}` }, statusText(job.status));
    const media = h('div', { class: 'media' });
    const remove = button(t('common.delete'), {
      kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'aria-label': t('photos.delete', { when: when(job.created_at) }),
      onclick: async () => {
        if (!(await confirmDialog(t('photos.delete.confirm'), t('common.delete')))) return;
        try {
          await del(`/api/v1/photo3d/${job.id}`);
          el.remove();
          items.delete(job.id);
          if (!items.size) list.append(emptyState());
          toast(t('photos.deleted'));
        } catch (err) {
          showError(err);
        }
      },
    });
    const el = h('article', { class: 'photo-item', dataset: { job: job.id } },
      h('div', { class: 'row between' }, h('div', {}, h('strong', {}, t(`path.${job.params?.path || 'circle'}`)), h('div', { class: 'muted small' }, when(job.created_at))), h('div', { class: 'row' }, status, remove)),
      bar, media);
    const item = { job, el, bar, status, media, loaded: false };
    items.set(job.id, item);
    list.querySelector('.empty')?.remove();
    if (first) list.prepend(el); else list.append(el);
    update(item, job);
    return item;
  }

  function update(item, change) {
    // A late progress event must not bring a finished job back to life.
    if (finished(item.job.status) && change.status && !finished(change.status)) return;
    Object.assign(item.job, change);
    const job = item.job;
    item.status.className = `badge status-${job.status}`;
    item.status.textContent = statusText(job.status);
    if (finished(job.status)) {
      item.bar.hidden = true;
    } else {
      item.bar.hidden = false;
      item.bar.update(job.progress, job.status === 'queued' ? t('photos.waiting') : stageText(job.stage));
    }
    if (job.status === 'failed' && job.error) {
      item.media.replaceChildren(h('p', { class: 'error-text' }, job.error.message));
    }
    if (job.status === 'succeeded' && !item.loaded) {
      item.loaded = true;
      showOutputs(item);
    }
  }

  async function showOutputs(item) {
    item.media.replaceChildren(loading());
    try {
      const view = await get(`/api/v1/photo3d/${item.job.id}`);
      const out = view.outputs || {};
      const parts = [];
      if (out.mp4) {
        parts.push(h('video', { class: 'video', src: out.mp4.url, controls: true, muted: true, loop: true, autoplay: true, playsinline: true, 'aria-label': t('photos.video') }));
      }
      const viewerBox = h('div', { class: 'viewer', hidden: true });
      const actions = h('div', { class: 'row wrap' });
      if (out.glb) {
        const open = button(t('photos.view3d'), { kind: 'secondary', class: 'btn btn-secondary btn-small view-3d' });
        open.addEventListener('click', async () => {
          if (!viewerBox.hidden) return;
          viewerBox.hidden = false;
          open.disabled = true;
          try {
            const { showGlb } = await import('../lib/viewer3d.js');
            disposers.push(await showGlb(viewerBox, out.glb.url));
          } catch (err) {
            viewerBox.replaceChildren(h('p', { class: 'muted' }, t('photos.nowebgl')));
          }
        });
        actions.append(open, h('a', { class: 'btn btn-ghost btn-small', href: out.glb.url, download: 'photo3d.glb' }, icon('download'), h('span', {}, t('photos.download.glb'))));
      }
      if (out.mp4) actions.append(h('a', { class: 'btn btn-ghost btn-small', href: out.mp4.url, download: 'photo3d.mp4' }, icon('download'), h('span', {}, t('photos.download.mp4'))));
      const source = view.job?.output?.depth_source;
      if (source) actions.append(h('span', { class: 'muted small' }, t('photos.depthsource', { source: t(`depth.${source}`) })));
      item.media.replaceChildren(...parts, actions, viewerBox);
    } catch (err) {
      item.media.replaceChildren(h('p', { class: 'error-text' }, err.message));
    }
  }

  function emptyState() {
    return empty('photo', t('photos.empty'));
  }

  list.append(loading());
  try {
    const jobs = await get('/api/v1/jobs?limit=100');
    list.replaceChildren();
    const mine = (jobs.jobs || jobs).filter((j) => j.kind === 'photo3d');
    if (!mine.length) list.append(emptyState());
    for (const job of mine) addItem(job, false);
  } catch (err) {
    list.replaceChildren(emptyState());
    showError(err);
  }

  let unsubscribe = null;
  onJobProgress(user.id, (event) => {
    if (event.kind !== 'photo3d') return;
    const item = items.get(event.job_id);
    if (item) update(item, { status: event.status, progress: event.progress, stage: event.stage });
    else get(`/api/v1/jobs/${event.job_id}`).then((job) => { if (!items.has(job.id)) addItem(job, true); }).catch(() => {});
    if (event.status === 'failed' && item) get(`/api/v1/jobs/${event.job_id}`).then((job) => update(item, job)).catch(() => {});
  }).then((off) => { unsubscribe = off; }).catch(showError);

  return () => {
    if (unsubscribe) unsubscribe();
    for (const dispose of disposers) dispose();
  };
}
