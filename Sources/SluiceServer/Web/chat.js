// chat.js — Sluice's chat page: a conversation kept in localStorage (its last MAX_TURNS turns), answered
// through the jobs API (sluice.js). An answer interrupted by a refresh or a server restart resumes where
// it stopped. The access token, if any, lives in sessionStorage only: this tab, until it closes or a new
// conversation starts.
import { Sluice, SluiceError } from '/sluice.js';
import { pickLanguage, storeLanguage, translator, applyTranslations } from '/assets/i18n.js';

const messages = {
  en: {
    title: 'Sluice — chat',
    heading: 'Sluice',
    tagline: 'Every question waits its turn in the queue; a refresh does not interrupt the answer.',
    language: 'Language',
    newConversation: 'New conversation',
    signIn: 'Sign in',
    signInHelp: 'If this server asks for sign-in, paste your access token here. It is kept in this tab only, until you close it or start a new conversation.',
    tokenLabel: 'Access token',
    tokenPlaceholder: 'Paste your token',
    signInNeeded: 'Please sign in: {message}',
    empty: 'No questions yet. Ask the first one below.',
    conversationLabel: 'Conversation',
    questionLabel: 'Your question',
    questionPlaceholder: 'Ask a question…',
    enterHint: 'Enter sends, Shift+Enter adds a line.',
    send: 'Send',
    cancel: 'Cancel',
    you: 'You',
    answer: 'Answer',
    sending: 'Sending…',
    queued: 'Queued — position {position}',
    queuedNoPosition: 'Queued — waiting for its turn…',
    processing: 'Processing…',
    reconnecting: 'Connection lost — reconnecting…',
    cancelling: 'Cancelling…',
    cancelled: 'Cancelled.',
    turnCancelled: 'Cancelled before the answer was complete.',
  },
  mn: {
    title: 'Sluice — чат',
    heading: 'Sluice',
    tagline: 'Асуулт бүр дараалалд орж хариулагдана; хуудсаа шинэчилсэн ч хариулт тасрахгүй.',
    language: 'Хэл',
    newConversation: 'Шинэ яриа',
    signIn: 'Нэвтрэх',
    signInHelp: 'Хэрэв энэ сервер нэвтрэхийг шаардвал хандалтын токеноо энд оруулна уу. Токен зөвхөн энэ табд хадгалагдах ба табаа хаах эсвэл шинэ яриа эхлүүлэхэд устана.',
    tokenLabel: 'Хандалтын токен',
    tokenPlaceholder: 'Токеноо энд буулгана уу',
    signInNeeded: 'Нэвтэрнэ үү: {message}',
    empty: 'Одоохондоо асуулт алга. Доорх талбарт эхний асуултаа бичнэ үү.',
    conversationLabel: 'Яриа',
    questionLabel: 'Таны асуулт',
    questionPlaceholder: 'Асуултаа бичнэ үү…',
    enterHint: 'Enter дарвал илгээнэ, Shift+Enter дарвал шинэ мөр нэмнэ.',
    send: 'Илгээх',
    cancel: 'Цуцлах',
    you: 'Та',
    answer: 'Хариулт',
    sending: 'Илгээж байна…',
    queued: 'Дараалалд — {position}-р байр',
    queuedNoPosition: 'Дараалалд — ээлжээ хүлээж байна…',
    processing: 'Боловсруулж байна…',
    reconnecting: 'Холболт тасарлаа — дахин холбогдож байна…',
    cancelling: 'Цуцалж байна…',
    cancelled: 'Цуцлагдлаа.',
    turnCancelled: 'Хариулт дуусахаас өмнө цуцлагдсан.',
  },
};

const CONVERSATION_KEY = 'sluice.conversation';
const USER_KEY = 'sluice.user';
/** In sessionStorage: the token lasts as long as the tab (and is cleared by "New conversation"). */
const TOKEN_KEY = 'sluice.token';
/** How many earlier finished turns go with a new question. */
const CONTEXT_TURNS = 10;
/** The most turns kept, on the page and in storage: older ones are dropped. */
const MAX_TURNS = 50;
/** While an answer streams, the conversation is written at most this often (and at once when a job ends). */
const SAVE_INTERVAL_MS = 500;

