// `#/gallery`: the family's drawings (image or animation playing inline, title, participants),
// the rooms still open, "new drawing" and "join with a code".
import { get, post } from '../lib/api.js';
import { h, pageHead, empty, button, showError, toast, icon, when } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

export async function gallery({ main, user, navigate }) {
  if (!user.family_id) {
    main.append(pageHead(t('gallery.title'), t('gallery.lead')),
      h('section', { class: 'card' }, empty('family', t('gallery.nofamily'), h('a', { class: 'btn btn-primary', href: '#/family' }, t('gallery.tofamily')))));
    return;
  }
  const create = button(t('gallery.new'), { iconName: 'plus', id: 'new-drawing' });
  create.addEventListener('click', async () => {
    create.disabled = true;
    try {
      const drawing = await post('/api/v1/drawings', {});
      navigate('room', drawing.id);
    } catch (err) {
      create.disabled = false;
      showError(err);
    }
  });
  const code = h('input', { id: 'room-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', class: 'mono', required: true, placeholder: t('gallery.code'), 'aria-label': t('gallery.code') });
  const joinForm = h('form', { class: 'join-inline' }, code, button(t('gallery.join'), { type: 'submit', kind: 'secondary' }));
  main.append(pageHead(t('gallery.title'), t('gallery.lead'), joinForm, create));
  const open = h('div', { class: 'rooms' });
  const grid = h('div', { class: 'gallery-grid', id: 'gallery-grid' });
  main.append(open, grid);

  let drawings = [];
  try {
    drawings = await get('/api/v1/drawings');
  } catch (err) {
    showError(err);
  }
  joinForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const wanted = code.value.trim().toUpperCase();
    const found = drawings.find((d) => d.invitation_code.toUpperCase() === wanted);
    if (!found) {
      toast(t('gallery.code.unknown'), 'error');
      return;
    }
    try {
      await post(`/api/v1/drawings/${found.id}/join`, { invitation_code: wanted });
      navigate('room', found.id);
    } catch (err) {
      showError(err);
    }
  });

  const rooms = drawings.filter((d) => d.status !== 'submitted');
  const done = drawings.filter((d) => d.status === 'submitted');
  if (rooms.length) {
    open.append(h('h2', { class: 'section-title' }, t('gallery.open')),
      h('ul', { class: 'list card' }, rooms.map((d) => h('li', { class: 'list-item' },
        icon('brush'),
        h('div', { class: 'grow' }, h('strong', {}, t(`room.status.${d.status}`)), h('div', { class: 'muted small' }, names(d), ' · ', when(d.created_at))),
        h('a', { class: 'btn btn-secondary btn-small', href: `#/room/${d.id}` }, t(d.participants.some((p) => p.id === user.id) ? 'gallery.enter' : 'gallery.join'))))));
  }
  if (!done.length) {
    grid.append(empty('brush', t('gallery.empty')));
    return;
  }
  for (const d of done) {
    const picture = d.gif_url || d.image_url;
    const media = picture
      ? h('img', { src: picture, dataset: { kind: d.gif_url ? 'gif' : 'image' }, alt: d.title ? t('gallery.alt', { title: d.title }) : t('gallery.alt.untitled'), loading: 'lazy' })
      : h('div', { class: 'media-pending' }, t('gallery.pending'));
    const status = d.animation_status && d.animation_status !== 'succeeded'
      ? h('span', { class: `badge status-${d.animation_status}` }, t(`status.${d.animation_status}`)) : null;
    grid.append(h('article', { class: 'art card', dataset: { drawing: d.id } },
      h('div', { class: 'art-media' }, media),
      h('div', { class: 'art-body' },
        h('h3', {}, d.title || t('gallery.untitled')),
        d.description ? h('p', { class: 'muted' }, d.description) : null,
        h('p', { class: 'small muted' }, names(d)),
        h('div', { class: 'row between' }, status || h('span', { class: 'small muted' }, when(d.submitted_at)),
          d.animate_job_id ? h('a', { class: 'btn btn-ghost btn-small', href: `#/animation/${d.animate_job_id}` }, icon('play'), h('span', {}, t('gallery.animation'))) : null))));
  }
}

function names(drawing) {
  return drawing.participants.map((p) => p.username).join(', ');
}
