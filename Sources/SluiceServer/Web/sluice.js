// sluice.js — a small client for Sluice's jobs API (no dependencies, plain ES module).
//
//   import { Sluice } from '/sluice.js';
//   const sluice = new Sluice({ user: 'web-123', language: 'en' });
//   const job = await sluice.ask({ model: 'default', messages: [{ role: 'user', content: 'Hi' }] });
//   job.addEventListener('delta', (e) => render(e.detail.answer));
//   const answer = await job.finished;
//
// A job's stream is resumable: after a dropped connection (or a page refresh, with `follow`) it
// continues after the last event id seen, so no text is lost or repeated.

/** @typedef {'en'|'mn'} Language */
/** @typedef {'queued'|'running'|'done'|'error'|'cancelled'} JobState */
/** @typedef {{role: string, content: string}} ChatMessage */
/** @typedef {{model?: string, messages: ChatMessage[], [field: string]: unknown}} ChatBody */
/**
 * @typedef {object} SluiceOptions
 * @property {string} [baseURL] Where the gateway is ('' = this origin).
 * @property {string} [user] The anonymous user id, sent as `X-Sluice-User`.
 * @property {string|(() => string|null)} [token] A bearer token (or a function returning one), sent as `Authorization`.
 * @property {Record<string, string>} [headers] Extra headers on every request.
 * @property {typeof fetch} [fetch] The fetch to use (default: the global one).
 * @property {Language} [language] The language of error messages (`Accept-Language`), default 'en'.
 * @property {number} [maxRetryDelayMs] The cap of the reconnect backoff (default 30 000).
 * @property {number} [giveUpAfterMs] Give up reconnecting after this long without a connection (default 120 000).
 */
/** @typedef {{type: string, data: string, id: string|null}} SSEMessage */
/** @typedef {{after?: number, text?: string, state?: JobState}} FollowOptions */
/**
 * @typedef {object} DoneDetail
 * @property {string} answer
 * @property {string|null} finish_reason
 * @property {object|null} usage
 * @property {string|null} cache
 */

/** The few messages sluice.js writes itself; everything else is the server's, already translated. */
const TEXT = {
  en: {
    network_error: 'Could not reach the server. Check the connection and try again.',
    stream_ended: 'The stream ended before the answer was complete.',
    closed: 'Stopped following the answer.',
    http_error: 'The server answered with status {status}.',
    invalid_response: 'The server sent a response that could not be read.',
    job_cancelled: 'The job was cancelled before it finished.',
  },
  mn: {
    network_error: 'Сервертэй холбогдож чадсангүй. Холболтоо шалгаад дахин оролдоно уу.',
    stream_ended: 'Хариулт бүрэн ирээгүй байхад урсгал дууслаа.',
    closed: 'Хариултыг дагахаа зогсоолоо.',
    http_error: 'Сервер {status} кодтой хариу өглөө.',
    invalid_response: 'Серверийн хариуг уншиж чадсангүй.',
    job_cancelled: 'Ажил дуусахаасаа өмнө цуцлагдсан.',
    // A stream's final error is stored in English on the server: these codes are said in Mongolian here.
    deadline_exceeded: 'Хүсэлт дараалалд хэт удаан хүлээсэн тул хасагдлаа. Дахин оролдоно уу.',
    provider_error: 'Загварын үйлчилгээ хариулж чадсангүй.',
    upstream_rejected: 'Загварын үйлчилгээ хүсэлтийг хүлээж авсангүй.',
    stream_interrupted: 'Хариулт тасарсан тул бүрэн бус байна.',
    shutting_down: 'Сервер дахин асаж байна. Хэдэн секундийн дараа дахин оролдоно уу.',
    internal_error: 'Дотоод алдаа гарлаа.',
  },
};

/** Statuses worth retrying a stream on (the rest end the job with an error). */
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
/** The codes of a cancelled job. */
const CANCELLED = new Set(['job_cancelled', 'cancelled']);

/**
 * @param {string|undefined|null} lang
 * @returns {Language}
 */
