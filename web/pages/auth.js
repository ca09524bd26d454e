// Sign in and sign up: username + password (and, for new accounts, the profile fields the API
// has: role in the family and gender), or "Sign in with …" per configured OpenID Connect
// provider (a plain link: the server sends the browser to the provider and back, and comes
// back to `/?oidc_error=CODE#/login` when the sign-in was refused). The session is the
// HttpOnly cookie the API sets.
import { get, post } from '../lib/api.js';
import { h, field, button, showError } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

function shell(title, lead, formEl, footer) {
  return h('div', { class: 'auth' },
    h('div', { class: 'auth-hero' },
      h('img', { src: '/assets/icon.svg', alt: '', width: 56, height: 56 }),
      h('p', { class: 'auth-tagline' }, t('auth.tagline'))),
    h('section', { class: 'card auth-card' },
      h('h1', {}, title), h('p', { class: 'lead' }, lead), formEl, h('p', { class: 'auth-switch' }, footer)));
}

function submitting(formEl, busy) {
  for (const el of formEl.querySelectorAll('button, input, select')) el.disabled = busy;
  formEl.setAttribute('aria-busy', busy ? 'true' : 'false');
}

/** One "Sign in with …" link per configured provider (none: nothing is shown). */
function providerButtons() {
  const box = h('div', { class: 'auth-providers', hidden: true });
  get('/api/v1/auth/oidc/providers').then((providers) => {
    if (!providers.length) return;
    box.append(
      ...providers.map((p) => h('a', { class: 'btn btn-secondary btn-block', href: p.login_url, 'data-provider': p.id },
        t('auth.oidc.with', { name: p.name }))),
      h('p', { class: 'auth-or' }, h('span', {}, t('auth.oidc.or'))));
    box.hidden = false;
  }).catch(() => {});
  return box;
}

/** The message for a refused provider sign-in (`?oidc_error=CODE`), once; then the URL is cleaned. */
function providerError() {
  const params = new URLSearchParams(location.search);
  const code = params.get('oidc_error');
  if (!code) return null;
  history.replaceState(null, '', location.pathname + location.hash);
  const known = ['access-denied', 'invalid-state', 'login-expired', 'provider-unreachable', 'unknown-provider',
    'identity-linked-elsewhere', 'sign-in-required'];
  const key = known.includes(code) ? `auth.oidc.error.${code}` : 'auth.oidc.error.other';
  return h('p', { class: 'auth-error', role: 'alert', id: 'oidc-error', 'data-code': code }, t(key, { code }));
}

/** `#/login`. */
export function login({ main, navigate, setUser }) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 64 });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const formEl = h('form', { class: 'stack', novalidate: false },
    field(t('auth.username'), username),
    field(t('auth.password'), password),
    button(t('auth.login'), { type: 'submit', class: 'btn btn-primary btn-block' }));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    submitting(formEl, true);
    try {
      const session = await post('/api/v1/auth/login', { username: username.value.trim(), password: password.value });
      setUser(session.user);
      navigate(session.user.family_id ? 'gallery' : 'family');
    } catch (err) {
      showError(err);
      submitting(formEl, false);
      password.focus();
    }
  });
  const error = providerError();
  if (error) formEl.prepend(error);
  formEl.prepend(providerButtons());
  main.append(shell(t('auth.login.title'), t('auth.login.lead'), formEl,
    [t('auth.noaccount'), ' ', h('a', { href: '#/signup' }, t('auth.signup'))]));
  username.focus();
}

/** `#/signup`. */
export function signup({ main, navigate, setUser }) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 64, pattern: '[A-Za-z0-9_.\\-]+' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const role = h('select', { name: 'type' },
    h('option', { value: 'Parent' }, t('role.Parent')), h('option', { value: 'Child' }, t('role.Child')));
  const gender = h('select', { name: 'gender' },
    h('option', { value: 'Other' }, t('gender.Other')), h('option', { value: 'Female' }, t('gender.Female')), h('option', { value: 'Male' }, t('gender.Male')));
  const formEl = h('form', { class: 'stack' },
    field(t('auth.username'), username, t('auth.username.hint')),
    field(t('auth.password'), password, t('auth.password.hint')),
    h('div', { class: 'grid-2' }, field(t('auth.role'), role), field(t('auth.gender'), gender)),
    button(t('auth.signup'), { type: 'submit', class: 'btn btn-primary btn-block' }));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    submitting(formEl, true);
    try {
      const session = await post('/api/v1/auth/register', {
        username: username.value.trim(), password: password.value, type: role.value, gender: gender.value,
      });
      setUser(session.user);
      navigate('family');
    } catch (err) {
      showError(err);
      submitting(formEl, false);
    }
  });
  main.append(shell(t('auth.signup.title'), t('auth.signup.lead'), formEl,
    [t('auth.haveaccount'), ' ', h('a', { href: '#/login' }, t('auth.login'))]));
  username.focus();
}
