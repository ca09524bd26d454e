// `#/room/{id}`: the drawing room. A waiting room with the live participants (presence) where
// the host starts; then a canvas drawn with pointer events (touch, pen with pressure, mouse),
// pen / marker / eraser, colours, widths and undo. Strokes of others arrive live on the room's
// presence channel; a reload or a dropped connection catches up from the stroke log
// (`?since=` the last entry seen). The host submits with a title and a description.
import { get, post, put, form } from '../lib/api.js';
import { h, pageHead, button, field, icon, showError, toast, card } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { pusher, socketId } from '../lib/realtime.js';

const COLOURS = ['#1f2430', '#e5484d', '#f76b15', '#ffc53d', '#46a758', '#0090ff', '#8e4ec6', '#d6409f', '#8d6e63', '#ffffff'];
const WIDTHS = [[4, 'room.width.thin'], [10, 'room.width.medium'], [24, 'room.width.thick']];

export async function room({ main, user, params, navigate }) {
  const id = Number(params[0]);
  let drawing;
  try {
    drawing = await get(`/api/v1/drawings/${id}`);
    const joined = drawing.participants.some((p) => p.id === user.id);
    if (!joined && drawing.status === 'waiting') {
      drawing = await post(`/api/v1/drawings/${id}/join`, { invitation_code: drawing.invitation_code });
    }
  } catch (err) {
    showError(err);
    main.append(pageHead(t('room.title'), err.message), h('a', { class: 'btn btn-secondary', href: '#/gallery' }, t('room.back')));
    return;
  }
  if (drawing.status === 'submitted') {
    navigate('gallery');
    return;
  }

  const isHost = drawing.host_id === user.id;
  const online = new Set();
  let off = [];
  let view = null;

  const client = await pusher();
  const channel = client.subscribe(drawing.channel);
  const bind = (event, fn) => { channel.bind(event, fn); off.push(() => channel.unbind(event, fn)); };
  // Whoever joined before this page subscribed is caught up from the drawing itself.
  const refetch = async () => {
    try {
      const fresh = await get(`/api/v1/drawings/${id}`);
      drawing.participants = fresh.participants;
      if (fresh.status === 'drawing' && drawing.status === 'waiting') {
        drawing.status = 'drawing';
        showCanvas();
      }
      if (view && view.presence) view.presence();
    } catch (err) {
      showError(err);
    }
  };
  const refreshPresence = () => {
    online.clear();
    if (channel.members) channel.members.each((m) => online.add(Number(m.id)));
    if ([...online].some((uid) => !drawing.participants.some((p) => p.id === uid))) refetch();
    if (view && view.presence) view.presence();
  };
  bind('pusher:subscription_succeeded', () => {
    refreshPresence();
    refetch();
  });
  bind('pusher:member_added', refreshPresence);
  bind('pusher:member_removed', refreshPresence);
  bind('participant-joined', (data) => {
    if (data && data.participants) drawing.participants = data.participants.map((p) => ({ id: p.id, username: p.username }));
    if (view && view.presence) view.presence();
  });
  bind('session-started', () => {
    drawing.status = 'drawing';
    showCanvas();
  });
  bind('submitted', () => {
    toast(t('room.submitted'));
    navigate('gallery');
  });

  function showWaiting() {
    main.replaceChildren();
    const people = h('ul', { class: 'list', id: 'participants' });
    const presence = () => {
      people.replaceChildren(...drawing.participants.map((p) => h('li', { class: 'list-item' },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, p.username.slice(0, 1).toUpperCase()),
        h('span', { class: 'grow' }, p.username, p.id === drawing.host_id ? h('span', { class: 'muted' }, ` · ${t('room.host')}`) : null),
        h('span', { class: `dot ${online.has(p.id) ? 'on' : ''}` }), h('span', { class: 'small muted' }, online.has(p.id) ? t('room.online') : t('room.away')))));
    };
    presence();
    const start = isHost ? button(t('room.start'), { id: 'start-drawing', iconName: 'play' }) : null;
    if (start) {
      start.addEventListener('click', async () => {
        start.disabled = true;
        try {
          drawing = await post(`/api/v1/drawings/${id}/start`);
          showCanvas();
        } catch (err) {
          start.disabled = false;
          showError(err);
        }
      });
    }
    main.append(
      pageHead(t('room.waiting.title'), isHost ? t('room.waiting.host') : t('room.waiting.guest')),
      h('div', { class: 'grid-2 cards' },
        card(t('room.code'), h('p', { class: 'muted' }, t('room.code.lead')), h('output', { class: 'code', id: 'room-code-value' }, drawing.invitation_code)),
        card(t('room.people'), people, start || h('p', { class: 'muted' }, t('room.waiting.wait')))));
    view = { presence };
  }

  function showCanvas() {
    if (view && view.canvas) return;
    main.replaceChildren();
    view = canvasView({ main, drawing, user, isHost, navigate, bind, online });
  }

  if (drawing.status === 'waiting') showWaiting();
  else showCanvas();

  return () => {
    for (const f of off) f();
    off = [];
    client.unsubscribe(drawing.channel);
    if (view && view.dispose) view.dispose();
  };
}

