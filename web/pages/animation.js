// `#/animation/{job}`: an animation (GIF or MP4 playing), the motion picker, the detected
// joints drawn over the character and draggable (pointer or arrow keys), "re-animate" with the
// edited joints, and downloads of the GIF, MP4 and sprite sheet.
import { get, post, form } from '../lib/api.js';
import { h, pageHead, button, field, icon, showError, toast, loading, progressBar, card } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { onJobProgress } from '../lib/realtime.js';
import { stageText, finished } from '../lib/jobs.js';

const MOTIONS = ['dance', 'walk', 'wave', 'jump', 'run'];
const SVG = 'http://www.w3.org/2000/svg';

export async function animation({ main, user, params, navigate }) {
  const jobId = params[0];
  let view;
  try {
    view = await get(`/api/v1/animations/${jobId}`);
  } catch (err) {
    showError(err);
    main.append(pageHead(t('anim.title'), err.message), h('a', { class: 'btn btn-secondary', href: '#/gallery' }, t('room.back')));
    return;
  }
  const job = view.job;
  const uploadId = job.params.upload_id;
  const player = h('div', { class: 'player', id: 'anim-player' });
  const downloads = h('div', { class: 'row wrap', id: 'anim-downloads' });
  const bar = progressBar(t('anim.progress'));
  let off = null;

  function showResult(v) {
    const out = v.outputs || {};
    player.replaceChildren();
    downloads.replaceChildren();
    if (out.mp4) player.append(h('video', { src: out.mp4.url, autoplay: true, loop: true, muted: true, playsinline: true, controls: true, 'aria-label': t('anim.video') }));
    else if (out.gif) player.append(h('img', { src: out.gif.url, alt: t('anim.gif.alt') }));
    for (const [name, label] of [['gif', 'GIF'], ['mp4', 'MP4'], ['sprite_sheet', t('anim.sprites')]]) {
      if (out[name]) downloads.append(h('a', { class: 'btn btn-ghost btn-small', href: out[name].url, download: `animation-${name}` }, icon('download'), h('span', {}, label)));
    }
  }

  function showJob(j) {
    if (j.status === 'succeeded') {
      bar.hidden = true;
      get(`/api/v1/animations/${j.id}`).then(showResult).catch(showError);
    } else if (finished(j.status)) {
      bar.hidden = true;
      player.replaceChildren(h('p', { class: 'error-text' }, j.error ? j.error.message : t(`status.${j.status}`)));
    } else {
      bar.hidden = false;
      bar.update(j.progress, stageText(j.stage) || t('photos.waiting'));
      player.replaceChildren(loading());
    }
  }

  // Joints editor.
  const motion = h('select', { id: 'motion' }, MOTIONS.map((m) => h('option', { value: m, selected: m === job.params.motion }, t(`motion.${m}`))));
  const editor = h('div', { class: 'joints', id: 'joints' });
  const again = button(t('anim.again'), { id: 'reanimate', iconName: 'play' });
  let joints = null;
  again.addEventListener('click', async () => {
    again.disabled = true;
    try {
      const body = { upload_id: uploadId, motion: motion.value, formats: 'gif,mp4,png' };
      if (joints) body.joints = JSON.stringify(joints.map((j) => ({ name: j.name, loc: j.loc })));
      const created = await post('/api/v1/animations', form(body));
      const next = created.job || created;
      toast(t('anim.started'));
      navigate('animation', next.id);
    } catch (err) {
      again.disabled = false;
      showError(err);
    }
  });

  main.append(
    pageHead(t('anim.title'), t('anim.lead')),
    h('div', { class: 'split' },
      card(t('anim.result'), player, bar, downloads),
      card(t('anim.edit'), field(t('anim.motion'), motion), h('p', { class: 'muted small' }, t('anim.joints.hint')), editor, again)));
  showJob(job);

  onJobProgress(user.id, (event) => {
    if (event.job_id !== job.id) return;
    if (finished(event.status)) get(`/api/v1/jobs/${job.id}`).then(showJob).catch(showError);
    else showJob({ ...job, ...event, id: job.id });
  }).then((f) => { off = f; }).catch(showError);

  try {
    const [character, upload] = await Promise.all([
      get(`/api/v1/animations/characters/${uploadId}`),
      get(`/api/v1/uploads/${uploadId}`),
    ]);
    const info = character.character;
    joints = (job.params.joints && job.params.joints.length ? job.params.joints : info.joints).map((j) => ({ ...j, loc: [...j.loc] }));
    const parents = new Map(info.joints.map((j) => [j.name, j.parent]));
    editor.replaceChildren(jointEditor(upload.url, info.width, info.height, joints, parents, info.bbox));
  } catch (err) {
    editor.replaceChildren(h('p', { class: 'muted' }, t('anim.nojoints', { reason: err.message })));
  }
  return () => off && off();
}

