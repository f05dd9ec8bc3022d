// connection.js: the dashboard's link to the server, without the page.
// It loads the newest records over REST, then follows the WebSocket stream
// (DESIGN.md sections 4 to 6):
//
//   GET healthz                 when the server started and its newest Seq
//   GET packet_logs?limit=N     the table's first rows (newest first)
//   WS  packet_logs/stream?backlog=N
//                               N covers every record since the newest one
//                               held; records with a Seq already held are
//                               dropped, so there is no gap and no duplicate
//
// When the stream closes (the server restarted, the network went away) it
// reconnects with exponential back-off. A server that restarted numbers its
// records from 1 again: healthz tells, and counting starts afresh. When the
// stream cannot be opened but REST works (a proxy that does not pass
// WebSockets), it polls REST with after=Seq until the stream comes back.
// With a token configured the API answers 401 (the stream closes with 1008):
// the page is asked for a token.
//
// Everything it touches outside itself is given to it (fetch, WebSocket,
// timers, the clock, the page's address), so node tests drive it with fakes;
// what it learns goes out through the callbacks.

export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30000;
export const RECORD_POLL_MS = 2000; // when the stream is unavailable
export const STREAM_RETRY_MS = 30000; // how often to try the stream again while polling

export class Unauthorized extends Error {}

/** The query string of the filters ({prefixes: Set, hosts: Set, action}) plus extra parameters. */
export function filterQuery(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const prefix of filters.prefixes ?? []) params.append('prefix', prefix);
  for (const host of filters.hosts ?? []) params.append('host', host);
  if (filters.action) params.set('action', filters.action);
  for (const [key, value] of Object.entries(extra)) params.set(key, String(value));
  return params.toString();
}

/** Whether a token can travel as the subprotocol "bearer.TOKEN" (a valid
 * subprotocol name, and the header within what the server takes: 126 bytes). */
export function tokenFitsProtocol(token) {
  return Boolean(token) && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token) &&
    `packet_logs, bearer.${token}`.length <= 126;
}

export class Connection {
  /**
   * options:
   *   location   the page's address (URL or string): REST and the stream are relative to it
   *   fetch, WebSocket, setTimeout, clearTimeout, setInterval, clearInterval, now
   *              (default: the globals)
   *   history    records loaded over REST when the history is needed
   *   maxRows    the most records worth asking for at once
   *   filters()  the current filters: {prefixes: Set of trimmed prefixes, action}
   *   token      the access token, '' when none
   * callbacks (each optional):
   *   onRecord(record)     a record, oldest first, never one with a Seq already given
   *   onMarker(text)       something the reader should see between records
   *   onHistoryLoaded()    the REST history was handed over
   *   onState(state)       'connecting' | 'reconnecting' | 'live' | 'polling' | 'retry' | 'auth'
   *   onRestart(bootMs)    the server restarted: records are numbered afresh
   *   onNeedToken(message) the server wants a (different) token
   */
  constructor(options = {}) {
    const g = globalThis;
    this.location = new URL(String(options.location ?? g.location?.href ?? 'http://localhost/'));
    this.fetch = options.fetch ?? g.fetch.bind(g);
    this.WebSocket = options.WebSocket ?? g.WebSocket;
    this.setTimeout = options.setTimeout ?? g.setTimeout.bind(g);
    this.clearTimeout = options.clearTimeout ?? g.clearTimeout.bind(g);
    this.setInterval = options.setInterval ?? g.setInterval.bind(g);
    this.clearInterval = options.clearInterval ?? g.clearInterval.bind(g);
    this.now = options.now ?? Date.now;
    this.history = options.history ?? 200;
    this.maxRows = options.maxRows ?? 1000;
    this.filters = options.filters ?? (() => ({ prefixes: new Set(), action: '' }));
    this.token = options.token ?? '';
    this.cb = options;
    this.log = options.log ?? ((...args) => g.console?.warn(...args));

    this.state = 'connecting';
    this.lastSeq = 0; // the newest Seq given, of this run of the server
    this.boot = null; // when the server started (ms), to tell a restart
    this.needHistory = true; // load REST history on the next connect
    this.generation = 0; // bumps on every connect: late answers of older ones are dropped
    this.socket = null;
    this.retries = 0;
    this.retryAt = 0;
    this.timers = {};
  }

  /* ------------------------------------------------------------- REST */

  /** GET path (relative to the page) as JSON; throws Unauthorized on 401. */
  async api(path) {
    const headers = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const res = await this.fetch(new URL(path, this.location).href, { headers, cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized('the server needs a token');
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        message = (await res.json()).error || message;
      } catch {
        /* not JSON: keep the status */
      }
      throw new Error(message);
    }
    return res.json();
  }

  query(extra = {}) {
    return filterQuery(this.filters(), extra);
  }

  /* ------------------------------------------------------------ state */

  emit(name, ...args) {
    const fn = this.cb[name];
    if (fn) fn(...args);
  }

  setState(state) {
    this.state = state;
    this.emit('onState', state);
  }

  clearTimer(name) {
    this.clearTimeout(this.timers[name]);
    this.clearInterval(this.timers[name]);
    delete this.timers[name];
  }

