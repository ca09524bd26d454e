// `#/family`: create a family or join one with its code; the family's code (copy, share) and
// its members with their roles.
import { get, post, del } from '../lib/api.js';
import { h, card, field, button, pageHead, toast, showError, when, confirmDialog } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

export async function family(ctx) {
  const { main, user } = ctx;
  let fam = null;
  if (user.family_id) {
    try {
      fam = await get('/api/v1/families/mine');
    } catch (err) {
      if (err.status !== 404) showError(err);
    }
  }
  if (!fam) {
    main.append(pageHead(t('family.title'), t('family.none.lead')), h('div', { class: 'grid-2 cards' }, createCard(ctx), joinCard(ctx)));
    return;
  }
  const code = h('output', { class: 'code', id: 'family-code', 'aria-label': t('family.code') }, fam.invitation_code);
  const copy = button(t('common.copy'), {
    kind: 'secondary', iconName: 'copy', id: 'copy-code',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(fam.invitation_code);
        toast(t('family.copied'));
      } catch {
        toast(t('family.copy.failed'), 'error');
      }
    },
  });
  const share = navigator.share ? button(t('common.share'), {
    kind: 'ghost',
    onclick: () => navigator.share({ title: 'atelier', text: t('family.share.text', { name: fam.name, code: fam.invitation_code }) }).catch(() => {}),
  }) : null;
  const members = h('ul', { class: 'list', id: 'members' }, fam.users.map((m) => h('li', { class: 'list-item member' },
    h('span', { class: 'avatar', 'aria-hidden': 'true' }, m.username.slice(0, 1).toUpperCase()),
    h('div', { class: 'grow' }, h('strong', {}, m.username), m.id === user.id ? h('span', { class: 'muted' }, ` · ${t('family.you')}`) : null,
      h('div', { class: 'muted small' }, t('family.joined', { when: when(m.created_at) }))),
    h('div', { class: 'member-tags' },
    h('span', { class: `badge badge-${m.type === 'Parent' ? 'accent' : 'soft'}` }, t(`role.${m.type}`)),
    m.id === fam.created_by ? h('span', { class: 'badge' }, t('family.founder')) : null,
    fam.created_by === user.id && m.id !== user.id
      ? button(t('family.remove'), {
        kind: 'ghost', class: 'btn btn-ghost btn-small member-remove', 'aria-label': t('family.remove.who', { name: m.username }),
        onclick: async () => {
          if (!(await confirmDialog(t('family.remove.confirm', { name: m.username }), t('family.remove')))) return;
          try {
            await del(`/api/v1/families/${fam.id}/members/${m.id}`);
            toast(t('family.removed', { name: m.username }));
            ctx.navigate('family');
          } catch (err) {
            showError(err);
          }
        },
      })
      : null))));
  const leave = button(t('family.leave'), {
    kind: 'ghost', iconName: 'logout', id: 'leave-family',
    onclick: async () => {
      if (!(await confirmDialog(t('family.leave.confirm'), t('family.leave')))) return;
      try {
        await post('/api/v1/families/leave');
        await ctx.reloadUser();
        toast(t('family.left'));
        ctx.navigate('family');
      } catch (err) {
        showError(err);
      }
    },
  });
  main.append(
    pageHead(fam.name, t('family.lead')),
    h('div', { class: 'grid-2 cards' },
      card(t('family.invite'), h('p', { class: 'muted' }, t('family.invite.lead')), h('div', { class: 'code-row' }, code, copy, share)),
      card(t('family.members', { count: fam.users.length }), members, h('div', { class: 'card-foot' }, leave))));
}

function createCard({ navigate, reloadUser }) {
  const name = h('input', { name: 'family-name', required: true, maxlength: 100, autocomplete: 'off' });
  const formEl = h('form', { class: 'stack' },
    field(t('family.name'), name, t('family.name.hint')),
    button(t('family.create'), { type: 'submit', iconName: 'plus' }));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await post('/api/v1/families', { name: name.value.trim() });
      await reloadUser();
      toast(t('family.created'));
      navigate('family');
    } catch (err) {
      showError(err);
    }
  });
  return card(t('family.create.title'), h('p', { class: 'muted' }, t('family.create.lead')), formEl);
}

function joinCard({ navigate, reloadUser }) {
  const code = h('input', { name: 'invitation-code', required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', class: 'mono' });
  const formEl = h('form', { class: 'stack' },
    field(t('family.code'), code, t('family.code.hint')),
    button(t('family.join'), { type: 'submit', kind: 'secondary', iconName: 'family' }));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await post('/api/v1/families/join', { invitation_code: code.value.trim() });
      await reloadUser();
      toast(t('family.joined.toast'));
      navigate('family');
    } catch (err) {
      showError(err);
    }
  });
  return card(t('family.join.title'), h('p', { class: 'muted' }, t('family.join.lead')), formEl);
}