function canvasView({ main, drawing, user, isHost, bind, navigate, online }) {
  const id = drawing.id;
  const canvas = h('canvas', { class: 'board', id: 'board', width: drawing.width, height: drawing.height, role: 'img', 'aria-label': t('room.canvas') });
  const ctx = canvas.getContext('2d');
  const entries = new Map(); // seq -> entry
  let lastSeq = 0;
  let tool = 'pen';
  let colour = COLOURS[0];
  let width = WIDTHS[1][0];
  let current = null;
  let catchingUp = null;
  // A gap seen while a catch-up runs: its read may predate the missing entry, so read again.
  let catchUpAgain = false;

  const status = h('span', { class: 'conn small', id: 'conn' }, t('room.connecting'));
  const people = h('span', { class: 'small muted room-people' });
  const presence = () => {
    people.textContent = drawing.participants.map((p) => `${online.has(p.id) ? '●' : '○'} ${p.username}`).join('  ');
  };
  presence();

  // Tools.
  const toolButtons = ['pen', 'marker', 'eraser'].map((name) => {
    const b = h('button', { class: 'tool', type: 'button', 'aria-pressed': name === tool ? 'true' : 'false', 'aria-label': t(`room.tool.${name}`), title: t(`room.tool.${name}`), dataset: { tool: name } }, icon(name), h('span', { class: 'tool-label' }, t(`room.tool.${name}`)));
    b.addEventListener('click', () => {
      tool = name;
      for (const other of toolButtons) other.setAttribute('aria-pressed', other === b ? 'true' : 'false');
    });
    return b;
  });
  const swatches = COLOURS.map((c) => {
    const b = h('button', { class: 'swatch', type: 'button', 'aria-pressed': c === colour ? 'true' : 'false', 'aria-label': t('room.colour', { colour: c }), dataset: { colour: c } });
    b.style.setProperty('--swatch', c);
    b.addEventListener('click', () => {
      colour = c;
      if (tool === 'eraser') toolButtons[0].click();
      for (const s of swatches) s.setAttribute('aria-pressed', s === b ? 'true' : 'false');
    });
    return b;
  });
  const widthButtons = WIDTHS.map(([w, key]) => {
    const dot = h('span', { class: 'width-dot' });
    dot.style.setProperty('--w', `${Math.max(4, w / 1.5)}px`);
    const b = h('button', { class: 'tool width', type: 'button', 'aria-pressed': w === width ? 'true' : 'false', 'aria-label': t(key), title: t(key) }, dot);
    b.addEventListener('click', () => {
      width = w;
      for (const other of widthButtons) other.setAttribute('aria-pressed', other === b ? 'true' : 'false');
    });
    return b;
  });
  const undo = h('button', { class: 'tool', type: 'button', id: 'undo', 'aria-label': t('room.undo'), title: t('room.undo') }, icon('undo'), h('span', { class: 'tool-label' }, t('room.undo')));
  undo.addEventListener('click', doUndo);
  const submit = isHost ? button(t('room.submit'), { id: 'submit-drawing', iconName: 'check' }) : null;
  if (submit) submit.addEventListener('click', () => submitDialog());

  main.append(
    h('div', { class: 'room' },
      h('div', { class: 'room-head' }, h('h1', { class: 'room-title' }, t('room.title')), people, status),
      h('div', { class: 'board-wrap' }, canvas),
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': t('room.tools') },
        h('div', { class: 'tool-group' }, toolButtons),
        h('div', { class: 'tool-group swatches' }, swatches),
        h('div', { class: 'tool-group' }, widthButtons),
        h('div', { class: 'tool-group' }, undo, submit))));

  // Rendering: the log in seq order, undone strokes skipped.
  function paint(stroke) {
    const pts = stroke.points;
    if (!pts.length) return;
    ctx.save();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = stroke.width;
    const erasing = stroke.eraser || stroke.tool === 'eraser';
    const c = erasing ? drawing.background : stroke.color.slice(0, 7);
    ctx.strokeStyle = c;
    ctx.fillStyle = c;
    ctx.globalAlpha = stroke.tool === 'marker' ? 0.5 : 1;
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length - 1; i++) {
        const mx = (pts[i][0] + pts[i + 1][0]) / 2;
        const my = (pts[i][1] + pts[i + 1][1]) / 2;
        ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
      }
      const last = pts[pts.length - 1];
      ctx.lineTo(last[0], last[1]);
      ctx.stroke();
    }
    ctx.restore();
  }

  function redraw() {
    ctx.save();
    ctx.fillStyle = drawing.background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
    for (const seq of [...entries.keys()].sort((a, b) => a - b)) {
      const entry = entries.get(seq);
      if (entry.kind === 'stroke' && !entry.undone && entry.stroke) paint(entry.stroke);
    }
    if (current) paint(current);
  }

  function apply(entry, live) {
    if (entries.has(entry.seq)) return;
    entries.set(entry.seq, entry);
    if (entry.kind === 'undo') {
      const target = entries.get(entry.target_seq);
      if (target) target.undone = true;
      redraw();
    } else if (entry.seq > lastSeq && !entry.undone && entry.stroke && live) {
      paint(entry.stroke);
      if (current) paint(current);
    } else {
      redraw();
    }
    lastSeq = Math.max(lastSeq, entry.seq);
  }

  async function catchUp() {
    if (catchingUp) {
      catchUpAgain = true;
      return catchingUp;
    }
    catchingUp = (async () => {
      try {
        do {
          catchUpAgain = false;
          for (;;) {
            const page = await get(`/api/v1/drawings/${id}/strokes?since=${lastSeq}&limit=1000`);
            for (const entry of page.entries) apply(entry, false);
            if (!page.entries.length || lastSeq >= page.last_seq) break;
          }
        } while (catchUpAgain);
        redraw();
      } catch (err) {
        showError(err);
      } finally {
        catchingUp = null;
      }
    })();
    return catchingUp;
  }

  bind('stroke', (entry) => {
    if (entry.seq > lastSeq + 1) catchUp();
    else apply(entry, true);
  });
  bind('undo', (entry) => {
    if (entry.seq > lastSeq + 1) catchUp();
    else apply(entry, true);
  });
  bind('pusher:subscription_succeeded', () => catchUp());
  bind('pusher:member_added', presence);
  bind('pusher:member_removed', presence);
  bind('participant-joined', presence);

  const onState = (states) => {
    const s = states.current;
    status.textContent = t(`room.conn.${s}`) === `room.conn.${s}` ? s : t(`room.conn.${s}`);
    status.dataset.state = s;
    if (s === 'connected' && states.previous !== 'initialized') catchUp();
  };
  pusher().then((p) => {
    p.connection.bind('state_change', onState);
    onState({ current: p.connection.state, previous: 'initialized' });
  });

  // Input: pointer events for mouse, touch and pen alike.
  function toCanvas(e) {
    const rect = canvas.getBoundingClientRect();
    return [
      Math.round(((e.clientX - rect.left) / rect.width) * canvas.width * 10) / 10,
      Math.round(((e.clientY - rect.top) / rect.height) * canvas.height * 10) / 10,
    ];
  }
  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const pressure = e.pointerType === 'pen' && e.pressure > 0 ? e.pressure : 0.5;
    current = { points: [toCanvas(e)], color: colour, width, tool, eraser: tool === 'eraser', pressure, pointerId: e.pointerId };
    paint(current);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current || e.pointerId !== current.pointerId) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = toCanvas(ev);
      const last = current.points[current.points.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 1.5) continue;
      current.points.push(p);
      if (e.pointerType === 'pen' && ev.pressure > 0) current.pressure = Math.max(current.pressure, ev.pressure);
    }
    if (current.points.length > 1900) finish();
    else {
      const n = current.points.length;
      if (n >= 2) paint({ ...current, points: current.points.slice(Math.max(0, n - 3)) });
    }
  });
  const finish = async () => {
    if (!current) return;
    const stroke = current;
    current = null;
    const w = stroke.tool === 'eraser' ? stroke.width * 1.5 : stroke.width * (stroke.pressure > 0.5 ? 0.5 + stroke.pressure : 1);
    const body = {
      client_id: `${user.id}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      points: stroke.points,
      color: stroke.color,
      width: Math.round(w * 10) / 10,
      tool: stroke.tool,
      socket_id: socketId(),
    };
    try {
      const entry = await post(`/api/v1/drawings/${id}/strokes`, body);
      if (entry.seq > lastSeq + 1) {
        entries.set(entry.seq, entry);
        await catchUp();
      } else {
        apply(entry, false);
      }
    } catch (err) {
      showError(err);
      redraw();
    }
  };
  canvas.addEventListener('pointerup', finish);
  canvas.addEventListener('pointercancel', finish);

  async function doUndo() {
    try {
      const entry = await post(`/api/v1/drawings/${id}/undo`, { client_id: `u${user.id}-${Date.now().toString(36)}`, socket_id: socketId() });
      apply(entry, true);
    } catch (err) {
      showError(err);
    }
  }
  const keys = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'z') {
      e.preventDefault();
      doUndo();
    }
  };
  document.addEventListener('keydown', keys);

  function submitDialog() {
    const title = h('input', { id: 'drawing-title', maxlength: 200, required: true });
    const description = h('textarea', { id: 'drawing-description', rows: 3, maxlength: 2000 });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'submit-title' });
    const formEl = h('form', { class: 'stack', method: 'dialog' },
      h('h2', { id: 'submit-title' }, t('room.submit.title')),
      h('p', { class: 'muted' }, t('room.submit.lead')),
      field(t('room.submit.name'), title), field(t('room.submit.description'), description),
      h('div', { class: 'row end' },
        button(t('common.cancel'), { kind: 'ghost', onclick: () => { dialog.close(); dialog.remove(); } }),
        button(t('room.submit'), { type: 'submit', id: 'confirm-submit' })));
    formEl.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const b of formEl.querySelectorAll('button')) b.disabled = true;
      try {
        await put(`/api/v1/drawings/${id}/submit`, form({ title: title.value.trim(), description: description.value.trim() }));
        dialog.close();
        dialog.remove();
        toast(t('room.submitted'));
        navigate('gallery');
      } catch (err) {
        for (const b of formEl.querySelectorAll('button')) b.disabled = false;
        showError(err);
      }
    });
    dialog.append(formEl);
    document.body.append(dialog);
    dialog.showModal();
    title.focus();
  }

  redraw();
  catchUp();
  return {
    canvas,
    presence,
    dispose: () => {
      document.removeEventListener('keydown', keys);
      pusher().then((p) => p.connection.unbind('state_change', onState));
    },
  };
}

