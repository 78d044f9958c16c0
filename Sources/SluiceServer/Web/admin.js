// Sluice admin dashboard: sign-in, one live status stream (/admin/api/events), the mode control and
// the job inspector. Plain ES module, no dependencies; every label in English and Mongolian.
import { pickLanguage, storeLanguage, translator, applyTranslations } from '/assets/i18n.js';
import { SSEParser } from '/sluice.js';

const messages = {
  en: {
    title: 'Sluice — dashboard',
    dashboard: 'dashboard',
    language: 'Language',
    signinTitle: 'Sign in',
    signinHelp: 'Enter the admin key. Leave it empty if the server runs without credentials on this machine.',
    adminKey: 'Admin key',
    signin: 'Sign in',
    signingIn: 'Signing in…',
    signout: 'Sign out',
    signinFailed: 'Could not sign in ({status}).',
    sessionExpired: 'Your session has ended. Please sign in again.',
    networkError: 'Cannot reach the server. Check the connection and try again.',
    requestFailed: 'The request failed ({status}).',
    tier: 'Tier',
    mode: 'Mode',
    node: 'Node',
    caller: 'Signed in as',
    live: 'Live',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    reconnectingIn: 'Reconnecting in {seconds} s…',
    modeNone: 'none',
    source_calendar: 'from the calendar',
    source_admin: 'set by an admin',
    tier_normal: 'normal',
    tier_high: 'high',
    tier_peak: 'peak',
    tier_overload: 'overload',
    health_waiting: 'Waiting for the first update…',
    health_ok: 'All good: the queue is moving and every provider is healthy.',
    health_warn: 'Under strain: keep an eye on the queue and the providers.',
    health_bad: 'Trouble: students are waiting or a provider is down. Action may be needed.',
    health_stale: 'No live data: the numbers below are from the last update.',
    queueTitle: 'Queue',
    queuedTotal: 'Queued',
    runningTotal: 'Running',
    clusterQueued: 'Queued in the cluster',
    clusterLoad: 'Cluster load',
    class: 'Class',
    queued: 'Queued',
    running: 'Running',
    class_bypass: 'Bypass',
    class_interactive: 'Interactive',
    class_batch: 'Batch',
    chartLabel: 'Queued and running jobs over the last two minutes',
    legendQueued: 'queued',
    legendRunning: 'running',
    trendWindow: 'last ~2 minutes',
    chartNow: 'now',
    chartAgo: '−2 min',
    cacheTitle: 'Cache',
    hitRate: 'Hit rate',
    layer: 'Layer',
    hits: 'Hits',
    layer_exact: 'Exact',
    layer_semantic: 'Semantic',
    lookups: 'Lookups',
    saved: 'Saved',
    savedValue: '{tokens} tokens · {dollars}',
    noLayers: 'No cache layers yet.',
    deploymentsTitle: 'Deployments',
    alias: 'Alias',
    deployment: 'Deployment',
    breaker: 'Breaker',
    inFlight: 'In flight / cap',
    errorRate: 'Error rate',
    ttft: 'TTFT p50 / p99',
    cooling: 'Cooling',
    breaker_closed: 'closed',
    'breaker_half-open': 'half-open',
    breaker_open: 'open',
    noCap: 'no cap',
    callsTitle: '{errors} errors in {calls} calls',
    noDeployments: 'No deployments reported.',
    batchesTitle: 'Batches',
    batch: 'Batch',
    api: 'API',
    status: 'Status',
    progress: 'Progress',
    batchProgress: '{completed} + {failed} of {total}',
    batchProgressTitle: '{completed} completed, {failed} failed, {total} in all',
    noBatches: 'No batches running on this node.',
    ms: '{n} ms',
    seconds: '{n} s',
    minutes: '{m} min {s} s',
    modeTitle: 'Mode control',
    modeHelp: 'A mode set here overrides the calendar until you clear it.',
    modeSelect: 'Mode',
    modeSet: 'Set',
    modeClear: 'Clear (follow the calendar)',
    noModes: 'No modes configured',
    confirmSet: 'Switch the mode to “{mode}” now? It stays until someone clears it.',
    confirmClear: 'Clear the manual mode and follow the calendar again?',
    modeSetDone: 'Mode set to “{mode}”.',
    modeCleared: 'Manual mode cleared: following the calendar.',
    working: 'Working…',
    topUsersTitle: 'Top users today',
    topTenantsTitle: 'Top tenants today',
    user: 'User',
    tenant: 'Tenant',
    requests: 'Requests',
    tokens: 'Tokens',
    cost: 'Cost',
    nothingToday: 'Nothing yet today.',
    inspectorTitle: 'Job inspector',
    jobId: 'Job id',
    jobIdPlaceholder: 'job_…',
    inspect: 'Inspect',
    enterJobId: 'Enter a job id.',
    loading: 'Loading…',
    state: 'State',
    owner: 'Owner',
    priority: 'Priority',
    model: 'Model',
    created: 'Created',
    started: 'Started',
    finished: 'Finished',
    afterWaiting: 'after {d} waiting',
    took: 'took {d}',
    queueMs: 'Time in queue',
    runMs: 'Run time',
    attempt: 'Attempt',
    tried: 'Deployments tried',
    servedBy: 'Served by',
    servedFromCache: 'Cache',
    error: 'Error',
    answer: 'Answer',
    usage: 'Usage',
    usageValue: '{prompt} prompt + {completion} completion tokens',
    events: 'Events',
    noEvents: 'No events recorded.',
    eventsTruncated: 'Showing the first {shown} of {total} events.',
    notYet: 'not yet',
    state_queued: 'queued',
    state_running: 'running',
    state_succeeded: 'succeeded',
    state_failed: 'failed',
    state_cancelled: 'cancelled',
    state_expired: 'expired',
    changedAt: 'Changed at: {time}',
  },
  mn: {
    title: 'Sluice — хяналтын самбар',
    dashboard: 'хяналтын самбар',
    language: 'Хэл',
    signinTitle: 'Нэвтрэх',
    signinHelp: 'Админы түлхүүрээ оруулна уу. Сервер энэ компьютер дээр нэвтрэх эрхгүйгээр ажиллаж байгаа бол хоосон орхино уу.',
    adminKey: 'Админы түлхүүр',
    signin: 'Нэвтрэх',
    signingIn: 'Нэвтэрч байна…',
    signout: 'Гарах',
    signinFailed: 'Нэвтэрч чадсангүй ({status}).',
    sessionExpired: 'Нэвтрэлтийн хугацаа дууссан. Дахин нэвтэрнэ үү.',
    networkError: 'Сервертэй холбогдож чадсангүй. Холболтоо шалгаад дахин оролдоно уу.',
    requestFailed: 'Хүсэлт амжилтгүй боллоо ({status}).',
    tier: 'Ачааллын түвшин',
    mode: 'Горим',
    node: 'Зангилаа',
    caller: 'Нэвтэрсэн',
    live: 'Шууд',
    connecting: 'Холбогдож байна…',
    reconnecting: 'Дахин холбогдож байна…',
    reconnectingIn: '{seconds} секундын дараа дахин холбогдоно…',
    modeNone: 'байхгүй',
    source_calendar: 'хуанлийн дагуу',
    source_admin: 'админ тохируулсан',
    tier_normal: 'хэвийн',
    tier_high: 'өндөр',
    tier_peak: 'оргил',
    tier_overload: 'хэт ачаалал',
    health_waiting: 'Эхний мэдээллийг хүлээж байна…',
    health_ok: 'Бүх зүйл хэвийн: дараалал урагшилж, бүх үйлчилгээ үзүүлэгч хэвийн ажиллаж байна.',
    health_warn: 'Ачаалал их байна: дараалал болон үйлчилгээ үзүүлэгчдийг анхааралтай ажиглаарай.',
    health_bad: 'Асуудал гарлаа: оюутнууд хүлээж байна эсвэл үйлчилгээ үзүүлэгч ажиллахгүй байна. Арга хэмжээ авах шаардлагатай байж магадгүй.',
    health_stale: 'Шууд мэдээлэл алга: доорх тоонууд сүүлийн шинэчлэлтийнх.',
    queueTitle: 'Дараалал',
    queuedTotal: 'Дараалалд',
    runningTotal: 'Ажиллаж буй',
    clusterQueued: 'Кластерын дараалалд',
    clusterLoad: 'Кластерын ачаалал',
    class: 'Ангилал',
    queued: 'Дараалалд',
    running: 'Ажиллаж буй',
    class_bypass: 'Давуу эрхтэй',
    class_interactive: 'Интерактив',
    class_batch: 'Багц',
    chartLabel: 'Сүүлийн хоёр минутад дараалалд болон ажиллаж байсан ажлууд',
    legendQueued: 'дараалалд',
    legendRunning: 'ажиллаж буй',
    trendWindow: 'сүүлийн ~2 минут',
    chartNow: 'одоо',
    chartAgo: '−2 мин',
    cacheTitle: 'Кэш',
    hitRate: 'Олдсон хувь',
    layer: 'Түвшин',
    hits: 'Олдсон',
    layer_exact: 'Яг таарсан',
    layer_semantic: 'Утгаар таарсан',
    lookups: 'Хайлт',
    saved: 'Хэмнэсэн',
    savedValue: '{tokens} токен · {dollars}',
    noLayers: 'Кэшийн түвшин одоогоор алга.',
    deploymentsTitle: 'Байршуулалтууд',
    alias: 'Загварын нэр',
    deployment: 'Байршуулалт',
    breaker: 'Таслуур',
    inFlight: 'Явцад / хязгаар',
    errorRate: 'Алдааны хувь',
    ttft: 'Эхний токен хүртэл p50 / p99',
    cooling: 'Түр зогсолт',
    breaker_closed: 'хаалттай',
    'breaker_half-open': 'хагас нээлттэй',
    breaker_open: 'нээлттэй',
    noCap: 'хязгааргүй',
    callsTitle: '{calls} дуудлагаас {errors} алдаа',
    noDeployments: 'Байршуулалтын мэдээлэл алга.',
    batchesTitle: 'Batch ажлууд',
    batch: 'Batch',
    api: 'API',
    status: 'Төлөв',
    progress: 'Явц',
    batchProgress: '{completed} + {failed} / нийт {total}',
    batchProgressTitle: '{completed} амжилттай, {failed} амжилтгүй, нийт {total}',
    noBatches: 'Энэ зангилаа дээр ажиллаж буй batch алга.',
    ms: '{n} мс',
    seconds: '{n} сек',
    minutes: '{m} мин {s} сек',
    modeTitle: 'Горимын удирдлага',
    modeHelp: 'Энд тохируулсан горим таныг арилгах хүртэл хуанлийн горимыг орлоно.',
    modeSelect: 'Горим',
    modeSet: 'Тохируулах',
    modeClear: 'Арилгах (хуанлийг дагах)',
    noModes: 'Горим тохируулаагүй байна',
    confirmSet: 'Горимыг одоо “{mode}” болгох уу? Хэн нэгэн арилгах хүртэл хэвээр байна.',
    confirmClear: 'Гараар тохируулсан горимыг арилгаж, хуанлийг дахин дагах уу?',
    modeSetDone: 'Горимыг “{mode}” болголоо.',
    modeCleared: 'Гараар тохируулсан горимыг арилгалаа: хуанлийг дагаж байна.',
    working: 'Гүйцэтгэж байна…',
    topUsersTitle: 'Өнөөдрийн тэргүүлэх хэрэглэгчид',
    topTenantsTitle: 'Өнөөдрийн тэргүүлэх түрээслэгчид',
    user: 'Хэрэглэгч',
    tenant: 'Түрээслэгч',
    requests: 'Хүсэлт',
    tokens: 'Токен',
    cost: 'Зардал',
    nothingToday: 'Өнөөдөр одоогоор юу ч алга.',
    inspectorTitle: 'Ажил шалгах',
    jobId: 'Ажлын дугаар',
    jobIdPlaceholder: 'job_…',
    inspect: 'Шалгах',
    enterJobId: 'Ажлын дугаар оруулна уу.',
    loading: 'Ачаалж байна…',
    state: 'Төлөв',
    owner: 'Эзэмшигч',
    priority: 'Эрэмбэ',
    model: 'Загвар',
    created: 'Үүссэн',
    started: 'Эхэлсэн',
    finished: 'Дууссан',
    afterWaiting: '{d} хүлээсний дараа',
    took: '{d} үргэлжилсэн',
    queueMs: 'Дараалалд хүлээсэн хугацаа',
    runMs: 'Ажилласан хугацаа',
    attempt: 'Оролдлого',
    tried: 'Оролдсон байршуулалтууд',
    servedBy: 'Гүйцэтгэсэн байршуулалт',
    servedFromCache: 'Кэш',
    error: 'Алдаа',
    answer: 'Хариулт',
    usage: 'Хэрэглээ',
    usageValue: 'асуулт {prompt} + хариулт {completion} токен',
    events: 'Үйл явдлууд',
    noEvents: 'Бүртгэгдсэн үйл явдал алга.',
    eventsTruncated: 'Нийт {total} үйл явдлаас эхний {shown}-г харуулж байна.',
    notYet: 'хараахан болоогүй',
    state_queued: 'дараалалд',
    state_running: 'ажиллаж байна',
    state_succeeded: 'амжилттай',
    state_failed: 'амжилтгүй',
    state_cancelled: 'цуцлагдсан',
    state_expired: 'хугацаа дууссан',
    changedAt: 'Өөрчлөгдсөн: {time}',
  },
};

