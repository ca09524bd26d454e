// The app shell: who is signed in, the top bar and navigation, the language switch, and the
// hash router (`#/gallery`, `#/room/12`, …) that mounts one page module at a time.
import { get, post } from './lib/api.js';
import { h, icon, mount, showError, loading } from './lib/dom.js';
import { t, language, setLanguage, LANGUAGES } from './lib/i18n.js';

const PAGES = {
  login: () => import('./pages/auth.js').then((m) => m.login),
  signup: () => import('./pages/auth.js').then((m) => m.signup),
  gallery: () => import('./pages/gallery.js').then((m) => m.gallery),
  room: () => import('./pages/room.js').then((m) => m.room),
  animation: () => import('./pages/animation.js').then((m) => m.animation),
  family: () => import('./pages/family.js').then((m) => m.family),
  photos: () => import('./pages/photos.js').then((m) => m.photos),
  playground: () => import('./pages/playground.js').then((m) => m.playground),
  jobs: () => import('./pages/jobs.js').then((m) => m.jobs),
  studio: () => import('./pages/studio.js').then((m) => m.studio),
  annotate: () => import('./pages/annotate.js').then((m) => m.annotate),
  detector: () => import('./pages/detector.js').then((m) => m.detector),
};

/** Pages that belong under another page's navigation entry. */
const NAV_PARENT = { annotate: 'studio', detector: 'studio' };

const PUBLIC = new Set(['login', 'signup']);

/** The navigation: route, icon, string key. */
const NAV = [
  ['gallery', 'brush', 'nav.gallery'],
  ['photos', 'photo', 'nav.photos'],
  ['playground', 'search', 'nav.playground'],
  ['jobs', 'jobs', 'nav.jobs'],
  ['family', 'family', 'nav.family'],
  ['studio', 'studio', 'nav.studio'],
];

const state = { user: null, cleanup: null, route: null };

async function loadUser() {
  try {
    state.user = await get('/api/v1/me');
  } catch (err) {
    if (err.status !== 401) showError(err);
    state.user = null;
  }
  return state.user;
}

function parse() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1) };
}

/** Goes to a route (`navigate('room', 12)`). */
export function navigate(...parts) {
  const hash = '#/' + parts.map((p) => encodeURIComponent(p)).join('/');
  if (location.hash === hash) render();
  else location.hash = hash;
}

function topbar(active) {
  const bar = document.getElementById('topbar');
  const langSelect = h('select', { class: 'lang', id: 'lang-select', 'aria-label': t('nav.language') },
    LANGUAGES.map(([code, name]) => h('option', { value: code, selected: code === language() }, name)));
  langSelect.addEventListener('change', () => {
    setLanguage(langSelect.value);
    render();
  });
  const brand = h('a', { class: 'brand', href: state.user ? '#/gallery' : '#/login' },
    h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, 'atelier'));
  const right = h('div', { class: 'topbar-right' }, h('span', { class: 'lang-wrap' }, icon('globe'), langSelect));
  let nav = null;
  if (state.user) {
    right.append(
      h('span', { class: 'who', title: state.user.username, role: 'img', 'aria-label': t('nav.signedin', { name: state.user.username }) }, state.user.username.slice(0, 1).toUpperCase()),
      h('button', { class: 'btn btn-ghost btn-small', type: 'button', id: 'logout', 'aria-label': t('nav.logout'), onclick: logout }, icon('logout'), h('span', { class: 'hide-narrow' }, t('nav.logout'))));
    nav = h('nav', { class: 'nav', 'aria-label': t('nav.main') },
      h('ul', {}, NAV.map(([route, iconName, key]) => h('li', {},
        h('a', { href: `#/${route}`, class: 'nav-link', 'aria-current': route === active ? 'page' : false },
          icon(iconName), h('span', {}, t(key)))))));
  }
  mount(bar, h('div', { class: 'topbar-inner' }, brand, nav, right));
  document.body.classList.toggle('signed-in', !!state.user);
  const skip = document.querySelector('.skip');
  if (skip) skip.textContent = t('nav.skip');
}

async function logout() {
  try {
    await post('/api/v1/auth/logout');
  } catch (err) {
    showError(err);
  }
  state.user = null;
  navigate('login');
}

async function render() {
  const { name, params } = parse();
  let route = name;
  if (!route || !PAGES[route]) route = state.user ? 'gallery' : 'login';
  if (!state.user && !PUBLIC.has(route)) route = 'login';
  if (state.user && PUBLIC.has(route)) route = 'gallery';
  if (state.cleanup) {
    try { state.cleanup(); } catch (err) { console.warn(err); }
    state.cleanup = null;
  }
  const main = document.getElementById('main');
  topbar(NAV_PARENT[route] || route);
  document.body.dataset.page = route;
  mount(main, loading());
  const token = Symbol(route);
  state.route = token;
  try {
    const page = await PAGES[route]();
    if (state.route !== token) return;
    mount(main);
    const cleanup = await page({
      main,
      user: state.user,
      params,
      navigate,
      setUser: (user) => { state.user = user; },
      reloadUser: loadUser,
    });
    if (state.route === token) state.cleanup = typeof cleanup === 'function' ? cleanup : null;
    else if (typeof cleanup === 'function') cleanup();
    const title = main.querySelector('h1');
    document.title = title ? `${title.textContent} · atelier` : 'atelier';
  } catch (err) {
    showError(err);
    mount(main, h('div', { class: 'empty' }, h('p', {}, t('common.unexpected'))));
  }
}

window.addEventListener('hashchange', () => {
  render();
  const main = document.getElementById('main');
  main.focus({ preventScroll: true });
});

loadUser().then(render);