/** @typedef {import('/sluice.js').Job} Job */
/** @typedef {'queued'|'running'|'done'|'error'|'cancelled'} TurnState */
/**
 * One question and its answer, as stored in localStorage `sluice.conversation`.
 * @typedef {object} Turn
 * @property {string} question
 * @property {string} answer
 * @property {string|null} jobId null while the question is being sent (not stored then)
 * @property {number} lastEventId
 * @property {TurnState} state
 * @property {number|null} [position]
 * @property {string} [error] the error's message (state 'error')
 * @property {string} [errorCode]
 */
/**
 * What the page knows about a turn beyond what it stores.
 * @typedef {{job: Job|null, reconnecting: boolean, cancelling: boolean, cancelRequested: boolean, cancelError: string}} Live
 */
/** @typedef {{state: 'idle'|'error', key?: string, vars?: Record<string, string>, message?: string}} Outcome */

/**
 * A Web Storage area that never throws: nothing is read or kept when it is unavailable (private mode,
 * blocked storage). `set` says whether the value was kept and rethrows nothing; a full storage is
 * reported as 'quota' so the caller may make room and try again.
 * @param {() => Storage} area
 */
function safeStorage(area) {
  return {
    /** @param {string} key @returns {string|null} */
    get(key) { try { return area().getItem(key); } catch { return null; } },
    /** @param {string} key @param {string} value @returns {'ok'|'quota'|'failed'} */
    set(key, value) {
      try { area().setItem(key, value); return 'ok'; } catch (error) { return isQuotaError(error) ? 'quota' : 'failed'; }
    },
    /** @param {string} key */
    remove(key) { try { area().removeItem(key); } catch { /* nothing to do */ } },
  };
}

/** Whether setItem failed because the storage is full (the name and codes differ between browsers). @param {unknown} error */
function isQuotaError(error) {
  if (!(error instanceof DOMException)) return false;
  return error.name === 'QuotaExceededError' || error.name === 'NS_ERROR_DOM_QUOTA_REACHED' || error.code === 22 || error.code === 1014;
}

const storage = safeStorage(() => localStorage);
const session = safeStorage(() => sessionStorage);

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  form: /** @type {HTMLFormElement} */ (byId('ask')),
  question: /** @type {HTMLTextAreaElement} */ (byId('question')),
  cancel: /** @type {HTMLButtonElement} */ (byId('cancel')),
  newConversation: byId('new-conversation'),
  lang: /** @type {HTMLSelectElement} */ (byId('lang')),
  token: /** @type {HTMLInputElement} */ (byId('token')),
  signin: /** @type {HTMLDetailsElement} */ (byId('signin-area')),
  signinMessage: byId('signin-message'),
  status: byId('status'),
  conversation: byId('conversation'),
  empty: byId('empty'),
};

/** The anonymous user id ("web-" + random), kept across visits. */
function userId() {
  let id = storage.get(USER_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    id = 'web-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    storage.set(USER_KEY, id);
  }
  return id;
}

/** @returns {Turn[]} the stored conversation, its last MAX_TURNS turns (turns being sent when the page closed are gone). */
function loadConversation() {
  let stored;
  try { stored = JSON.parse(storage.get(CONVERSATION_KEY) ?? '[]'); } catch { stored = []; }
  if (!Array.isArray(stored)) return [];
  const states = ['queued', 'running', 'done', 'error', 'cancelled'];
  return stored
    .filter((turn) => turn && typeof turn.question === 'string' && typeof turn.jobId === 'string')
    .map((turn) => ({
      question: turn.question,
      answer: typeof turn.answer === 'string' ? turn.answer : '',
      jobId: turn.jobId,
      lastEventId: Number.isInteger(turn.lastEventId) ? turn.lastEventId : 0,
      state: states.includes(turn.state) ? turn.state : 'error',
      error: typeof turn.error === 'string' ? turn.error : '',
      errorCode: typeof turn.errorCode === 'string' ? turn.errorCode : '',
    }))
    .slice(-MAX_TURNS);
}

