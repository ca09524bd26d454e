// Interface language: English or Japanese, from the browser's language unless the user chose
// one (kept in localStorage). Every string lives in web/i18n/<lang>.js.
import en from '../i18n/en.js';
import ja from '../i18n/ja.js';

const TABLES = { en, ja };
const KEY = 'atelier.lang';

function initial() {
  const saved = localStorage.getItem(KEY);
  if (saved && TABLES[saved]) return saved;
  const wanted = (navigator.languages || [navigator.language || 'en']).map((l) => l.slice(0, 2));
  return wanted.find((l) => TABLES[l]) || 'en';
}

let lang = initial();
document.documentElement.lang = lang;

/** The current language code. */
export function language() {
  return lang;
}

/** The languages offered, with their own names. */
export const LANGUAGES = [['en', 'English'], ['ja', '日本語']];

/** Switches language (persisted); the caller re-renders. */
export function setLanguage(next) {
  if (!TABLES[next]) return;
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
}

/** The string for `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = TABLES[lang][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? `{${name}}`));
}