const CLASSES = ['bypass', 'interactive', 'batch'];
const HISTORY = 120;            // snapshots kept for the trend chart (one a second)
const BACKOFF_CAP_MS = 15000;
// No byte for this long: the connection is taken as dead and reopened. The server sends a snapshot only
// when something changed, but a heartbeat comment at least every 15 s otherwise, so 45 s of silence is
// three missed heartbeats, not a quiet node.
const STALL_MS = 45000;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

const state = {
  lang: 'en',
  t: (key) => key,
  locale: 'en-US',
  format: null,
  csrf: null,          // in memory only; re-fetched with GET /admin/session after a reload
  session: null,
  stream: null,
  snapshots: [],
  last: null,
  live: false,
  modesKey: null,
  userMode: null,      // the mode the user picked in the select, kept across updates
  modeBusy: false,
  modeStatus: null,    // {kind: 'ok'|'error'|'busy', key?, vars?, text?}
  signinMessage: null, // {key, vars} or {text}
  inspection: null,    // {loading} | {message} | {error} | {data}
};

// ---------- language and formatting ----------

function setLanguage(lang) {
  state.lang = lang === 'mn' ? 'mn' : 'en';
  state.locale = state.lang === 'mn' ? 'mn-MN' : 'en-US';
  state.t = translator(messages, state.lang);
  state.format = makeFormatters(state.locale);
  applyTranslations(document, state.t);
  document.documentElement.lang = state.lang;
  document.title = state.t('title');
  for (const element of document.querySelectorAll('[data-i18n-aria]')) {
    element.setAttribute('aria-label', state.t(element.dataset.i18nAria));
  }
  const select = $('lang');
  if (select.value !== state.lang) select.value = state.lang;
  state.modesKey = null; // the "no modes" option is translated: rebuild it
  renderSigninMessage();
  renderLive();
  if (state.session) renderSession();
  if (state.last) renderSnapshot(); else renderHealth();
  renderModeStatus();
  renderInspection();
}