function jointEditor(imageUrl, width, height, joints, parents, bbox) {
  const svg = document.createElementNS(SVG, 'svg');
  // Framed on the figure (with a margin), so the joints are big enough to grab.
  let view = [0, 0, width, height];
  if (bbox && bbox.width > 0 && bbox.height > 0) {
    const side = Math.max(bbox.width, bbox.height) * 1.25;
    const cx = bbox.x + bbox.width / 2;
    const cy = bbox.y + bbox.height / 2;
    view = [cx - side / 2, cy - side / 2, side, side];
  }
  svg.setAttribute('viewBox', view.join(' '));
  svg.setAttribute('class', 'joint-svg');
  const image = document.createElementNS(SVG, 'image');
  image.setAttribute('href', imageUrl);
  image.setAttribute('width', width);
  image.setAttribute('height', height);
  svg.append(image);
  const r = Math.max(view[2], view[3]) / 45;
  const bones = document.createElementNS(SVG, 'g');
  bones.setAttribute('class', 'bones');
  svg.append(bones);
  const byName = new Map(joints.map((j) => [j.name, j]));
  const drawBones = () => {
    bones.replaceChildren();
    for (const j of joints) {
      const parent = byName.get(parents.get(j.name) || j.parent);
      if (!parent) continue;
      const line = document.createElementNS(SVG, 'line');
      line.setAttribute('x1', parent.loc[0]); line.setAttribute('y1', parent.loc[1]);
      line.setAttribute('x2', j.loc[0]); line.setAttribute('y2', j.loc[1]);
      line.setAttribute('stroke-width', r / 2.5);
      bones.append(line);
    }
  };
  drawBones();
  const toSvg = (e) => {
    const pt = svg.createSVGPoint();
    pt.x = e.clientX; pt.y = e.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return [Math.max(0, Math.min(width - 1, p.x)), Math.max(0, Math.min(height - 1, p.y))];
  };
  for (const j of joints) {
    const g = document.createElementNS(SVG, 'circle');
    g.setAttribute('r', r);
    g.setAttribute('class', 'joint');
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'slider');
    g.setAttribute('aria-label', t('anim.joint', { name: j.name.replace(/_/g, ' ') }));
    g.dataset.joint = j.name;
    const place = () => {
      g.setAttribute('cx', j.loc[0]);
      g.setAttribute('cy', j.loc[1]);
      g.setAttribute('aria-valuetext', `${Math.round(j.loc[0])}, ${Math.round(j.loc[1])}`);
    };
    place();
    let dragging = false;
    g.addEventListener('pointerdown', (e) => { dragging = true; g.setPointerCapture(e.pointerId); e.preventDefault(); });
    g.addEventListener('pointermove', (e) => {
      if (!dragging) return;
      j.loc = toSvg(e);
      place();
      drawBones();
    });
    const stop = () => { dragging = false; };
    g.addEventListener('pointerup', stop);
    g.addEventListener('pointercancel', stop);
    g.addEventListener('keydown', (e) => {
      const step = e.shiftKey ? 10 : 2;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      const m = moves[e.key];
      if (!m) return;
      e.preventDefault();
      j.loc = [Math.max(0, Math.min(width - 1, j.loc[0] + m[0])), Math.max(0, Math.min(height - 1, j.loc[1] + m[1]))];
      place();
      drawBones();
    });
    svg.append(g);
  }
  return svg;
}
