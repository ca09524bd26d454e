// Sign in and sign up: username + password (and, for new accounts, the profile fields the API
// has: role in the family and gender). The session is the HttpOnly cookie the API sets.
import { post } from '../lib/api.js';
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