function makeFormatters(locale) {
  const make = (options) => {
    try { return new Intl.NumberFormat(locale, options); } catch { return new Intl.NumberFormat('en-US', options); }
  };
  return {
    int: make({ maximumFractionDigits: 0 }),
    one: make({ maximumFractionDigits: 1 }),
    percent: make({ style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    dollars: make({ style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 }),
  };
}

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
/** The entries of a list the server sent that can be rendered: objects only (null, numbers, strings, arrays are skipped). */
const records = (list) => (Array.isArray(list) ? list.filter((x) => x !== null && typeof x === 'object' && !Array.isArray(x)) : []);
const DASH = '—';
const fmtInt = (value) => (isNumber(value) ? state.format.int.format(value) : DASH);
const fmtPercent = (rate) => (isNumber(rate) ? state.format.percent.format(rate) : DASH);
const fmtDollars = (value) => (isNumber(value) ? state.format.dollars.format(value) : DASH);

function fmtDuration(ms) {
  if (!isNumber(ms)) return DASH;
  const t = state.t;
  if (ms < 1000) return t('ms', { n: state.format.int.format(Math.max(0, ms)) });
  if (ms < 60000) return t('seconds', { n: state.format.one.format(ms / 1000) });
  const total = Math.round(ms / 1000);
  return t('minutes', { m: state.format.int.format(Math.floor(total / 60)), s: state.format.int.format(total % 60) });
}

function fmtTime(epochSeconds, withDate = true) {
  if (!isNumber(epochSeconds)) return DASH;
  const date = new Date(epochSeconds * 1000);
  if (state.lang === 'mn') {
    // Browsers often lack Mongolian date data (and would fall back to AM/PM): the usual 2025.11.30 14:05:09.
    const two = (n) => String(n).padStart(2, '0');
    const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
    return withDate ? `${date.getFullYear()}.${two(date.getMonth() + 1)}.${two(date.getDate())} ${time}` : time;
  }
  try {
    return withDate
      ? date.toLocaleString(state.locale, { dateStyle: 'short', timeStyle: 'medium' })
      : date.toLocaleTimeString(state.locale);
  } catch {
    return date.toISOString();
  }
}

/** Whether an epoch-seconds time falls on today's date (here). */
function isToday(epochSeconds) {
  if (!isNumber(epochSeconds)) return true;
  return new Date(epochSeconds * 1000).toDateString() === new Date().toDateString();
}

/** A translated name for a value the server sends, or the value itself when there is none. */
function named(prefix, value) {
  if (value === null || value === undefined || value === '') return DASH;
  const key = `${prefix}_${value}`;
  const text = state.t(key);
  return text && text !== key ? text : String(value);
}

// ---------- DOM helpers ----------

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function setText(id, text) {
  const element = $(id);
  if (element && element.textContent !== text) element.textContent = text;
}

function emptyRow(columns, key) {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns }, state.t(key)));
}