/** The pending throttled save, if any. @type {ReturnType<typeof setTimeout>|0} */
let saveTimer = 0;

/**
 * Writes the conversation now (cancelling a pending throttled save). When the storage is full, the
 * oldest half of the turns is dropped (from the page too) and the write tried once more. Never throws.
 */
function saveConversation() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  try {
    if (writeConversation() !== 'quota' || turns.length === 0) return;
    dropOldest(Math.max(1, Math.floor(turns.length / 2)));
    writeConversation();
  } catch {
    // The conversation is not kept this time; the page goes on.
  }
}

/** @returns {'ok'|'quota'|'failed'} */
function writeConversation() {
  const stored = turns
    .filter((turn) => turn.jobId)
    .map(({ question, answer, jobId, lastEventId, state, error, errorCode }) => ({ question, answer, jobId, lastEventId, state, error, errorCode }));
  return storage.set(CONVERSATION_KEY, JSON.stringify(stored));
}

/** Saves within SAVE_INTERVAL_MS (for the many events of a streaming answer). */
function scheduleSave() {
  if (!saveTimer) saveTimer = setTimeout(saveConversation, SAVE_INTERVAL_MS);
}

/** Forgets the `count` oldest turns: off the page, no longer followed (not cancelled). @param {number} count */
function dropOldest(count) {
  if (count <= 0) return;
  for (const turn of turns.splice(0, count)) {
    const current = live.get(turn);
    current?.job?.close();
    if (current) current.job = null;
    elements.get(turn)?.remove();
  }
  els.empty.hidden = turns.length > 0;
}

let lang = pickLanguage();
let t = translator(messages, lang);
const sluice = new Sluice({ user: userId(), language: lang, token: () => els.token.value.trim() || null });

/** @type {Turn[]} */
let turns = loadConversation();
/** @type {WeakMap<Turn, Live>} */
const live = new WeakMap();
/** @type {WeakMap<Turn, HTMLElement>} */
const elements = new WeakMap();
/** How the last job ended, shown in #status when nothing is in flight. @type {Outcome|null} */
let outcome = null;

/** @param {Turn} turn @returns {Live} */
function liveOf(turn) {
  let state = live.get(turn);
  if (!state) {
    state = { job: null, reconnecting: false, cancelling: false, cancelRequested: false, cancelError: '' };
    live.set(turn, state);
  }
  return state;
}

/** @param {Turn} turn */
const inFlight = (turn) => turn.state === 'queued' || turn.state === 'running';

/** @param {string} tag @param {string} className @param {string} [i18n] */
function make(tag, className, i18n) {
  const element = document.createElement(tag);
  element.className = className;
  if (i18n) { element.dataset.i18n = i18n; element.textContent = t(i18n); }
  return element;
}

/** Creates or updates a turn's card. @param {Turn} turn @returns {HTMLElement} */
function renderTurn(turn) {
  let article = elements.get(turn);
  if (!article) {
    article = make('article', 'turn');
    const question = make('p', 'question');
    question.textContent = turn.question;
    article.append(make('div', 'who who-question', 'you'), question, make('div', 'who who-answer', 'answer'),
      make('div', 'answer'), make('p', 'turn-note'));
    elements.set(turn, article);
  }
  article.dataset.job = turn.jobId ?? '';
  article.dataset.state = turn.state;
  article.setAttribute('aria-busy', String(inFlight(turn)));
  const answer = /** @type {HTMLElement} */ (article.querySelector('.answer'));
  if (answer.textContent !== turn.answer) answer.textContent = turn.answer;
  const note = /** @type {HTMLElement} */ (article.querySelector('.turn-note'));
  note.textContent = turn.state === 'cancelled' ? t('turnCancelled') : turn.state === 'error' ? (turn.error ?? '') : '';
  note.hidden = !note.textContent;
  return article;
}

function renderConversation() {
  els.conversation.replaceChildren(...turns.map(renderTurn));
  els.empty.hidden = turns.length > 0;
}