  closeSocket() {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close(1000);
    }
  }

  /** Ends every timer, the stream and any answer still on its way. */
  stop() {
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
    this.closeSocket();
    this.generation++;
  }

  /* -------------------------------------------------------- connecting */

  /** (Re)connects: healthz, the history when needed, then the stream. */
  async connect() {
    const generation = ++this.generation;
    for (const name of ['retry', 'countdown', 'poll', 'streamRetry']) this.clearTimer(name);
    this.closeSocket();
    this.setState(this.retries ? 'reconnecting' : 'connecting');
    try {
      const health = await this.api('healthz');
      if (generation !== this.generation) return;
      const boot = this.now() - health.uptime_seconds * 1000;
      const restarted = this.boot !== null &&
        (health.newest_seq < this.lastSeq || Math.abs(boot - this.boot) > 2500);
      this.boot = boot;
      if (restarted) {
        this.lastSeq = 0;
        this.needHistory = true;
        this.emit('onRestart', boot);
      }
      if (this.needHistory) {
        const records = await this.api(`packet_logs?${this.query({ limit: this.history })}`);
        if (generation !== this.generation) return;
        this.needHistory = false;
        for (let i = records.length - 1; i >= 0; i--) this.accept(records[i]);
        this.emit('onHistoryLoaded');
      }
      // Everything since the newest record held, and a margin for what
      // arrives before the stream opens.
      const missed = Math.max(0, health.newest_seq - this.lastSeq);
      this.openStream(generation, Math.min(this.maxRows, missed + this.history));
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof Unauthorized) this.askToken();
      else this.retryLater(err);
    }
  }

  /** The filters changed: start again with the records they match. */
  refilter() {
    this.lastSeq = 0;
    this.needHistory = true;
    this.retries = 0;
    return this.connect();
  }

  /** A new token: forget the failures and connect with it. */
  setToken(token) {
    this.token = token;
    this.retries = 0;
    return this.connect();
  }

  openStream(generation, backlog) {
    const url = new URL(`packet_logs/stream?${this.query({ backlog })}`, this.location);
    url.protocol = this.location.protocol === 'https:' ? 'wss:' : 'ws:';
    // A browser cannot set Authorization on a WebSocket. The token goes in
    // as the subprotocol "bearer.TOKEN" after "packet_logs" (the server's
    // scheme) when it fits; else as the first message.
    const inHeader = tokenFitsProtocol(this.token);
    let socket;
    try {
      socket = inHeader ? new this.WebSocket(url.href, ['packet_logs', `bearer.${this.token}`])
        : new this.WebSocket(url.href, ['packet_logs']);
    } catch (err) {
      this.startPolling(generation, err);
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      if (this.token && !inHeader) socket.send(JSON.stringify({ token: this.token }));
      this.setState('live');
      // Back-off starts over once a connection has held for a while.
      this.timers.stable = this.setTimeout(() => (this.retries = 0), 5000);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (generation !== this.generation) return;
      this.socket = null;
      this.clearTimer('stable');
      if (event.code === 1008) {
        this.askToken('The server closed the stream: the token was refused.');
      } else if (!opened) {
        this.startPolling(generation);
      } else {
        this.retryLater();
      }
    };
  }

  /** The stream could not be opened but REST answered: poll REST meanwhile. */
  startPolling(generation, why) {
    if (why) this.log('packet_logs: stream unavailable:', why);
    this.setState('polling');
    const poll = async () => {
      try {
        const records = await this.api(`packet_logs?${this.query({ after: this.lastSeq, order: 'asc', limit: this.maxRows })}`);
        if (generation !== this.generation) return;
        for (const record of records) this.accept(record);
      } catch (err) {
        if (generation !== this.generation) return;
        if (err instanceof Unauthorized) this.askToken();
        else this.retryLater(err);
      }
    };
    poll();
    this.timers.poll = this.setInterval(poll, RECORD_POLL_MS);
    this.timers.streamRetry = this.setTimeout(() => this.connect(), STREAM_RETRY_MS);
  }

  /** Tries again after 1, 2, 4 … 30 s; onState('retry') every second for a countdown. */
  retryLater(err) {
    if (err) this.log('packet_logs: connection failed:', err.message ?? err);
    for (const name of ['poll', 'streamRetry', 'retry', 'countdown']) this.clearTimer(name);
    this.closeSocket();
    this.generation++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.retries);
    this.retries++;
    this.retryAt = this.now() + delay;
    this.setState('retry');
    this.timers.countdown = this.setInterval(() => this.setState('retry'), 1000);
    this.timers.retry = this.setTimeout(() => this.connect(), delay);
  }

  /** Whole seconds until the next try, at least 1. */
  retrySeconds() {
    return Math.max(1, Math.ceil((this.retryAt - this.now()) / 1000));
  }

  askToken(message) {
    for (const name of ['retry', 'countdown', 'poll', 'streamRetry']) this.clearTimer(name);
    this.closeSocket();
    this.generation++;
    this.setState('auth');
    this.emit('onNeedToken', message || (this.token ? 'The server refused this token.' : ''));
  }

  /* ----------------------------------------------------------- records */

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.log('packet_logs: a stream message that is not JSON:', String(text).slice(0, 200));
      return;
    }
    if (message && typeof message.Dropped === 'number' && message.Seq === undefined) {
      this.emit('onMarker', `${message.Dropped.toLocaleString()} records not shown: the page fell behind the stream`);
      return;
    }
    this.accept(message);
  }

  /** Gives one record (oldest first) unless a record with its Seq was given already. */
  accept(record) {
    if (!record || typeof record !== 'object') return;
    if (typeof record.Seq === 'number') {
      if (record.Seq <= this.lastSeq) return;
      this.lastSeq = record.Seq;
    }
    this.emit('onRecord', record);
  }
}