// ---------- HTTP ----------

async function api(method, path, { body, csrf = false } = {}) {
  const headers = { Accept: 'application/json', 'Accept-Language': state.lang };
  if (body !== undefined || csrf) headers['Content-Type'] = 'application/json';
  if (csrf) headers['X-CSRF-Token'] = state.csrf ?? '';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

function serverMessage(result, fallbackKey = 'requestFailed') {
  const message = result?.data?.error?.message;
  return typeof message === 'string' && message ? { text: message } : { key: fallbackKey, vars: { status: result?.status ?? 0 } };
}

const messageText = (message) => (message ? (message.text ?? state.t(message.key, message.vars)) : '');

// ---------- session ----------

function showSignin(message = null) {
  stopStream();
  state.csrf = null;
  state.session = null;
  state.signinMessage = message;
  $('dashboard').hidden = true;
  $('status-bar').hidden = true;
  $('signin-form').hidden = false;
  const button = $('signin');
  button.disabled = false;
  button.textContent = state.t('signin');
  renderSigninMessage();
  $('admin-key').focus();
}

function renderSigninMessage() {
  const box = $('signin-error');
  const text = messageText(state.signinMessage);
  box.textContent = text;
  box.hidden = !text;
}

function enterDashboard(session) {
  state.csrf = session.csrf_token;
  state.session = session;
  state.signinMessage = null;
  renderSigninMessage();
  state.snapshots = [];
  state.last = null;
  state.modesKey = null;
  state.modeStatus = null;
  $('signin-form').hidden = true;
  $('admin-key').value = '';
  $('dashboard').hidden = false;
  $('status-bar').hidden = false;
  renderSession();
  renderHealth();
  renderModeStatus();
  renderChart();
  startStream();
}

function renderSession() {
  const session = state.session;
  if (!session) return;
  const caller = typeof session.caller === 'string' && session.caller ? session.caller : DASH;
  setText('caller', caller);
}

async function signIn(event) {
  event.preventDefault();
  const button = $('signin');
  if (button.disabled) return;
  button.disabled = true;
  button.textContent = state.t('signingIn');
  state.signinMessage = null;
  renderSigninMessage();
  try {
    const result = await api('POST', '/admin/session', { body: { key: $('admin-key').value } });
    if (result.ok && result.data?.csrf_token) {
      enterDashboard(result.data);
    } else {
      state.signinMessage = serverMessage(result, 'signinFailed');
      renderSigninMessage();
      $('admin-key').select();
    }
  } catch {
    state.signinMessage = { key: 'networkError' };
    renderSigninMessage();
  } finally {
    button.disabled = false;
    button.textContent = state.t('signin');
  }
}

async function signOut() {
  const button = $('signout');
  button.disabled = true;
  stopStream();
  let message = null;
  try {
    const result = await api('DELETE', '/admin/session', { csrf: true });
    if (!result.ok && result.status !== 401) message = serverMessage(result);
  } catch {
    message = { key: 'networkError' };
  } finally {
    button.disabled = false;
  }
  showSignin(message);
}

// ---------- the live stream ----------

function startStream() {
  stopStream();
  const stream = { stopped: false, controller: null, attempt: 0, base: 1000, timer: 0, watchdog: 0, connectedOnce: false, failures: 0, retryAt: 0 };
  state.stream = stream;
  connect(stream);
}

function stopStream() {
  const stream = state.stream;
  state.stream = null;
  if (stream) {
    stream.stopped = true;
    clearTimeout(stream.timer);
    clearInterval(stream.watchdog);
    stream.controller?.abort();
  }
  setLive(false);
}

async function connect(stream) {
  if (stream.stopped) return;
  const controller = new AbortController();
  stream.controller = controller;
  stream.retryAt = 0;
  renderLive();
  let unauthorized = false;
  let retryAfterMs = 0;
  try {
    const response = await fetch('/admin/api/events', {
      headers: { Accept: 'text/event-stream', 'Accept-Language': state.lang },
      credentials: 'same-origin', cache: 'no-store', signal: controller.signal,
    });
    if (response.status === 401) {
      unauthorized = true;
    } else if (response.ok && response.body) {
      stream.connectedOnce = true;
      setLive(true);
      await readEvents(response.body, stream, controller);
    } else {
      const retryAfter = Number(response.headers.get('Retry-After'));
      if (isNumber(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      response.body?.cancel().catch(() => {});
    }
  } catch {
    // network error, a dropped connection or our own abort: retried below unless stopped
  }
  clearInterval(stream.watchdog);
  if (stream.stopped) return;
  if (unauthorized) {
    showSignin({ key: 'sessionExpired' });
    return;
  }
  stream.failures += 1;
  setLive(false);
  // Exponential backoff with full jitter: random(0, min(cap, base · 2^attempt)), at least Retry-After.
  const ceiling = Math.min(BACKOFF_CAP_MS, stream.base * 2 ** stream.attempt);
  const delay = Math.max(Math.random() * ceiling, retryAfterMs);
  stream.attempt = Math.min(stream.attempt + 1, 20);
  stream.retryAt = Date.now() + delay;
  renderLive();
  stream.timer = setTimeout(() => connect(stream), delay);
}

async function readEvents(body, stream, controller) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let lastByte = Date.now();
  stream.watchdog = setInterval(() => {
    if (Date.now() - lastByte > STALL_MS) controller.abort();
  }, 2000);
  // The same event-stream parser the client library uses.
  const parser = new SSEParser(({ type, data }) => {
    if (!data) return;
    stream.attempt = 0; // any event received: start the backoff again from the base
    handleEvent(type, data);
  }, (ms) => { stream.base = Math.max(250, ms); });

  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || stream.stopped) break;
      lastByte = Date.now();
      parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function handleEvent(type, data) {
  if (type !== 'status') return;
  let snapshot;
  try { snapshot = JSON.parse(data); } catch { return; }
  if (!snapshot || typeof snapshot !== 'object' || Array.isArray(snapshot)) return;
  // No sample here: the chart takes the latest snapshot on its own 1 s timer (below), so a snapshot is
  // never counted twice, and the first one a dashboard gets (possibly built a while ago, from the cache
  // of the last change) is just the current state until something changes.
  state.last = snapshot;
  if (!state.live) setLive(true);
  renderSnapshot();
}

// The server sends a snapshot only when something changed: the trend chart takes the latest one each
// second (and only then: handleEvent does not sample), so its time axis stays even while nothing moves.
function sample() {
  if (!state.last) return;
  state.snapshots.push(state.last);
  if (state.snapshots.length > HISTORY) state.snapshots.splice(0, state.snapshots.length - HISTORY);
}

setInterval(() => {
  if (!state.live || !state.last) return;
  sample();
  renderChart();
}, 1000);

function setLive(live) {
  state.live = live;
  renderLive();
}

function renderLive() {
  const badge = $('live');
  const stream = state.stream;
  let text;
  if (state.live) text = state.t('live');
  else if (!stream || (!stream.connectedOnce && !stream.failures)) text = state.t('connecting');
  else text = state.t('reconnecting');
  badge.dataset.live = state.live ? 'true' : 'false';
  badge.dataset.connected = stream?.connectedOnce || stream?.failures ? 'true' : 'false';
  if (!state.live && stream?.retryAt) {
    const seconds = Math.max(0, Math.ceil((stream.retryAt - Date.now()) / 1000));
    badge.title = state.t('reconnectingIn', { seconds });
  } else {
    badge.removeAttribute('title');
  }
  if (badge.textContent !== text) badge.textContent = text;
  $('dashboard').dataset.live = state.live ? 'true' : 'false';
  renderHealth();
}

// ---------- panels ----------

function renderSnapshot() {
  const snapshot = state.last;
  if (!snapshot) return;
  renderHeader(snapshot);
  renderHealth();
  renderQueue(snapshot);
  renderChart();
  renderModeControl(snapshot);
  renderDeployments(snapshot);
  renderBatches(snapshot);
  renderCache(snapshot);
  renderTopUsers(snapshot);
  renderTopTenants(snapshot);
  // `time` is when the snapshot was built, that is when its content last changed (not when it arrived).
  setText('updated', state.t('changedAt', { time: fmtTime(snapshot.time, !isToday(snapshot.time)) }));
}

function renderHeader(snapshot) {
  const tier = $('tier');
  tier.dataset.tier = snapshot.tier ?? '';
  setText('tier', named('tier', snapshot.tier));
  const mode = $('mode');
  mode.dataset.mode = snapshot.mode ?? '';
  setText('mode', snapshot.mode ? String(snapshot.mode) : state.t('modeNone'));
  const source = snapshot.mode_source ? `(${named('source', snapshot.mode_source)})` : '';
  setText('mode-source', source);
  $('mode-source').dataset.source = snapshot.mode_source ?? '';
  setText('node', snapshot.node ? String(snapshot.node) : DASH);
}

const breakerName = (breaker) => {
  if (breaker === 0 || breaker === 'closed') return 'closed';
  if (breaker === 1 || breaker === 'half-open' || breaker === 'half_open' || breaker === 'halfOpen') return 'half-open';
  if (breaker === 2 || breaker === 'open') return 'open';
  return breaker === null || breaker === undefined ? 'closed' : String(breaker);
};

function healthOf(snapshot) {
  const deployments = records(snapshot.deployments);
  const breakers = deployments.map((d) => breakerName(d.breaker));
  const open = breakers.filter((b) => b === 'open').length;
  if (snapshot.tier === 'overload' || (deployments.length > 0 && open === deployments.length)) return 'bad';
  const strained = snapshot.tier === 'peak' || open > 0 || breakers.includes('half-open')
    || deployments.some((d) => isNumber(d.error_rate) && d.error_rate >= 0.05 && (d.calls ?? 0) >= 20);
  return strained ? 'warn' : 'ok';
}

function renderHealth() {
  const element = $('health');
  let health = 'waiting';
  if (state.last) health = state.live ? healthOf(state.last) : 'stale';
  element.dataset.health = health;
  setText('health', state.t(`health_${health}`));
}

function renderQueue(snapshot) {
  const queue = snapshot.queue ?? {};
  const queued = queue.queued ?? {};
  const running = queue.running ?? {};
  for (const name of CLASSES) {
    setText(`queued-${name}`, fmtInt(queued[name] ?? 0));
    setText(`running-${name}`, fmtInt(running[name] ?? 0));
  }
  setText('queued-total', fmtInt(queuedTotal(snapshot)));
  setText('running-total', fmtInt(runningTotal(snapshot)));
  // In a cluster: the queue across every node (`cluster_queued`) or, failing that, the cluster's load.
  const clusterKey = isNumber(queue.cluster_queued) ? 'clusterQueued' : isNumber(queue.cluster_load) ? 'clusterLoad' : null;
  $('cluster-stat').hidden = clusterKey === null;
  if (clusterKey) {
    const label = $('cluster-label');
    label.dataset.i18n = clusterKey;
    setText('cluster-label', state.t(clusterKey));
    setText('cluster-queued', fmtInt(clusterKey === 'clusterQueued' ? queue.cluster_queued : queue.cluster_load));
  }
}

const sumClasses = (counts) => CLASSES.reduce((sum, name) => sum + (isNumber(counts?.[name]) ? counts[name] : 0), 0);
const queuedTotal = (s) => (isNumber(s.queue?.queued_total) ? s.queue.queued_total : sumClasses(s.queue?.queued));
const runningTotal = (s) => (isNumber(s.queue?.running_total) ? s.queue.running_total : sumClasses(s.queue?.running));

/** 1, 2, 5, 10, 20, 50 … at least `value`. */
function niceCeiling(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function renderChart() {
  const chart = $('queue-chart');
  const width = 640, height = 170;
  const left = 44, right = 10, top = 10, bottom = 22;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const snapshots = state.snapshots;
  const queued = snapshots.map(queuedTotal);
  const running = snapshots.map(runningTotal);
  const max = niceCeiling(Math.max(1, ...queued, ...running));
  const offset = HISTORY - snapshots.length; // the newest point is always at the right edge
  const x = (i) => left + ((i + offset) / (HISTORY - 1)) * plotWidth;
  const y = (v) => top + plotHeight - (Math.max(0, v) / max) * plotHeight;
  const round = (n) => Math.round(n * 10) / 10;
  const points = (values) => values.map((v, i) => `${round(x(i))},${round(y(v))}`).join(' ');

  const children = [];
  for (const fraction of [0, 0.5, 1]) {
    const gy = round(top + plotHeight - fraction * plotHeight);
    children.push(svg('line', { class: fraction === 0 ? 'axis' : 'gridline', x1: left, x2: width - right, y1: gy, y2: gy }));
  }
  children.push(svg('text', { class: 'axis-label axis-max', x: left - 6, y: top + 4, 'text-anchor': 'end' }, fmtInt(max)));
  if (max >= 2) {
    children.push(svg('text', { class: 'axis-label', x: left - 6, y: round(top + plotHeight / 2 + 4), 'text-anchor': 'end' }, state.format.one.format(max / 2)));
  }
  children.push(svg('text', { class: 'axis-label', x: left - 6, y: top + plotHeight + 4, 'text-anchor': 'end' }, fmtInt(0)));
  children.push(svg('text', { class: 'axis-label', x: left, y: height - 5, 'text-anchor': 'start' }, state.t('chartAgo')));
  children.push(svg('text', { class: 'axis-label', x: width - right, y: height - 5, 'text-anchor': 'end' }, state.t('chartNow')));

  if (snapshots.length > 0) {
    const base = round(top + plotHeight);
    const area = `${round(x(0))},${base} ${points(queued)} ${round(x(snapshots.length - 1))},${base}`;
    children.push(svg('polygon', { class: 'area-queued', points: area }));
    children.push(svg('polyline', { class: 'line-queued', points: points(queued), 'data-series': 'queued' }));
    children.push(svg('polyline', { class: 'line-running', points: points(running), 'data-series': 'running' }));
    const last = snapshots.length - 1;
    children.push(svg('circle', { class: 'dot-queued', cx: round(x(last)), cy: round(y(queued[last])), r: 3 }));
    children.push(svg('circle', { class: 'dot-running', cx: round(x(last)), cy: round(y(running[last])), r: 3 }));
  }
  chart.replaceChildren(...children);
}

function renderModeControl(snapshot) {
  const select = $('mode-select');
  const modes = Array.isArray(snapshot.modes) ? snapshot.modes.filter((m) => typeof m === 'string') : [];
  const key = JSON.stringify(modes);
  // Never rebuild the select while the user is using it.
  if (document.activeElement !== select && key !== state.modesKey) {
    const previous = select.value;
    const options = modes.map((mode) => el('option', { value: mode }, mode));
    if (options.length === 0) options.push(el('option', { value: '' }, state.t('noModes')));
    select.replaceChildren(...options);
    const wanted = [state.userMode, previous, snapshot.mode].find((m) => m && modes.includes(m));
    if (wanted) select.value = wanted;
    state.modesKey = key;
  }
  select.disabled = modes.length === 0;
  $('mode-set').disabled = state.modeBusy || modes.length === 0;
  $('mode-clear').disabled = state.modeBusy;
}

function renderModeStatus() {
  const line = $('mode-status');
  const status = state.modeStatus;
  line.dataset.state = status?.kind ?? '';
  line.textContent = messageText(status);
}

async function writeMode(method, body, doneMessage) {
  state.modeBusy = true;
  state.modeStatus = { kind: 'busy', key: 'working' };
  renderModeStatus();
  $('mode-set').disabled = true;
  $('mode-clear').disabled = true;
  try {
    const result = await api(method, '/admin/api/mode', { body, csrf: true });
    if (result.status === 401) {
      state.modeBusy = false;
      showSignin({ key: 'sessionExpired' });
      return;
    }
    if (result.ok) {
      state.modeStatus = { kind: 'ok', ...doneMessage };
      // The answer carries the new mode: show it now rather than at the next snapshot.
      if (state.last && result.data && typeof result.data === 'object' && 'mode' in result.data) {
        state.last = { ...state.last, mode: result.data.mode };
        if (typeof result.data.mode_source === 'string') state.last.mode_source = result.data.mode_source;
        if (typeof result.data.tier === 'string') state.last.tier = result.data.tier;
        renderHeader(state.last);
      }
    } else {
      state.modeStatus = { kind: 'error', ...serverMessage(result) };
    }
  } catch {
    state.modeStatus = { kind: 'error', key: 'networkError' };
  }
  state.modeBusy = false;
  renderModeStatus();
  if (state.last) renderModeControl(state.last);
  else $('mode-clear').disabled = false;
}

function onSetMode(event) {
  event.preventDefault();
  const mode = $('mode-select').value;
  if (!mode || state.modeBusy) return;
  if (!window.confirm(state.t('confirmSet', { mode }))) return;
  writeMode('PUT', { mode }, { key: 'modeSetDone', vars: { mode } });
}

function onClearMode() {
  if (state.modeBusy) return;
  if (!window.confirm(state.t('confirmClear'))) return;
  writeMode('DELETE', undefined, { key: 'modeCleared' });
}

function renderDeployments(snapshot) {
  const deployments = records(snapshot.deployments);
  const rows = deployments.map((d) => {
    const breaker = breakerName(d.breaker);
    const cap = isNumber(d.max_in_flight) ? fmtInt(d.max_in_flight) : state.t('noCap');
    const cooling = isNumber(d.cooling_seconds) && d.cooling_seconds > 0 ? fmtDuration(d.cooling_seconds * 1000) : DASH;
    const ttft = `${fmtInt(d.ttft_p50_ms)} / ${fmtInt(d.ttft_p99_ms)}`;
    const errors = el('td', { class: 'num' }, fmtPercent(d.error_rate));
    if (isNumber(d.calls)) errors.title = state.t('callsTitle', { errors: fmtInt(d.errors ?? 0), calls: fmtInt(d.calls) });
    const rate = isNumber(d.error_rate) ? d.error_rate : 0;
    errors.dataset.level = rate >= 0.2 ? 'bad' : rate >= 0.05 ? 'warn' : 'ok';
    return el('tr', { 'data-deployment': d.deployment ?? '', 'data-breaker': breaker },
      el('td', {}, d.alias ?? DASH),
      el('td', { class: 'mono' }, d.deployment ?? DASH),
      el('td', {}, el('span', { class: 'pill', 'data-breaker': breaker }, named('breaker', breaker))),
      el('td', { class: 'num' }, `${fmtInt(d.in_flight ?? 0)} / ${cap}`),
      errors,
      el('td', { class: 'num' }, ttft),
      el('td', { class: 'num' }, cooling));
  });
  $('deployments').replaceChildren(...(rows.length ? rows : [emptyRow(7, 'noDeployments')]));
}

function renderBatches(snapshot) {
  const batches = records(snapshot.batches); // missing in snapshots from older nodes: no batches
  const rows = batches.map((b) => {
    const count = (value) => (isNumber(value) ? Math.max(0, value) : 0);
    const completed = count(b.completed);
    const failed = count(b.failed);
    const total = isNumber(b.total) ? Math.max(0, b.total) : null;
    const vars = { completed: fmtInt(completed), failed: fmtInt(failed), total: fmtInt(total) };
    const label = state.t('batchProgressTitle', vars);
    // No lines known yet (still validating): an indeterminate bar, without a value.
    const bar = total
      ? el('progress', { max: total, value: Math.min(completed + failed, total), 'aria-label': label, 'data-level': failed > 0 ? 'warn' : 'ok' })
      : el('progress', { 'aria-label': label });
    const owner = [b.tenant, b.user].map((part) => (part === null || part === undefined || part === '' ? DASH : String(part))).join(' / ');
    const id = el('td', { class: 'mono' }, b.id ?? DASH);
    if (isNumber(b.created_at)) id.title = `${state.t('created')}: ${fmtTime(b.created_at, !isToday(b.created_at))}`;
    return el('tr', { class: 'batch-row', 'data-batch': b.id ?? '', 'data-status': b.status ?? '' },
      id,
      el('td', {}, owner),
      el('td', { class: 'mono' }, b.endpoint ?? DASH),
      el('td', {}, el('span', { class: 'pill', 'data-batch-status': b.status ?? '' }, named('batchStatus', b.status))),
      el('td', {}, el('div', { class: 'batch-progress', title: label },
        bar,
        el('span', { class: 'batch-count' }, state.t('batchProgress', vars)))));
  });
  $('batches').replaceChildren(...(rows.length ? rows : [emptyRow(5, 'noBatches')]));
}

function renderCache(snapshot) {
  const cache = snapshot.cache ?? {};
  setText('cache-hit-rate', fmtPercent(cache.hit_rate));
  setText('cache-lookups', fmtInt(cache.lookups));
  const layers = cache.layers && typeof cache.layers === 'object' ? Object.entries(cache.layers) : [];
  const rows = layers.map(([name, layer]) => el('tr', { 'data-layer': name },
    el('th', {}, named('layer', name)),
    el('td', { class: 'num' }, fmtInt(layer?.hits)),
    el('td', { class: 'num' }, fmtPercent(layer?.hit_rate))));
  $('cache-layers').replaceChildren(...(rows.length ? rows : [emptyRow(3, 'noLayers')]));
  setText('cache-saved', state.t('savedValue', { tokens: fmtInt(cache.saved_tokens), dollars: fmtDollars(cache.saved_dollars) }));
}

function renderTopUsers(snapshot) {
  const users = records(snapshot.top_users);
  const rows = users.map((u) => el('tr', { 'data-user': u.user ?? '', 'data-tenant': u.tenant ?? '' },
    el('td', { class: 'mono' }, u.user ?? DASH),
    el('td', {}, u.tenant ?? DASH),
    el('td', { class: 'num' }, fmtInt(u.requests)),
    el('td', { class: 'num' }, fmtInt(u.tokens)),
    el('td', { class: 'num' }, fmtDollars(u.cost))));
  $('top-users').replaceChildren(...(rows.length ? rows : [emptyRow(5, 'nothingToday')]));
}

function renderTopTenants(snapshot) {
  const tenants = records(snapshot.top_tenants);
  const rows = tenants.map((x) => el('tr', { 'data-tenant': x.tenant ?? '' },
    el('td', {}, x.tenant ?? DASH),
    el('td', { class: 'num' }, fmtInt(x.requests)),
    el('td', { class: 'num' }, fmtInt(x.tokens)),
    el('td', { class: 'num' }, fmtDollars(x.cost))));
  $('top-tenants').replaceChildren(...(rows.length ? rows : [emptyRow(4, 'nothingToday')]));
}

// ---------- job inspector ----------

async function onInspect(event) {
  event.preventDefault();
  const id = $('inspect-id').value.trim();
  if (!id) {
    state.inspection = { message: { key: 'enterJobId' } };
    renderInspection();
    return;
  }
  const request = Symbol('inspection');
  state.inspection = { loading: true, request };
  renderInspection();
  let next;
  try {
    const result = await api('GET', `/admin/api/jobs/${encodeURIComponent(id)}`);
    if (result.status === 401) {
      if (state.inspection?.request === request) state.inspection = null;
      showSignin({ key: 'sessionExpired' });
      return;
    }
    next = result.ok && result.data?.job ? { data: result.data } : { error: serverMessage(result) };
  } catch {
    next = { error: { key: 'networkError' } };
  }
  if (state.inspection?.request !== request) return; // a newer inspection started meanwhile
  state.inspection = next;
  renderInspection();
}

function renderInspection() {
  const output = $('inspection');
  const inspection = state.inspection;
  if (!inspection) { output.replaceChildren(); return; }
  if (inspection.loading) { output.replaceChildren(el('p', { class: 'muted' }, state.t('loading'))); return; }
  if (inspection.message) { output.replaceChildren(el('p', { class: 'muted' }, messageText(inspection.message))); return; }
  if (inspection.error) { output.replaceChildren(el('p', { class: 'error', role: 'alert' }, messageText(inspection.error))); return; }

  const t = state.t;
  const job = inspection.data.job;
  const events = Array.isArray(inspection.data.events) ? inspection.data.events : [];
  const owner = job.owner && typeof job.owner === 'object'
    ? [job.owner.user, job.owner.tenant, job.owner.role, job.owner.plan].filter((part) => part !== null && part !== undefined && part !== '').join(' · ')
    : DASH;
  const seconds = (a, b) => (isNumber(a) && isNumber(b) ? (b - a) * 1000 : null);
  const waited = seconds(job.created_at, job.started_at);
  const ran = seconds(job.started_at, job.finished_at);
  const when = (epoch, note) => (isNumber(epoch) ? (note ? `${fmtTime(epoch)} (${note})` : fmtTime(epoch)) : t('notYet'));
  const tried = Array.isArray(job.tried) && job.tried.length ? job.tried.join(', ') : DASH;

  const rows = [
    ['state', el('span', { class: 'pill', 'data-job-state': job.state ?? '' }, named('state', job.state))],
    ['owner', owner || DASH],
    ['priority', named('class', job.priority)],
    ['model', job.model ?? DASH],
    ['created', when(job.created_at)],
    ['started', when(job.started_at, waited !== null ? t('afterWaiting', { d: fmtDuration(waited) }) : '')],
    ['finished', when(job.finished_at, ran !== null ? t('took', { d: fmtDuration(ran) }) : '')],
    ['queueMs', fmtDuration(job.queue_ms)],
    ['runMs', fmtDuration(job.run_ms)],
    ['attempt', fmtInt(job.attempt)],
    ['tried', tried],
  ];
  if (job.deployment) rows.push(['servedBy', job.deployment]);
  if (job.cache) rows.push(['servedFromCache', named('layer', job.cache)]);
  rows.push(['node', job.node ?? DASH]);
  if (job.error) {
    const code = job.error.code ? `${job.error.code}: ` : '';
    rows.push(['error', el('span', { class: 'error' }, `${code}${job.error.message ?? ''}`)]);
  }
  const usage = job.result?.usage;
  if (usage && (isNumber(usage.prompt_tokens) || isNumber(usage.completion_tokens))) {
    rows.push(['usage', t('usageValue', { prompt: fmtInt(usage.prompt_tokens ?? 0), completion: fmtInt(usage.completion_tokens ?? 0) })]);
  }
  if (typeof job.result?.text === 'string' && job.result.text) {
    const text = job.result.text.length > 400 ? `${job.result.text.slice(0, 400)}…` : job.result.text;
    rows.push(['answer', el('span', { class: 'answer-text' }, text)]);
  }

  const list = el('dl', { class: 'job-facts' });
  for (const [key, value] of rows) list.append(el('dt', {}, t(key)), el('dd', { 'data-field': key }, value));

  const items = events.map((e) => el('li', { 'data-event': e.event ?? '' },
    el('span', { class: 'seq' }, isNumber(e.seq) ? `#${e.seq}` : '#?'),
    el('span', { class: 'event-name' }, e.event ?? DASH),
    el('span', { class: 'event-text' }, eventText(e))));

  const parts = [
    el('h3', { class: 'job-id mono' }, job.id ?? ''),
    list,
    el('h4', {}, t('events')),
    items.length ? el('ol', { class: 'job-events' }, ...items) : el('p', { class: 'muted' }, t('noEvents')),
    isNumber(inspection.data.events_total) && inspection.data.events_total > items.length
      ? el('p', { class: 'muted' }, t('eventsTruncated', { shown: fmtInt(items.length), total: fmtInt(inspection.data.events_total) }))
      : null,
  ];
  output.replaceChildren(...parts.filter(Boolean));
}

function eventText(event) {
  const data = event.data;
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object') return String(data);
  switch (event.event) {
    case 'delta': return typeof data.text === 'string' ? data.text : '';
    case 'reset': return '';
    case 'error': return [data.code, data.message].filter(Boolean).join(': ');
    case 'done': {
      const parts = [];
      if (data.finish_reason) parts.push(String(data.finish_reason));
      if (isNumber(data.usage?.total_tokens)) parts.push(`${fmtInt(data.usage.total_tokens)} ${state.t('tokens').toLowerCase()}`);
      if (data.cache && data.cache !== 'none') parts.push(`${state.t('servedFromCache')}: ${named('layer', data.cache)}`);
      if (isNumber(data.queue_ms)) parts.push(`${state.t('queueMs')}: ${fmtDuration(data.queue_ms)}`);
      return parts.join(' · ');
    }
    default: {
      let text = '';
      try { text = JSON.stringify(data); } catch { text = ''; }
      return text.length > 200 ? `${text.slice(0, 200)}…` : text;
    }
  }
}

// ---------- start ----------

async function boot() {
  setLanguage(pickLanguage());
  $('lang').addEventListener('change', (event) => {
    const lang = event.target.value === 'mn' ? 'mn' : 'en';
    storeLanguage(lang);
    setLanguage(lang);
  });
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('mode-form').addEventListener('submit', onSetMode);
  $('mode-clear').addEventListener('click', onClearMode);
  $('mode-select').addEventListener('change', (event) => { state.userMode = event.target.value || null; });
  $('inspect-form').addEventListener('submit', onInspect);
  // Rebuild the mode list once the user leaves the select, if it changed meanwhile.
  $('mode-select').addEventListener('blur', () => { if (state.last) renderModeControl(state.last); });

  try {
    const result = await api('GET', '/admin/session');
    if (result.ok && result.data?.csrf_token) enterDashboard(result.data);
    else showSignin();
  } catch {
    showSignin({ key: 'networkError' });
  }
}

boot();