/** #status (and the cancel button) from the latest turn in flight, else how the last one ended. */
function renderStatus() {
  const active = turns.filter(inFlight);
  els.cancel.hidden = active.length === 0;
  const focus = active.at(-1);
  let state = 'idle';
  let text = '';
  if (focus) {
    const current = liveOf(focus);
    state = focus.state === 'running' ? 'running' : 'queued';
    if (current.cancelError) { state = 'error'; text = current.cancelError; }
    else if (current.cancelling) text = t('cancelling');
    else if (!focus.jobId) text = t('sending');
    else if (current.reconnecting) text = t('reconnecting');
    else if (focus.state === 'running') text = t('processing');
    else text = focus.position ? t('queued', { position: String(focus.position) }) : t('queuedNoPosition');
  } else if (outcome) {
    state = outcome.state;
    text = outcome.key ? t(outcome.key, outcome.vars) : (outcome.message ?? '');
  }
  els.status.dataset.state = state;
  els.status.textContent = text;
}

/** Opens the sign-in area and says why. @param {string} message */
function askSignIn(message) {
  els.signin.open = true;
  els.signinMessage.textContent = message;
  els.signinMessage.hidden = false;
}

/** @param {unknown} error @returns {Outcome} */
function outcomeOf(error) {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SluiceError && error.status === 401) {
    askSignIn(message);
    return { state: 'error', key: 'signInNeeded', vars: { message } };
  }
  return { state: 'error', message };
}

/** Whether the page is scrolled to (nearly) its end. */
const atEnd = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;

/** Follows a turn's job: every event is stored at once, so a refresh resumes from it. @param {Turn} turn @param {Job} job */
function attach(turn, job) {
  const current = liveOf(turn);
  current.job = job;
  /** @param {boolean} [ended] the job is over: save at once rather than within SAVE_INTERVAL_MS */
  const sync = (ended = false) => {
    const follow = atEnd();
    current.reconnecting = false;
    current.cancelError = '';
    turn.answer = job.answer;
    turn.lastEventId = job.lastEventId;
    turn.state = job.state;
    turn.position = job.position;
    if (ended) saveConversation(); else scheduleSave();
    renderTurn(turn);
    renderStatus();
    if (follow && inFlight(turn)) window.scrollTo({ top: document.documentElement.scrollHeight });
  };
  job.addEventListener('open', () => { current.reconnecting = false; renderStatus(); });
  job.addEventListener('retrying', () => { current.reconnecting = true; renderStatus(); });
  for (const type of ['queue', 'delta', 'reset', 'choice']) job.addEventListener(type, () => sync());
  job.addEventListener('done', () => {
    current.job = null;
    current.cancelling = false;
    turn.error = '';
    turn.errorCode = '';
    outcome = null;
    sync(true);
  });
  job.addEventListener('error', (event) => {
    const error = /** @type {SluiceError} */ (/** @type {CustomEvent} */ (event).detail);
    current.job = null;
    current.cancelling = false;
    turn.errorCode = error.code;
    turn.error = job.state === 'error' ? error.message : '';
    outcome = job.state === 'cancelled' ? { state: 'idle', key: 'cancelled' } : outcomeOf(error);
    sync(true); // also how a cancel ends
  });
}

/** @param {Turn} turn */
function cancelTurn(turn) {
  const current = liveOf(turn);
  current.cancelling = true;
  if (!current.job) { current.cancelRequested = true; return; }
  current.job.cancel().catch((error) => {
    current.cancelling = false;
    current.cancelError = error instanceof Error ? error.message : String(error);
    renderStatus();
  });
}

/** The earlier finished turns, as user/assistant pairs. */
function context() {
  return turns
    .filter((turn) => turn.state === 'done' && turn.answer)
    .slice(-CONTEXT_TURNS)
    .flatMap((turn) => [{ role: 'user', content: turn.question }, { role: 'assistant', content: turn.answer }]);
}

