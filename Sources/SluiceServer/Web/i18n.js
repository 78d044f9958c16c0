// i18n.js — the language of Sluice's pages (English or Mongolian), shared by the chat page and the dashboard.
// Each page keeps its own `messages = {en: {...}, mn: {...}}`.

/** @typedef {'en'|'mn'} Language */
/** @typedef {Record<string, string>} MessageTable */
/**
 * A translate function: `t(key, vars)`; `t.lang` is its language.
 * @typedef {((key: string, vars?: Record<string, string|number>) => string) & {lang: Language}} Translate
 */

const STORAGE_KEY = 'sluice.lang';

/** The languages the pages speak. */
export const LANGUAGES = /** @type {const} */ (['en', 'mn']);

/**
 * @param {unknown} lang
 * @returns {lang is Language}
 */
function isLanguage(lang) {
  return lang === 'en' || lang === 'mn';
}

/**
 * The language to show: the stored choice (localStorage `sluice.lang`), else the browser's preference:
 * 'mn' when a Mongolian language comes before any English one in navigator.languages, else 'en'.
 * @returns {Language}
 */
export function pickLanguage() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (isLanguage(stored)) return stored;
  } catch { /* storage unavailable: fall back to the browser */ }
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language ?? 'en'];
  for (const tag of preferred) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith('mn')) return 'mn';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

/**
 * Remembers the user's choice.
 * @param {Language} lang
 */
export function storeLanguage(lang) {
  if (!isLanguage(lang)) return;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* storage unavailable: the choice lasts this page */ }
}

/**
 * A translate function over `messages[lang]` (falling back to English, then the key itself) that fills
 * `{name}` placeholders from `vars`.
 * @param {Record<string, MessageTable>} messages
 * @param {Language} lang
 * @returns {Translate}
 */
export function translator(messages, lang) {
  const language = isLanguage(lang) ? lang : 'en';
  const table = messages[language] ?? {};
  const fallback = messages.en ?? {};
  const t = (key, vars = {}) => {
    const template = table[key] ?? fallback[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  };
  return Object.assign(t, { lang: language });
}

/**
 * Translates everything marked under `root`: textContent of `[data-i18n=key]`, the placeholder of
 * `[data-i18n-placeholder=key]`, the title of `[data-i18n-title=key]` and the aria-label of
 * `[data-i18n-aria-label=key]`; and sets `<html lang>` to the translator's language.
 * @param {ParentNode} root
 * @param {Translate} t
 */
export function applyTranslations(root, t) {
  /** @param {string} selector */
  const all = (selector) => {
    const found = [...root.querySelectorAll(selector)];
    if (root instanceof Element && root.matches(selector)) found.unshift(root);
    return found;
  };
  for (const element of all('[data-i18n]')) element.textContent = t(element.getAttribute('data-i18n') ?? '');
  for (const element of all('[data-i18n-placeholder]')) {
    element.setAttribute('placeholder', t(element.getAttribute('data-i18n-placeholder') ?? ''));
  }
  for (const element of all('[data-i18n-title]')) element.setAttribute('title', t(element.getAttribute('data-i18n-title') ?? ''));
  for (const element of all('[data-i18n-aria-label]')) {
    element.setAttribute('aria-label', t(element.getAttribute('data-i18n-aria-label') ?? ''));
  }
  document.documentElement.lang = t.lang ?? 'en';
}