function normalizeLanguage(lang) {
  return String(lang ?? '').toLowerCase().startsWith('mn') ? 'mn' : 'en';
}

/**
 * A message of sluice.js's own table, in `lang`, with `{name}` placeholders filled.
 * @param {Language} lang
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 * @returns {string}
 */
function say(lang, key, vars = {}) {
  const template = own(lang, key) ?? own('en', key) ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : whole));
}

/**
 * sluice.js's own message for `key` in `lang`, or undefined. Only the table's own keys count: a code
 * from the server such as 'constructor' or '__proto__' must not reach Object.prototype.
 * @param {Language} lang
 * @param {unknown} key
 * @returns {string|undefined}
 */
function own(lang, key) {
  const table = Object.hasOwn(TEXT, lang) ? TEXT[lang] : TEXT.en;
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * `Retry-After` in seconds (delta-seconds or an HTTP date), or null.
 * @param {string|null} value
 * @returns {number|null}
 */
export function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Sleeps, unless `signal` aborts first (then rejects).
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => { clearTimeout(timer); reject(signal.reason); };
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** An error from the gateway (its message already in the requested language) or from sluice.js. */
export class SluiceError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, type?: string|null, param?: string|null, retryAfter?: number|null, serverMessage?: string|null, cause?: unknown}} [info]
   */
  constructor(message, info = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'SluiceError';
    /** @type {number} HTTP status, or 0 for errors without one (network, stream events). */
    this.status = info.status ?? 0;
    /** @type {string} e.g. 'invalid_token', 'job_cancelled', 'network_error'. */
    this.code = info.code ?? 'unknown';
    /** @type {string|null} */
    this.type = info.type ?? null;
    /** @type {string|null} */
    this.param = info.param ?? null;
    /** @type {number|null} Seconds to wait, from `Retry-After`. */
    this.retryAfter = info.retryAfter ?? null;
    /** @type {string|null} The server's own message when `message` is sluice.js's translation of it. */
    this.serverMessage = info.serverMessage ?? null;
  }

  /**
   * The error an HTTP answer describes (OpenAI's shape `{"error": {message, type, code, param}}`).
   * @param {Response} response
   * @param {Language} [language]
   * @returns {Promise<SluiceError>}
   */
  static async fromResponse(response, language = 'en') {
    const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
    let body = null;
    try { body = await response.json(); } catch { /* not JSON: described by its status */ }
    const error = body && typeof body.error === 'object' && body.error ? body.error : {};
    const message = typeof error.message === 'string' && error.message
      ? error.message : say(language, 'http_error', { status: response.status });
    return new SluiceError(message, {
      status: response.status, code: error.code ?? `http_${response.status}`, type: error.type, param: error.param, retryAfter,
    });
  }
}

/** A server-sent events parser (the WHATWG rules): feed it decoded text, it calls back per event. */
export class SSEParser {
  /**
   * @param {(message: SSEMessage) => void} onMessage Called for each event with data or an id.
   * @param {(ms: number) => void} [onRetry] Called for each `retry:` field.
   */
  constructor(onMessage, onRetry) {
    this.onMessage = onMessage;
    this.onRetry = onRetry;
    this.buffer = '';
    this.skipLF = false;
    this.reset();
  }

  /** @private */
  reset() {
    /** @type {string} */ this.type = '';
    /** @type {string[]} */ this.data = [];
    /** @type {string|null} */ this.id = null;
  }