async function send() {
  const question = els.question.value.trim();
  if (!question) { els.question.focus(); return; }
  const messagesToSend = [...context(), { role: 'user', content: question }];
  /** @type {Turn} */
  const turn = { question, answer: '', jobId: null, lastEventId: 0, state: 'queued', position: null };
  turns.push(turn);
  dropOldest(turns.length - MAX_TURNS);
  outcome = null;
  els.question.value = '';
  els.conversation.append(renderTurn(turn));
  els.empty.hidden = true;
  renderStatus();
  window.scrollTo({ top: document.documentElement.scrollHeight });
  let job;
  try {
    job = await sluice.ask({ model: 'default', messages: messagesToSend });
  } catch (error) {
    if (turns.includes(turn)) {
      // Nothing was created: the question goes back into the box, to send again (after signing in, say).
      turns.splice(turns.indexOf(turn), 1);
      elements.get(turn)?.remove();
      els.empty.hidden = turns.length > 0;
      if (!els.question.value) els.question.value = question;
      outcome = outcomeOf(error);
    }
    renderStatus();
    return;
  }
  if (!turns.includes(turn)) {
    // The conversation was cleared while the question was on its way.
    job.close();
    job.cancel().catch(() => {});
    return;
  }
  turn.jobId = job.id;
  turn.state = job.state;
  saveConversation();
  renderTurn(turn);
  attach(turn, job);
  if (liveOf(turn).cancelRequested) cancelTurn(turn);
  renderStatus();
}

function newConversation() {
  for (const turn of turns) {
    const { job } = liveOf(turn);
    if (!job) continue;
    job.close();
    if (inFlight(turn)) job.cancel().catch(() => {});
  }
  turns = [];
  outcome = null;
  saveConversation();
  // The token goes too: whoever uses this tab next starts signed out. (The cancels above have already
  // read it: a request takes its headers when it starts.)
  els.token.value = '';
  session.remove(TOKEN_KEY);
  els.signinMessage.hidden = true;
  renderConversation();
  renderStatus();
  els.question.focus();
}

/** Shows the page in `next`; `remember` stores the choice. @param {string} next @param {boolean} remember */
function setLanguage(next, remember) {
  lang = next === 'mn' ? 'mn' : 'en';
  if (remember) storeLanguage(lang);
  t = translator(messages, lang);
  sluice.setLanguage(lang);
  els.lang.value = lang;
  applyTranslations(document, t);
  for (const turn of turns) renderTurn(turn);
  renderStatus();
}

els.form.addEventListener('submit', (event) => {
  event.preventDefault();
  send().catch((error) => { outcome = outcomeOf(error); renderStatus(); });
});
els.question.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !event.altKey) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});
els.cancel.addEventListener('click', () => {
  for (const turn of turns.filter(inFlight)) cancelTurn(turn);
  saveConversation(); // what has streamed so far; the cancelled state is saved when the job ends
  renderStatus();
});
els.newConversation.addEventListener('click', newConversation);
els.lang.addEventListener('change', () => setLanguage(els.lang.value, true));
// The token field sits in a form of its own (so that browsers accept a password field): Enter there
// submits nothing.
els.token.form?.addEventListener('submit', (event) => event.preventDefault());
els.token.value = session.get(TOKEN_KEY) ?? '';
els.token.addEventListener('input', () => {
  const token = els.token.value.trim();
  if (token) session.set(TOKEN_KEY, token); else session.remove(TOKEN_KEY);
  els.signinMessage.hidden = true;
});
// A token kept by an older version of this page, in localStorage, is no longer wanted there.
storage.remove(TOKEN_KEY);
// The last streamed text is written before the page goes away (refresh, navigation, closing the tab).
window.addEventListener('pagehide', () => saveConversation());
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') saveConversation(); });

setLanguage(lang, false);
renderConversation();
// Resume what was unfinished (and what gave up on an unreachable server) from its last event.
for (const turn of turns) {
  if (!turn.jobId) continue;
  if (turn.state === 'error' && turn.errorCode === 'network_error') {
    turn.state = turn.answer ? 'running' : 'queued';
    turn.error = '';
    turn.errorCode = '';
    renderTurn(turn);
  }
  if (!inFlight(turn)) continue;
  attach(turn, sluice.follow(turn.jobId, { after: turn.lastEventId, text: turn.answer, state: turn.state }));
}
renderStatus();
