// `#/annotate/{mid}`: the annotation tool for one media, in CVAT's manner. The frame with its
// boxes drawn over it (an SVG in frame pixels), a scrubber with the key frames of the tracks,
// play/pause, drawing a new box as a shape or a track, moving and resizing with handles, label,
// outside and occluded, delete, undo/redo, and CVAT's keys (D/F frames, E/R key frames, N new
// box, O outside, Q occluded, Del, Ctrl+Z / Ctrl+Shift+Z). Every change is one batch with the
// version it was based on; a 409 `version_conflict` reloads and says so. Proposals of an
// auto-annotation are drawn dashed, each accepted or rejected.
import { get, post } from '../lib/api.js';
import { h, button, field, icon, empty, toast, showError, loading } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { onJobProgress } from '../lib/realtime.js';
import { finished } from '../lib/jobs.js';

const API = '/api/v1/studio';
const SVG = 'http://www.w3.org/2000/svg';
const MIN_SIZE = 3;

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

export async function annotate({ main, user, params }) {
  const mid = Number(params[0]);
  let media;
  let project;
  try {
    media = await get(`${API}/media/${mid}`);
    project = await get(`${API}/projects/${media.project_id}`);
  } catch (err) {
    main.append(h('h1', {}, t('ann.title')), h('section', { class: 'card' }, empty('studio', err.message, h('a', { class: 'btn btn-secondary', href: '#/studio' }, t('studio.back')))));
    return undefined;
  }
  const W = media.width || 1;
  const H = media.height || 1;
  const count = Math.max(1, media.frame_count || 1);
  const labels = project.labels;
  const labelOf = (id) => labels.find((l) => l.id === id) || { id, name: '?', color: '#888888' };

  const st = {
    frame: 0,
    version: 0,
    doc: { shapes: [], tracks: [] },
    boxes: [],
    proposals: [],
    proposalsError: null,
    selected: null, // {source, id}
    drawing: false,
    draft: null, // box being drawn
    drag: null, // {kind: 'move'|'resize', handle, start, orig, key}
    playing: false,
    label: labels[0] ? labels[0].id : null,
    mode: media.kind === 'video' ? 'track' : 'shape',
    busy: false,
    nudge: null,
    zoom: 1,
    pan: null,
  };

  // The stage: the frame and the overlay in frame pixels.
  const img = h('img', { class: 'ann-frame', alt: '', id: 'ann-frame', draggable: 'false' });
  const overlay = svgEl('svg', { class: 'ann-overlay', id: 'ann-overlay', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'application', 'aria-label': t('ann.canvas'), tabindex: 0 });
  const stage = h('div', { class: 'ann-stage' }, img, overlay);
  stage.style.aspectRatio = `${W} / ${H}`;
  stage.style.setProperty('--ar', String(W / H));
  const viewport = h('div', { class: 'ann-viewport' }, stage);

  // Top bar of the tool.
  const versionText = h('span', { class: 'muted small', id: 'ann-version', 'aria-live': 'polite' });
  const undoBtn = toolButton('undo', t('ann.undo'), 'Ctrl+Z', () => history('undo'), 'ann-undo');
  const redoBtn = toolButton('redo', t('ann.redo'), 'Ctrl+Shift+Z', () => history('redo'), 'ann-redo');
  const drawBtn = toolButton('box', t('ann.draw'), 'N', () => setDrawing(!st.drawing), 'ann-draw');
  const zoomOut = toolButton('zoomout', t('ann.zoom.out'), '-', () => setZoom(st.zoom / 1.5), 'ann-zoom-out');
  const zoomIn = toolButton('zoomin', t('ann.zoom.in'), '+', () => setZoom(st.zoom * 1.5), 'ann-zoom-in');
  const zoomText = h('span', { class: 'muted small mono ann-zoom', 'aria-live': 'polite' }, '100%');
  const autoBtn = button(t('ann.auto'), { kind: 'ghost', class: 'btn btn-ghost btn-small', iconName: 'studio', id: 'ann-auto', onclick: autoAnnotate });
  const modeSel = h('select', { id: 'ann-mode', 'aria-label': t('ann.mode') },
    h('option', { value: 'track', selected: st.mode === 'track' }, t('ann.mode.track')),
    h('option', { value: 'shape', selected: st.mode === 'shape' }, t('ann.mode.shape')));
  modeSel.addEventListener('change', () => { st.mode = modeSel.value; });
  const labelSel = h('select', { id: 'ann-label', 'aria-label': t('ann.label') });
  labelSel.addEventListener('change', () => {
    st.label = Number(labelSel.value);
    paintLabelSwatch();
    const sel = selectedBox();
    if (sel && sel.label_id !== st.label) relabel(sel, st.label);
  });
  const labelSwatch = h('span', { class: 'label-swatch', 'aria-hidden': 'true' });
  function fillLabels() {
    labelSel.replaceChildren(...labels.map((l, i) => h('option', { value: l.id, selected: l.id === st.label }, `${i < 9 ? `${i + 1} · ` : ''}${l.name}`)));
    paintLabelSwatch();
  }
  function paintLabelSwatch() { labelSwatch.style.background = labelOf(st.label).color; }
  fillLabels();

  // Timeline.
  const playBtn = toolButton('play', t('ann.play'), t('ann.key.space'), () => setPlaying(!st.playing), 'ann-play');
  const prevBtn = toolButton('prev', t('ann.prev'), 'D', () => go(st.frame - 1), 'ann-prev');
  const nextBtn = toolButton('next', t('ann.next'), 'F', () => go(st.frame + 1), 'ann-next');
  const scrub = h('input', { type: 'range', min: 0, max: count - 1, value: 0, step: 1, id: 'ann-scrub', 'aria-label': t('ann.frame.scrub') });
  scrub.addEventListener('input', () => go(Number(scrub.value)));
  const marks = h('div', { class: 'ann-marks', 'aria-hidden': 'true', id: 'ann-marks' });
  const cursor = h('div', { class: 'ann-cursor', 'aria-hidden': 'true' });
  const frameText = h('span', { class: 'ann-frame-no mono', id: 'ann-frame-no' });
  const timeline = h('div', { class: 'ann-timeline' },
    h('div', { class: 'row' }, playBtn, prevBtn, nextBtn, frameText),
    h('div', { class: 'ann-track' }, marks, cursor, scrub));

  // Side panel: objects on this frame, proposals, keys.
  const objList = h('ul', { class: 'list ann-objects', id: 'ann-objects' });
  const propList = h('ul', { class: 'list ann-proposals', id: 'ann-proposals' });
  const propNote = h('p', { class: 'muted small', id: 'ann-proposals-note' });
  const keys = h('details', { class: 'ann-keys', open: window.innerWidth > 960 }, h('summary', {}, t('ann.keys')),
    h('dl', {}, [['D / F', 'ann.key.frames'], ['C / V', 'ann.key.step'], ['E / R', 'ann.key.keyframes'], ['N', 'ann.key.draw'],
      ['O', 'ann.key.outside'], ['Q', 'ann.key.occluded'], ['Del', 'ann.key.delete'], ['← ↑ → ↓', 'ann.key.nudge'],
      ['1–9', 'ann.key.label'], ['+ / -', 'ann.key.zoom'], [t('ann.key.space'), 'ann.key.play'], ['Ctrl+Z', 'ann.undo'], ['Ctrl+Shift+Z / Ctrl+Y', 'ann.redo'], ['Esc', 'ann.key.escape']]
      .map(([k, key]) => [h('dt', {}, k.split(' / ').map((one) => h('kbd', {}, one))), h('dd', {}, t(key))])));

  main.append(
    h('div', { class: 'ann-head' },
      h('a', { class: 'btn btn-ghost btn-small', href: `#/studio/${project.id}` }, t('ann.back')),
      h('div', { class: 'grow' }, h('h1', { class: 'ann-title' }, media.name), h('div', { class: 'muted small' }, project.name, ' · ', versionText)),
      autoBtn),
    h('div', { class: 'ann-layout' },
      h('div', { class: 'ann-main' },
        h('div', { class: 'ann-toolbar', role: 'toolbar', 'aria-label': t('ann.tools') },
          drawBtn, h('span', { class: 'label-pick' }, labelSwatch, labelSel), modeSel, undoBtn, redoBtn,
          h('span', { class: 'ann-zoom-group' }, zoomOut, zoomText, zoomIn)),
        viewport, timeline),
      h('aside', { class: 'ann-side' },
        h('section', { class: 'card ann-card', 'aria-labelledby': 'ann-objects-title' }, h('h2', { class: 'card-title', id: 'ann-objects-title' }, t('ann.objects')), objList),
        h('section', { class: 'card ann-card', 'aria-labelledby': 'ann-prop-title' }, h('h2', { class: 'card-title', id: 'ann-prop-title' }, t('ann.proposals')), propNote, propList),
        h('section', { class: 'card ann-card' }, keys))));

  if (media.status !== 'ready') {
    viewport.replaceChildren(empty('studio', t('ann.notready')));
  }
  if (!labels.length) toast(t('ann.nolabels'), 'error');

  function toolButton(iconName, label, key, onclick, id) {
    return h('button', { class: 'tool', type: 'button', id, title: `${label} (${key})`, 'aria-label': label, 'aria-keyshortcuts': key.replace(/ \/ /g, ' '), onclick },
      icon(iconName), h('span', { class: 'tool-label' }, label));
  }

  // ---- Loading -------------------------------------------------------------------------

  async function loadDoc() {
    const doc = await get(`${API}/media/${mid}/annotations`);
    st.doc = doc;
    st.version = doc.version;
    versionText.textContent = t('ann.version', { v: doc.version });
    drawMarks();
  }

  let frameToken = 0;
  async function loadFrame() {
    const n = st.frame;
    const token = ++frameToken;
    const [at, props] = await Promise.all([
      get(`${API}/media/${mid}/annotations?frame=${n}`),
      st.proposalsError ? Promise.resolve(null) : get(`${API}/media/${mid}/proposals?frame=${n}`).catch((err) => {
        st.proposalsError = err.message;
        return null;
      }),
    ]);
    if (token !== frameToken) return;
    // The server lists tracks outside on this frame too (`outside: true`, greyed), so the
    // annotator can bring them back in (O).
    st.boxes = at.boxes;
    if (at.version !== undefined && at.version !== st.version) {
      st.version = at.version;
      versionText.textContent = t('ann.version', { v: at.version });
    }
    st.proposals = props ? props.proposals || [] : [];
    render();
  }

  function frameUrl(n) {
    return `${API}/media/${mid}/frames/${n}`;
  }

  async function go(n, { keepPlaying = false } = {}) {
    n = clamp(Math.round(n), 0, count - 1);
    if (!keepPlaying && st.playing) setPlaying(false);
    commitNudge();
    st.frame = n;
    scrub.value = n;
    frameText.textContent = t('ann.frame', { n, last: count - 1 });
    cursor.style.left = `${count > 1 ? (n / (count - 1)) * 100 : 0}%`;
    img.src = frameUrl(n);
    img.dataset.frame = n;
    if (n + 1 < count) new Image().src = frameUrl(n + 1);
    try {
      await loadFrame();
    } catch (err) {
      showError(err);
    }
  }

  // ---- Drawing the overlay ---------------------------------------------------------------

  function selectedBox() {
    if (!st.selected) return null;
    return st.boxes.find((b) => b.source === st.selected.source && b.id === st.selected.id) || null;
  }

  function scale() {
    const r = overlay.getBoundingClientRect();
    return r.width ? W / r.width : 1;
  }

  function render() {
    const k = scale();
    const stroke = 2 * k;
    overlay.replaceChildren();
    for (const p of st.proposals) {
      const [x1, y1, x2, y2] = p.box;
      const colour = labelOf(p.label_id).color;
      overlay.append(svgEl('rect', { class: 'ann-proposal', x: x1, y: y1, width: x2 - x1, height: y2 - y1, stroke: colour, 'stroke-width': stroke, 'stroke-dasharray': `${6 * k} ${4 * k}`, 'data-proposal': p.id }));
      overlay.append(svgEl('text', { class: 'ann-text', x: x1 + 2 * k, y: y2 - 4 * k, 'font-size': 12 * k, fill: colour }, `${labelOf(p.label_id).name} ${Math.round(p.score * 100)}%`));
    }
    for (const b of st.boxes) {
      const isSel = st.selected && b.source === st.selected.source && b.id === st.selected.id;
      if (b.outside && !isSel) continue;
      const [x1, y1, x2, y2] = b.box;
      const colour = labelOf(b.label_id).color;
      const g = svgEl('g', { class: `ann-box${isSel ? ' selected' : ''}${b.outside ? ' outside' : ''}${b.occluded ? ' occluded' : ''}`, 'data-source': b.source, 'data-id': b.id, 'data-keyframe': b.keyframe ? 'true' : 'false' });
      const rect = svgEl('rect', {
        class: 'ann-rect', x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), stroke: colour, fill: colour,
        'stroke-width': isSel ? stroke * 1.5 : stroke, 'stroke-dasharray': b.occluded || b.outside ? `${2 * k} ${3 * k}` : null,
      });
      rect.addEventListener('pointerdown', (e) => startMove(e, b));
      g.append(rect);
      const tag = `${labelOf(b.label_id).name}${b.source === 'track' ? ` #${b.id}` : ''}${b.keyframe || b.source === 'shape' ? '' : ` · ${t('ann.interp.short')}`}`;
      const ty = y1 - 16 * k >= 0 ? y1 - 16 * k : y1;
      g.append(svgEl('rect', { class: 'ann-tag', x: x1, y: ty, width: (tag.length * 6.6 + 8) * k, height: 16 * k, fill: colour, rx: 2 * k }));
      g.append(svgEl('text', { class: 'ann-tag-text', x: x1 + 4 * k, y: ty + 12 * k, 'font-size': 11 * k }, tag));
      if (isSel && !b.outside) {
        const r = 5 * k;
        for (const handle of ['nw', 'ne', 'sw', 'se', 'n', 's', 'w', 'e']) {
          const hx = handle.includes('w') ? x1 : handle.includes('e') ? x2 : (x1 + x2) / 2;
          const hy = handle.includes('n') ? y1 : handle.includes('s') ? y2 : (y1 + y2) / 2;
          const c = svgEl('rect', { class: `ann-handle h-${handle}`, x: hx - r, y: hy - r, width: 2 * r, height: 2 * r, 'stroke-width': k, 'data-handle': handle });
          c.addEventListener('pointerdown', (e) => startResize(e, b, handle));
          g.append(c);
        }
      }
      overlay.append(g);
    }
    if (st.draft) {
      const [x1, y1, x2, y2] = normal(st.draft);
      overlay.append(svgEl('rect', { class: 'ann-draft', x: x1, y: y1, width: x2 - x1, height: y2 - y1, stroke: labelOf(st.label).color, 'stroke-width': stroke }));
    }
    overlay.classList.toggle('drawing', st.drawing);
    renderSide();
  }

  function renderSide() {
    const visible = st.boxes;
    objList.replaceChildren(...visible.map((b) => {
      const isSel = st.selected && b.source === st.selected.source && b.id === st.selected.id;
      const label = labelOf(b.label_id);
      const sw = h('span', { class: 'label-swatch', 'aria-hidden': 'true' });
      sw.style.background = label.color;
      const kind = b.source === 'track'
        ? (b.keyframe ? t('ann.keyframe') : t('ann.interpolated'))
        : t('ann.shape');
      const outside = h('button', { class: 'tool tool-small', type: 'button', 'aria-pressed': b.outside ? 'true' : 'false', disabled: b.source !== 'track', title: `${t('ann.outside')} (O)`, onclick: () => { select(b); toggle('outside'); } }, t('ann.outside'));
      const occluded = h('button', { class: 'tool tool-small', type: 'button', 'aria-pressed': b.occluded ? 'true' : 'false', title: `${t('ann.occluded')} (Q)`, onclick: () => { select(b); toggle('occluded'); } }, t('ann.occluded'));
      const remove = h('button', { class: 'tool tool-small', type: 'button', 'aria-label': t('ann.delete.of', { name: `${label.name} #${b.id}` }), title: `${t('common.delete')} (Del)`, onclick: () => { select(b); removeSelected(); } }, icon('trash'));
      const pick = h('button', { class: 'ann-obj-pick', type: 'button', 'aria-pressed': isSel ? 'true' : 'false', onclick: () => select(b) },
        sw, h('span', { class: 'grow' }, `${label.name} #${b.id}`), h('span', { class: `badge${b.keyframe || b.source === 'shape' ? ' badge-accent' : ''}` }, kind));
      return h('li', { class: `ann-obj${isSel ? ' selected' : ''}`, dataset: { source: b.source, id: b.id } }, pick, h('div', { class: 'row' }, outside, occluded, remove));
    }));
    if (!visible.length) objList.append(h('li', { class: 'muted small ann-none' }, t('ann.objects.empty')));
    if (st.proposalsError) {
      propNote.textContent = t('ann.proposals.unavailable', { reason: st.proposalsError });
    } else {
      propNote.textContent = st.proposals.length ? t('ann.proposals.lead') : t('ann.proposals.none');
    }
    propList.replaceChildren(...st.proposals.map((p) => {
      const label = labelOf(p.label_id);
      const sw = h('span', { class: 'label-swatch', 'aria-hidden': 'true' });
      sw.style.background = label.color;
      return h('li', { class: 'ann-obj', dataset: { proposal: p.id } },
        h('div', { class: 'row grow' }, sw, h('span', { class: 'grow' }, `${label.name} · ${Math.round(p.score * 100)}%`)),
        h('div', { class: 'row' },
          h('button', { class: 'tool tool-small', type: 'button', onclick: () => decide(p, 'accept') }, icon('check'), t('ann.accept')),
          h('button', { class: 'tool tool-small', type: 'button', onclick: () => decide(p, 'reject') }, icon('close'), t('ann.reject'))));
    }));
  }

  function drawMarks() {
    const frames = new Map();
    const sel = st.selected && st.selected.source === 'track' ? st.selected.id : null;
    for (const tr of st.doc.tracks || []) {
      for (const kf of tr.keyframes) {
        const mine = tr.id === sel;
        if (!frames.has(kf.frame) || mine) frames.set(kf.frame, mine ? 'key selected' : 'key');
      }
    }
    for (const s of st.doc.shapes || []) if (!frames.has(s.frame)) frames.set(s.frame, 'shape');
    marks.replaceChildren(...[...frames.entries()].map(([f, kind]) => {
      const m = h('span', { class: `ann-mark ${kind}`, dataset: { frame: f } });
      m.style.left = `${count > 1 ? (f / (count - 1)) * 100 : 0}%`;
      return m;
    }));
  }

  // ---- Pointer: draw, move, resize -------------------------------------------------------

  function toFrame(e) {
    const r = overlay.getBoundingClientRect();
    return [clamp(((e.clientX - r.left) / r.width) * W, 0, W), clamp(((e.clientY - r.top) / r.height) * H, 0, H)];
  }

  function normal([x1, y1, x2, y2]) {
    return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
  }

  overlay.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || e.defaultPrevented) return;
    overlay.focus({ preventScroll: true });
    if (st.drawing) {
      if (st.label === null) { toast(t('ann.nolabels'), 'error'); return; }
      const [x, y] = toFrame(e);
      st.draft = [x, y, x, y];
      overlay.setPointerCapture(e.pointerId);
      e.preventDefault();
      render();
    } else {
      // A drag on the background pans a zoomed frame; a click deselects.
      st.pan = { x: e.clientX, y: e.clientY, left: viewport.scrollLeft, top: viewport.scrollTop, moved: false };
      overlay.setPointerCapture(e.pointerId);
    }
  });

  /** Zooms to `z` (1–8), keeping the frame point under (cx, cy) — or the centre — in place. */
  function setZoom(z, cx, cy) {
    const next = clamp(z, 1, 8);
    const r = viewport.getBoundingClientRect();
    const px = cx === undefined ? r.width / 2 : cx - r.left;
    const py = cy === undefined ? r.height / 2 : cy - r.top;
    const fx = (viewport.scrollLeft + px) / stage.offsetWidth;
    const fy = (viewport.scrollTop + py) / stage.offsetHeight;
    st.zoom = next;
    stage.style.setProperty('--zoom', String(next));
    zoomText.textContent = `${Math.round(next * 100)}%`;
    viewport.classList.toggle('zoomed', next > 1);
    viewport.scrollLeft = fx * stage.offsetWidth - px;
    viewport.scrollTop = fy * stage.offsetHeight - py;
    render();
  }
  overlay.addEventListener('wheel', (e) => {
    if (!e.ctrlKey && !e.metaKey) return; // Ctrl/⌘ + wheel, or a trackpad pinch; the wheel alone scrolls.
    e.preventDefault();
    setZoom(st.zoom * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX, e.clientY);
  }, { passive: false });

  function startMove(e, b) {
    if (st.drawing || e.button !== 0) return;
    e.preventDefault();
    overlay.focus({ preventScroll: true });
    select(b, false);
    st.drag = { kind: 'move', start: toFrame(e), orig: [...b.box], box: b, moved: false };
    overlay.setPointerCapture(e.pointerId);
  }

  function startResize(e, b, handle) {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    st.drag = { kind: 'resize', handle, start: toFrame(e), orig: [...b.box], box: b, moved: false };
    overlay.setPointerCapture(e.pointerId);
  }

  overlay.addEventListener('pointermove', (e) => {
    if (st.pan) {
      const dx = e.clientX - st.pan.x;
      const dy = e.clientY - st.pan.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) st.pan.moved = true;
      viewport.scrollLeft = st.pan.left - dx;
      viewport.scrollTop = st.pan.top - dy;
    } else if (st.draft) {
      const [x, y] = toFrame(e);
      st.draft[2] = x;
      st.draft[3] = y;
      render();
    } else if (st.drag) {
      const [x, y] = toFrame(e);
      const dx = x - st.drag.start[0];
      const dy = y - st.drag.start[1];
      if (Math.abs(dx) + Math.abs(dy) > 0.5) st.drag.moved = true;
      let [x1, y1, x2, y2] = st.drag.orig;
      if (st.drag.kind === 'move') {
        const bw = x2 - x1;
        const bh = y2 - y1;
        x1 = clamp(x1 + dx, 0, W - bw);
        y1 = clamp(y1 + dy, 0, H - bh);
        x2 = x1 + bw;
        y2 = y1 + bh;
      } else {
        const hd = st.drag.handle;
        if (hd.includes('w')) x1 = clamp(x1 + dx, 0, W);
        if (hd.includes('e')) x2 = clamp(x2 + dx, 0, W);
        if (hd.includes('n')) y1 = clamp(y1 + dy, 0, H);
        if (hd.includes('s')) y2 = clamp(y2 + dy, 0, H);
      }
      st.drag.box.box = [x1, y1, x2, y2];
      render();
    }
  });

  const finishPointer = async () => {
    if (st.pan) {
      const { moved } = st.pan;
      st.pan = null;
      if (!moved && st.selected) {
        st.selected = null;
        drawMarks();
        render();
      }
    } else if (st.draft) {
      const box = normal(st.draft).map((v) => Math.round(v * 10) / 10);
      st.draft = null;
      render();
      if (box[2] - box[0] < MIN_SIZE || box[3] - box[1] < MIN_SIZE) return;
      setDrawing(false);
      await createBox(box);
    } else if (st.drag) {
      const { box: b, moved } = st.drag;
      st.drag = null;
      if (!moved) return;
      b.box = normal(b.box).map((v) => Math.round(v * 10) / 10);
      await changeBox(b, b.box);
    }
  };
  overlay.addEventListener('pointerup', finishPointer);
  overlay.addEventListener('pointercancel', () => {
    st.draft = null;
    st.pan = null;
    if (st.drag) { st.drag.box.box = st.drag.orig; st.drag = null; }
    render();
  });

  function select(b, rerender = true) {
    st.selected = b ? { source: b.source, id: b.id } : null;
    if (b && b.label_id !== st.label) {
      st.label = b.label_id;
      labelSel.value = String(b.label_id);
      paintLabelSwatch();
    }
    drawMarks();
    if (rerender) render();
  }

  function setDrawing(on) {
    st.drawing = on;
    drawBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (on) { st.selected = null; if (st.playing) setPlaying(false); }
    render();
  }
  drawBtn.setAttribute('aria-pressed', 'false');

  // ---- Changes -----------------------------------------------------------------------

  /** Sends one batch based on the version we hold; on a stale version reloads and says so. */
  async function send(ops) {
    commitNudgeTimer();
    try {
      const answer = await post(`${API}/media/${mid}/annotations`, { base_version: st.version, ops });
      st.version = answer.version;
      versionText.textContent = t('ann.version', { v: answer.version });
      return true;
    } catch (err) {
      if (err.code === 'version_conflict') {
        toast(t('ann.conflict'), 'error');
      } else {
        showError(err);
      }
      return false;
    } finally {
      await refresh();
    }
  }

  async function refresh() {
    try {
      await loadDoc();
      await loadFrame();
    } catch (err) {
      showError(err);
    }
  }

  async function createBox(box) {
    if (st.mode === 'track') {
      const ok = await send([{ op: 'put_track', track: { label_id: st.label, keyframes: [{ frame: st.frame, box, outside: false, occluded: false }] } }]);
      if (ok) selectNewest('track');
    } else {
      const ok = await send([{ op: 'put_shape', shape: { frame: st.frame, label_id: st.label, box, occluded: false } }]);
      if (ok) selectNewest('shape');
    }
  }

  function selectNewest(source) {
    const mine = st.boxes.filter((b) => b.source === source);
    if (!mine.length) return;
    const newest = mine.reduce((a, b) => (b.id > a.id ? b : a));
    select(newest);
  }

  function shapeOf(b, change = {}) {
    const s = (st.doc.shapes || []).find((x) => x.id === b.id) || {};
    return { id: b.id, frame: s.frame ?? st.frame, label_id: b.label_id, box: b.box, occluded: b.occluded, ...change };
  }

  async function changeBox(b, box) {
    if (b.source === 'track') await send([{ op: 'set_box', track_id: b.id, frame: st.frame, box }]);
    else await send([{ op: 'put_shape', shape: shapeOf(b, { box }) }]);
  }

  async function relabel(b, labelId) {
    if (b.source === 'shape') {
      await send([{ op: 'put_shape', shape: shapeOf(b, { label_id: labelId }) }]);
    } else {
      const tr = (st.doc.tracks || []).find((x) => x.id === b.id);
      if (tr) await send([{ op: 'put_track', track: { ...tr, label_id: labelId } }]);
    }
  }

  async function toggle(what) {
    const b = selectedBox();
    if (!b) { toast(t('ann.select.first')); return; }
    if (b.source === 'track') {
      const keyframe = { frame: st.frame, box: b.box, outside: b.outside, occluded: b.occluded, [what]: !b[what] };
      await send([{ op: 'put_keyframe', track_id: b.id, keyframe }]);
    } else if (what === 'occluded') {
      await send([{ op: 'put_shape', shape: shapeOf(b, { occluded: !b.occluded }) }]);
    }
  }

  async function removeSelected() {
    const b = selectedBox();
    if (!b) return;
    st.selected = null;
    await send([b.source === 'track' ? { op: 'delete_track', id: b.id } : { op: 'delete_shape', id: b.id }]);
  }

  async function history(which) {
    try {
      const answer = await post(`${API}/media/${mid}/annotations/${which}`, {});
      st.version = answer.version;
      toast(which === 'undo' ? t('ann.undone') : t('ann.redone'));
    } catch (err) {
      showError(err);
    }
    await refresh();
  }

  function nudge(dx, dy) {
    const b = selectedBox();
    if (!b || b.outside) return;
    const [x1, y1, x2, y2] = b.box;
    const mx = clamp(dx, -x1, W - x2);
    const my = clamp(dy, -y1, H - y2);
    b.box = [x1 + mx, y1 + my, x2 + mx, y2 + my];
    render();
    st.nudge = b;
    commitNudgeTimer();
    st.nudgeTimer = setTimeout(commitNudge, 500);
  }
  function commitNudgeTimer() {
    if (st.nudgeTimer) clearTimeout(st.nudgeTimer);
    st.nudgeTimer = null;
  }
  function commitNudge() {
    commitNudgeTimer();
    const b = st.nudge;
    st.nudge = null;
    if (b) changeBox(b, b.box);
  }

  async function decide(p, what) {
    try {
      await post(`${API}/media/${mid}/proposals/${p.id}/${what}`, {});
      toast(what === 'accept' ? t('ann.accepted') : t('ann.rejected'));
    } catch (err) {
      showError(err);
    }
    await refresh();
  }

  // ---- Play and key frames -------------------------------------------------------------

  let playTimer = null;
  function setPlaying(on) {
    st.playing = on;
    playBtn.replaceChildren(icon(on ? 'pause' : 'play'), h('span', { class: 'tool-label' }, on ? t('ann.pause') : t('ann.play')));
    playBtn.setAttribute('aria-label', on ? t('ann.pause') : t('ann.play'));
    playBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    clearTimeout(playTimer);
    if (on) tick();
  }
  async function tick() {
    if (!st.playing) return;
    if (st.frame >= count - 1) { setPlaying(false); return; }
    const started = performance.now();
    await go(st.frame + 1, { keepPlaying: true });
    await (img.decode ? img.decode().catch(() => {}) : Promise.resolve());
    const wait = Math.max(0, 1000 / (media.fps || 10) - (performance.now() - started));
    playTimer = setTimeout(tick, wait);
  }

  function keyframeJump(dir) {
    const sel = st.selected && st.selected.source === 'track' ? st.selected.id : null;
    const tracks = (st.doc.tracks || []).filter((tr) => sel === null || tr.id === sel);
    const frames = [...new Set(tracks.flatMap((tr) => tr.keyframes.map((k) => k.frame)))].sort((a, b) => a - b);
    const target = dir > 0 ? frames.find((f) => f > st.frame) : frames.reverse().find((f) => f < st.frame);
    if (target !== undefined) go(target);
  }

  // ---- Keyboard (CVAT's keys) ----------------------------------------------------------

  const onKey = (e) => {
    const tag = e.target && e.target.tagName;
    if (e.target && e.target.closest && e.target.closest('dialog')) return;
    if (tag === 'INPUT' && e.target.type !== 'range') return;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const ctrl = e.ctrlKey || e.metaKey;
    let handled = true;
    if (ctrl && key === 'z' && !e.shiftKey) history('undo');
    else if (ctrl && ((key === 'z' && e.shiftKey) || key === 'y')) history('redo');
    else if (ctrl || e.altKey) handled = false;
    else if (key === 'f') go(st.frame + 1);
    else if (key === 'd') go(st.frame - 1);
    else if (key === 'v') go(st.frame + 10);
    else if (key === 'c') go(st.frame - 10);
    else if (key === 'r') keyframeJump(1);
    else if (key === 'e') keyframeJump(-1);
    else if (key === 'n') setDrawing(!st.drawing);
    else if (key === 'o') toggle('outside');
    else if (key === 'q') toggle('occluded');
    else if (key === 'Delete' || key === 'Backspace') removeSelected();
    else if (key === ' ' && tag !== 'BUTTON') setPlaying(!st.playing);
    else if (key === '+' || key === '=') setZoom(st.zoom * 1.5);
    else if (key === '-') setZoom(st.zoom / 1.5);
    else if (key === 'Escape') { st.draft = null; if (st.drawing) setDrawing(false); else select(null); }
    else if (/^[1-9]$/.test(key) && labels[Number(key) - 1]) { labelSel.value = String(labels[Number(key) - 1].id); labelSel.dispatchEvent(new Event('change')); }
    else if (key.startsWith('Arrow') && selectedBox() && tag !== 'INPUT') {
      const step = e.shiftKey ? 10 : 1;
      nudge(key === 'ArrowLeft' ? -step : key === 'ArrowRight' ? step : 0, key === 'ArrowUp' ? -step : key === 'ArrowDown' ? step : 0);
    } else handled = false;
    if (handled) e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  const onResize = () => render();
  window.addEventListener('resize', onResize);
  img.addEventListener('load', () => render(), { once: true });

  // ---- Auto-annotate ---------------------------------------------------------------------

  let autoJob = null;
  async function autoAnnotate() {
    let detectors = [];
    try {
      detectors = (await get(`${API}/projects/${project.id}/detectors`)).detectors;
    } catch (err) {
      showError(err);
      return;
    }
    if (!detectors.length) { toast(t('ann.auto.none'), 'error'); return; }
    const pick = h('select', {}, detectors.map((d) => h('option', { value: d.id }, `${d.name || `#${d.id}`} · mAP50 ${Math.round((d.metrics?.map50 || 0) * 100)}%`)));
    const minScore = h('input', { type: 'number', min: 0.05, max: 0.95, step: 0.05, value: 0.4 });
    const dialog = h('dialog', { class: 'dialog', 'aria-label': t('ann.auto') });
    const formEl = h('form', { class: 'stack' },
      h('h2', {}, t('ann.auto')), h('p', { class: 'muted' }, t('ann.auto.lead')),
      field(t('ann.auto.detector'), pick), field(t('ann.auto.min'), minScore),
      h('div', { class: 'row end' }, button(t('common.cancel'), { kind: 'ghost', onclick: () => { dialog.close(); dialog.remove(); } }), button(t('ann.auto.start'), { type: 'submit' })));
    formEl.addEventListener('submit', async (e) => {
      e.preventDefault();
      dialog.close();
      dialog.remove();
      try {
        const answer = await post(`${API}/media/${mid}/auto_annotate`, { detector_id: Number(pick.value), min_score: Number(minScore.value) });
        autoJob = answer.job_id;
        st.proposalsError = null;
        toast(t('ann.auto.started'));
      } catch (err) {
        showError(err);
      }
    });
    dialog.addEventListener('cancel', () => dialog.remove());
    dialog.append(formEl);
    document.body.append(dialog);
    dialog.showModal();
  }

  let off = null;
  onJobProgress(user.id, (event) => {
    if (autoJob && event.job_id === autoJob && finished(event.status)) {
      autoJob = null;
      toast(event.status === 'succeeded' ? t('ann.auto.done') : t('ann.auto.failed'), event.status === 'succeeded' ? 'info' : 'error');
      refresh();
    }
  }).then((f) => { off = f; }).catch(() => {});

  // ---- Start ---------------------------------------------------------------------------

  if (media.status === 'ready') {
    viewport.after(h('p', { class: 'sr-only', id: 'ann-hint' }, t('ann.hint')));
    try {
      await loadDoc();
    } catch (err) {
      showError(err);
    }
    await go(0);
  } else {
    objList.append(loading());
  }

  return () => {
    setPlaying(false);
    commitNudge();
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('resize', onResize);
    if (off) off();
  };
}