  /**
   * Adds text; lines end with \r\n, \n or \r (a \r\n may be split between two chunks).
   * @param {string} text
   */
  push(text) {
    if (this.skipLF && text.startsWith('\n')) text = text.slice(1);
    if (text) this.skipLF = text.endsWith('\r');
    const lines = (this.buffer + text).split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /**
   * @private
   * @param {string} line
   */
  line(line) {
    if (line === '') {
      if (this.data.length > 0 || this.id !== null) {
        this.onMessage({ type: this.type || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) return; // a comment (`: heartbeat`)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.onRetry?.(Number(value));
  }
}

/**
 * One job followed on its stream. Events (all `CustomEvent`s):
 * 'open' ({}), 'queue' ({state, position?}), 'delta' ({text, answer}), 'reset' ({}), 'choice' (the raw data),
 * 'done' (DoneDetail), 'error' (SluiceError), 'retrying' ({attempt, delayMs}).
 */
export class Job extends EventTarget {
  /**
   * Use `Sluice.ask` or `Sluice.follow` rather than this.
   * @param {Sluice} client
   * @param {string} id
   * @param {FollowOptions} [from]
   */
  constructor(client, id, from = {}) {
    super();
    /** @type {string} */ this.id = id;
    /** @type {number} The last event id received: resume after it. */
    this.lastEventId = from.after ?? 0;
    /** @type {string} The answer so far. */
    this.answer = from.text ?? '';
    /** @type {JobState} */
    this.state = from.state ?? (this.lastEventId > 0 || this.answer ? 'running' : 'queued');
    /** @type {number|null} The place in the queue (1 = next), when known. */
    this.position = null;
    /** @type {SluiceError|null} */
    this.error = null;
    /** @private */ this.client = client;
    /** @private */ this.abort = new AbortController();
    /** @private @type {number|null} */ this.retryMs = null;
    /** @private */ this.ended = false;
    /** @private */ this.closed = false;
    /** @private @type {(answer: string) => void} */ this.resolve = () => {};
    /** @private @type {(error: SluiceError) => void} */ this.reject = () => {};
    /** @type {Promise<string>} Resolves with the final answer, or rejects with a SluiceError. */
    this.finished = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    this.finished.catch(() => {}); // nobody has to await it
    void this.run();
  }

  /** Cancels the job on the server; the stream then ends with an 'error' event (state 'cancelled'). */
  async cancel() {
    return this.client.cancel(this.id);
  }

  /** Stops following without cancelling (`finished` rejects with code 'closed'). */
  close() {
    if (this.ended || this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.reject(new SluiceError(say(this.client.language, 'closed'), { code: 'closed' }));
  }

  /**
   * @private
   * @param {string} type
   * @param {unknown} detail
   */
  emit(type, detail) {
    // CustomEvent is global in browsers and Node 19+; Node 18 has Event only.
    const event = typeof CustomEvent === 'function' ? new CustomEvent(type, { detail }) : Object.assign(new Event(type), { detail });
    this.dispatchEvent(event);
  }

  /**
   * Follows the stream, reconnecting after drops until the job ends, is closed, or cannot be reached.
   * @private
   */
  async run() {
    const { client } = this;
    let attempt = 0;
    let lastContact = Date.now();
    /** @type {SluiceError|null} */
    let lastFailure = null;
    while (!this.ended && !this.closed) {
      let floorMs = 0;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (this.lastEventId > 0) headers['Last-Event-ID'] = String(this.lastEventId);
        const response = await client.request(`/v1/jobs/${encodeURIComponent(this.id)}/stream?queue_notices=true`, {
          headers, cache: 'no-store', signal: this.abort.signal,
        });
        if (response.status === 204) {
          lastContact = Date.now();
          if (await this.settle()) return;
        } else if (response.ok && response.body) {
          lastContact = Date.now();
          lastFailure = null;
          this.emit('open', {});
          await this.read(response.body, () => { attempt = 0; lastContact = Date.now(); });
          if (this.ended) return;
        } else {
          const error = await SluiceError.fromResponse(response, client.language);
          if (!RETRYABLE.has(response.status)) return this.fail(error);
          lastFailure = error;
          floorMs = (error.retryAfter ?? 0) * 1000;
        }
      } catch (error) {
        if (this.closed || this.ended) return;
        if (error instanceof SluiceError && error.status) {
          lastFailure = error;
          floorMs = (error.retryAfter ?? 0) * 1000;
        }
      }
      if (Date.now() - lastContact > client.giveUpAfterMs) {
        return this.fail(lastFailure ?? new SluiceError(say(client.language, 'network_error'), { code: 'network_error' }));
      }
      // Full jitter: anywhere from 0 to the exponential ceiling, but never before Retry-After.
      const ceiling = Math.min(client.maxRetryDelayMs, (this.retryMs ?? 1000) * 2 ** attempt);
      const delayMs = Math.round(Math.max(floorMs, Math.random() * ceiling));
      attempt += 1;
      this.emit('retrying', { attempt, delayMs });
      try { await sleep(delayMs, this.abort.signal); } catch { return; }
    }
  }

  /**
   * Reads one connection's events until it ends or the job does.
   * @private
   * @param {ReadableStream<Uint8Array>} body
   * @param {() => void} onEvent
   */
  async read(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder('utf-8');
    const parser = new SSEParser((message) => { onEvent(); this.handle(message); }, (ms) => { this.retryMs = ms; });
    try {
      while (!this.ended) {
        const { value, done } = await reader.read();
        if (done) { parser.push(decoder.decode()); return; }
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      if (this.ended) reader.cancel().catch(() => {});
    }
  }

  /**
   * @private
   * @param {SSEMessage} message
   */
  handle({ type, data, id }) {
    if (this.ended || this.closed) return;
    if (id !== null && /^\d+$/.test(id)) this.lastEventId = Number(id);
    /** @type {Record<string, any>} */
    let payload = {};
    try {
      const parsed = data ? JSON.parse(data) : null;
      // `data: null` (or a number, a string) carries no fields: the same as no data.
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) payload = parsed;
    } catch { return; }
    switch (type) {
      case 'queue':
        this.state = payload.state === 'running' ? 'running' : 'queued';
        this.position = typeof payload.position === 'number' ? payload.position : null;
        this.emit('queue', { state: this.state, position: this.position ?? undefined });
        break;
      case 'delta':
        if (typeof payload.text !== 'string') break;
        this.state = 'running';
        this.answer += payload.text;
        this.emit('delta', { text: payload.text, answer: this.answer });
        break;
      case 'reset':
        this.answer = '';
        this.emit('reset', {});
        break;
      case 'choice':
        this.emit('choice', payload);
        break;
      case 'done':
        this.finish(payload);
        break;
      case 'error':
        this.fail(this.client.storedError(payload.code, payload.message));
        break;
    }
  }

  /**
   * The stream answered 204 (nothing more to send) before done/error: asks the job how it ended.
   * @private
   * @returns {Promise<boolean>} Whether the job ended.
   */
  async settle() {
    let job;
    try {
      job = await this.client.job(this.id, { signal: this.abort.signal });
    } catch (error) {
      if (error instanceof SluiceError && error.status && !RETRYABLE.has(error.status)) { this.fail(error); return true; }
      throw error;
    }
    const failure = job.error ?? {};
    switch (job.state) {
      case 'succeeded':
        this.answer = job.result?.text ?? this.answer;
        this.finish({ ...job.result, cache: job.cache ?? null });
        return true;
      case 'cancelled':
        this.fail(this.client.storedError('job_cancelled', failure.message));
        return true;
      case 'failed':
      case 'expired':
        this.fail(this.client.storedError(failure.code ?? (job.state === 'expired' ? 'deadline_exceeded' : 'stream_ended'), failure.message));
        return true;
      default:
        return false; // still queued or running: follow it again
    }
  }

  /**
   * @private
   * @param {{finish_reason?: string, usage?: object, cache?: string}} info
   */
  finish(info) {
    this.ended = true;
    this.state = 'done';
    /** @type {DoneDetail} */
    const detail = { ...info, answer: this.answer, finish_reason: info.finish_reason ?? null, usage: info.usage ?? null, cache: info.cache ?? null };
    this.emit('done', detail);
    this.resolve(this.answer);
  }

  /**
   * @private
   * @param {SluiceError} error
   */
  fail(error) {
    this.ended = true;
    this.state = CANCELLED.has(error.code) ? 'cancelled' : 'error';
    this.error = error;
    this.emit('error', error);
    this.reject(error);
  }
}

/** The client: submits jobs, follows and cancels them. */
export class Sluice {
  /** @param {SluiceOptions} [options] */
  constructor(options = {}) {
    this.baseURL = (options.baseURL ?? '').replace(/\/+$/, '');
    this.user = options.user;
    this.token = options.token;
    this.headers = { ...options.headers };
    /** @type {Language} */
    this.language = normalizeLanguage(options.language);
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.giveUpAfterMs = options.giveUpAfterMs ?? 120_000;
    /** @private */
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * The language of error messages from now on (also for jobs already followed).
   * @param {Language} lang
   */
  setLanguage(lang) {
    this.language = normalizeLanguage(lang);
  }

  /**
   * Submits a chat-completions body as a job and starts following its stream.
   * @param {ChatBody} body
   * @param {{signal?: AbortSignal}} [options] Aborting it closes the job (without cancelling it).
   * @returns {Promise<Job>}
   * @throws {SluiceError}
   */
  async ask(body, { signal } = {}) {
    const response = await this.request('/v1/jobs', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'default', ...body }), signal,
    });
    if (!response.ok) throw await SluiceError.fromResponse(response, this.language);
    const created = await this.json(response);
    const job = this.follow(created.id, { state: created.state === 'running' ? 'running' : 'queued' });
    signal?.addEventListener('abort', () => job.close(), { once: true });
    return job;
  }

  /**
   * Re-attaches to a known job (after a page refresh), resuming after event `after` with the text so far.
   * @param {string} id
   * @param {FollowOptions} [from]
   * @returns {Job}
   */
  follow(id, { after = 0, text = '', state } = {}) {
    return new Job(this, id, { after, text, state });
  }

  /**
   * Cancels a job (`DELETE /v1/jobs/{id}`) and returns the job object.
   * @param {string} id
   * @returns {Promise<object>}
   * @throws {SluiceError}
   */
  async cancel(id) {
    const response = await this.request(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (!response.ok) throw await SluiceError.fromResponse(response, this.language);
    return this.json(response);
  }

  /**
   * The job object (`GET /v1/jobs/{id}`): state, queue_position, result.text, error.
   * @param {string} id
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<object>}
   * @throws {SluiceError}
   */
  async job(id, { signal } = {}) {
    const response = await this.request(`/v1/jobs/${encodeURIComponent(id)}`, { cache: 'no-store', signal });
    if (!response.ok) throw await SluiceError.fromResponse(response, this.language);
    return this.json(response);
  }

  /**
   * A fetch with the identity and language headers; a network failure becomes a SluiceError 'network_error'.
   * @param {string} path
   * @param {RequestInit & {headers?: Record<string, string>}} [init]
   * @returns {Promise<Response>}
   */
  async request(path, init = {}) {
    const headers = { ...this.headers, 'Accept-Language': this.language, ...init.headers };
    if (this.user) headers['X-Sluice-User'] = this.user;
    const token = typeof this.token === 'function' ? this.token() : this.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetch(this.baseURL + path, { ...init, headers });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new SluiceError(say(this.language, 'network_error'), { code: 'network_error', cause: error });
    }
  }

  /**
   * @private
   * @param {Response} response
   * @returns {Promise<any>}
   */
  async json(response) {
    try {
      return await response.json();
    } catch (error) {
      throw new SluiceError(say(this.language, 'invalid_response'), { status: response.status, code: 'invalid_response', cause: error });
    }
  }

  /**
   * A job's final error as the server stored it (in English): said in this client's language when
   * sluice.js knows the code.
   * @param {string|undefined} code
   * @param {string|undefined} message
   * @returns {SluiceError}
   */
  storedError(code = 'stream_ended', message = '') {
    if (typeof code !== 'string' || !code) code = 'stream_ended';
    if (typeof message !== 'string') message = '';
    const ownText = own(this.language, code);
    const useOwn = ownText && (this.language !== 'en' || CANCELLED.has(code) || !message);
    const text = useOwn ? ownText : message || say(this.language, 'stream_ended');
    return new SluiceError(text, { code, serverMessage: message || null });
  }
}
