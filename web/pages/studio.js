// `#/studio`: the detector studio's place in the navigation. Its pages (projects, the
// annotation tool, training) come with the studio's own issue, on this foundation.
import { h, pageHead, empty } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

export function studio({ main }) {
  main.append(pageHead(t('studio.title'), t('studio.lead')),
    h('section', { class: 'card' }, empty('studio', t('studio.soon'), h('a', { class: 'btn btn-secondary', href: '#/playground' }, t('studio.try')))));
}
