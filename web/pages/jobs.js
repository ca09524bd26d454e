// `#/jobs`: every job of mine with its progress, stage, status, error record and a cancel
// button for the ones still queued or running; updated live from `job-progress` events.
import { get, post } from '../lib/api.js';
import { h, pageHead, empty, progressBar, button, showError, toast, when } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { onJobProgress } from '../lib/realtime.js';
import { stageText, statusText, finished, kindText } from '../lib/jobs.js';

const FILTERS = ['', 'queued', 'running', 'succeeded', 'failed', 'canceled'];

export async function jobs({ main, user }) {
  const rows = new Map();
  const list = h('ul', { class: 'list job-list', id: 'job-list' });
  const filter = h('select', { id: 'job-filter', 'aria-label': t('jobs.filter') },
    FILTERS.map((f) => h('option', { value: f }, f ? statusText(f) : t('jobs.all'))));
  filter.addEventListener('change', load);
  main.append(pageHead(t('jobs.title'), t('jobs.lead'), filter), h('section', { class: 'card' }, list));

  function row(job) {
    const bar = progressBar(t('jobs.progress', { kind: kindText(job.kind) }));
    const status = h('span', { class: 'badge' });
    const detail = h('div', { class: 'job-detail' });
    const cancel = button(t('jobs.cancel'), { kind: 'ghost', class: 'btn btn-ghost btn-small job-cancel' });
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try {
        const updated = await post(`/api/v1/jobs/${job.id}/cancel`);
        update(item, updated);
        toast(t('jobs.canceled'));
      } catch (err) {
        cancel.disabled = false;
        showError(err);
      }
    });
    const el = h('li', { class: 'list-item job', dataset: { job: job.id } },
      h('div', { class: 'grow' },
        h('div', { class: 'row between' },
          h('div', {}, h('strong', {}, kindText(job.kind)), h('span', { class: 'muted small' }, ` · ${when(job.created_at)}`)),
          h('div', { class: 'row' }, status, cancel)),
        bar, detail));
    const open = job.kind === 'animate' ? `#/animation/${job.id}`
      : job.kind === 'photo3d' ? '#/photos'
        : job.kind === 'train' && job.params?.project_id ? `#/studio/${job.params.project_id}`
          : job.kind === 'studio_import' && job.params?.media_id ? `#/annotate/${job.params.media_id}`
            : null;
    if (open) status.before(h('a', { class: 'btn btn-ghost btn-small job-open', href: open, hidden: job.status !== 'succeeded' }, t('jobs.open')));
    const item = { job, el, bar, status, detail, cancel };
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
    item.cancel.hidden = finished(job.status);
    const open = item.el.querySelector('.job-open');
    if (open) open.hidden = job.status !== 'succeeded';
    item.bar.hidden = finished(job.status);
    item.bar.update(job.progress, job.status === 'running' ? stageText(job.stage) : t('photos.waiting'));
    const lines = [];
    if (job.attempts > 1) lines.push(h('span', { class: 'muted small' }, t('jobs.attempts', { n: job.attempts, max: job.max_attempts })));
    if (job.error) {
      lines.push(h('p', { class: 'error-text' }, h('strong', {}, job.error.code), ' — ', job.error.message));
    }
    item.detail.replaceChildren(...lines);
  }

  async function load() {
    list.replaceChildren();
    rows.clear();
    try {
      const q = filter.value ? `?status=${filter.value}` : '';
      const all = await get(`/api/v1/jobs${q}`);
      if (!all.length) list.append(h('li', {}, empty('jobs', t('jobs.empty'))));
      for (const job of all) {
        const item = row(job);
        rows.set(job.id, item);
        list.append(item.el);
      }
    } catch (err) {
      showError(err);
    }
  }

  await load();
  let off = null;
  onJobProgress(user.id, (event) => {
    const item = rows.get(event.job_id);
    if (item) {
      update(item, { status: event.status, progress: event.progress, stage: event.stage });
      if (event.status === 'failed') get(`/api/v1/jobs/${event.job_id}`).then((job) => update(item, job)).catch(() => {});
    } else if (!filter.value) {
      get(`/api/v1/jobs/${event.job_id}`).then((job) => {
        if (rows.has(job.id)) return;
        list.querySelector('.empty')?.closest('li')?.remove();
        const created = row(job);
        rows.set(job.id, created);
        list.prepend(created.el);
      }).catch(() => {});
    }
  }).then((f) => { off = f; }).catch(showError);
  return () => off && off();
}
