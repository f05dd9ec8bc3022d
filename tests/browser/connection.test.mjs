// The dashboard's link to the server (web/connection.js) under node, with a
// fake server: fetch, WebSocket and timers are given to it, so each case
// says exactly what the server answers and when. Covers the history then the
// stream with no gap and no duplicate, a restart, polling when the stream
// cannot open, back-off, tokens (401, 1008, header or first message) and
// answers that arrive after the filters changed.
//
//   node --test tests/browser/connection.test.mjs

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WEB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
const { Connection, filterQuery, tokenFitsProtocol, RETRY_MAX_MS } =
  await import(path.join(WEB, 'connection.js'));

/** Timers that run only when the test says: advance(ms). */
class Clock {
  constructor() { this.t = 1_000_000; this.timers = new Map(); this.next = 1; }
  now = () => this.t;
  setTimeout = (fn, ms) => { const id = this.next++; this.timers.set(id, { fn, at: this.t + ms }); return id; };
  setInterval = (fn, ms) => { const id = this.next++; this.timers.set(id, { fn, at: this.t + ms, every: ms }); return id; };
  clearTimeout = (id) => this.timers.delete(id);
  clearInterval = (id) => this.timers.delete(id);
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let first = null;
      for (const [id, timer] of this.timers) if (timer.at <= end && (!first || timer.at < first[1].at)) first = [id, timer];
      if (!first) break;
      const [id, timer] = first;
      this.t = timer.at;
      if (timer.every) timer.at += timer.every; else this.timers.delete(id);
      timer.fn();
      await settle();
    }
    this.t = end;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A server: routes answer fetches; sockets are recorded for the test to drive. */
function fakeServer() {
  const server = {
    health: { uptime_seconds: 100, newest_seq: 0 },
    records: [], // newest first, as REST answers
    status: 200,
    requests: [],
    sockets: [],
    refuseStream: false,
  };
  server.fetch = async (url, init) => {
    const u = new URL(url);
    server.requests.push({ path: u.pathname + u.search, headers: init.headers });
    if (server.status !== 200) return { ok: false, status: server.status, json: async () => ({ error: 'no' }) };
    let body;
    if (u.pathname.endsWith('/healthz')) body = server.health;
    else if (u.searchParams.get('after')) body = server.records.filter((r) => r.Seq > Number(u.searchParams.get('after'))).reverse();
    else body = server.records.slice(0, Number(u.searchParams.get('limit') ?? 100));
    return { ok: true, status: 200, json: async () => structuredClone(body) };
  };
  server.WebSocket = class {
    constructor(url, protocols) {
      if (server.refuseStream) throw new Error('no WebSocket here');
      this.url = url;
      this.protocols = protocols;
      this.sent = [];
      this.closed = null;
      server.sockets.push(this);
    }
    send(text) { this.sent.push(text); }
    close(code) { this.closed = code; }
    open() { this.onopen?.(); }
    message(record) { this.onmessage?.({ data: typeof record === 'string' ? record : JSON.stringify(record) }); }
    end(code = 1006) { this.onclose?.({ code }); }
  };
  return server;
}

function link(server, clock, extra = {}) {
  const got = { records: [], markers: [], states: [], tokens: [], restarts: 0, histories: 0 };
  const c = new Connection({
    location: 'http://router.test:8080/',
    fetch: server.fetch,
    WebSocket: server.WebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    setInterval: clock.setInterval,
    clearInterval: clock.clearInterval,
    now: clock.now,
    history: 3,
    maxRows: 10,
    log: () => {},
    onRecord: (r) => got.records.push(r.Seq ?? r),
    onMarker: (m) => got.markers.push(m),
    onState: (s) => got.states.push(s),
    onNeedToken: (m) => got.tokens.push(m),
    onRestart: () => got.restarts++,
    onHistoryLoaded: () => got.histories++,
    ...extra,
  });
  return { c, got };
}

const seqs = (...ns) => ns.map((Seq) => ({ Seq }));

test('filterQuery and tokenFitsProtocol', () => {
  assert.equal(filterQuery({ prefixes: new Set(['wan:in', 'drop:']), action: 'blocked' }, { limit: 5 }),
    'prefix=wan%3Ain&prefix=drop%3A&action=blocked&limit=5');
  assert.equal(filterQuery({}), '');
  assert.ok(tokenFitsProtocol('abc-DEF_123.x'));
  assert.ok(!tokenFitsProtocol(''));
  assert.ok(!tokenFitsProtocol('has space'));
  assert.ok(!tokenFitsProtocol('x'.repeat(120)));
});

test('history oldest first, then the stream from where it ended, no duplicate', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.records = seqs(5, 4, 3);
  server.health.newest_seq = 5;
  const { c, got } = link(server, clock, { filters: () => ({ prefixes: new Set(['wan:in']), action: '' }) });
  await c.connect();
  assert.deepEqual(got.records, [3, 4, 5]);
  assert.equal(got.histories, 1);
  assert.equal(server.requests[1].path, '/packet_logs?prefix=wan%3Ain&limit=3');
  const ws = server.sockets[0];
  assert.equal(ws.url, 'ws://router.test:8080/packet_logs/stream?prefix=wan%3Ain&backlog=3');
  assert.deepEqual(ws.protocols, ['packet_logs']);
  ws.open();
  assert.equal(c.state, 'live');
  // the backlog repeats what REST gave: dropped by Seq; then new ones
  for (const r of seqs(3, 4, 5, 6, 7)) ws.message(r);
  ws.message({ Dropped: 12 });
  ws.message('not json');
  assert.deepEqual(got.records, [3, 4, 5, 6, 7]);
  assert.equal(got.markers.length, 1);
  assert.match(got.markers[0], /^12 records not shown/);
});

test('a stream that closes reconnects with back-off, asking only for what it missed', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.records = seqs(2, 1);
  server.health.newest_seq = 2;
  const { c, got } = link(server, clock);
  await c.connect();
  server.sockets[0].open();
  server.sockets[0].end(1006);
  assert.equal(c.state, 'retry');
  assert.equal(c.retrySeconds(), 1);
  server.health = { uptime_seconds: 101, newest_seq: 9 };
  await clock.advance(1000);
  assert.equal(server.sockets.length, 2);
  // no history again; the backlog covers 7 missed plus the margin, at most maxRows
  assert.equal(new URL(server.sockets[1].url).searchParams.get('backlog'), '10');
  assert.equal(got.histories, 1);
  // the server is down: 2 s, then 4 s ... up to the maximum
  server.status = 503;
  server.sockets[1].open();
  server.sockets[1].end(1006);
  const delays = [];
  for (let i = 0; i < 7; i++) {
    delays.push(c.retryAt - clock.now());
    await clock.advance(c.retryAt - clock.now());
  }
  assert.deepEqual(delays, [2000, 4000, 8000, 16000, RETRY_MAX_MS, RETRY_MAX_MS, RETRY_MAX_MS]);
  c.stop();
});

test('a restarted server: counting starts afresh and the history is loaded again', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.records = seqs(50, 49);
  server.health = { uptime_seconds: 100, newest_seq: 50 };
  const { c, got } = link(server, clock);
  await c.connect();
  server.sockets[0].open();
  server.sockets[0].end(1006);
  server.records = seqs(2, 1);
  server.health = { uptime_seconds: 1, newest_seq: 2 };
  await clock.advance(1000);
  assert.equal(got.restarts, 1);
  assert.equal(got.histories, 2);
  assert.deepEqual(got.records, [49, 50, 1, 2]);
  c.stop();
});

test('no WebSocket: polls REST after the newest Seq, and tries the stream again later', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.refuseStream = true;
  server.records = seqs(1);
  server.health.newest_seq = 1;
  const { c, got } = link(server, clock);
  await c.connect();
  await settle();
  assert.equal(c.state, 'polling');
  server.records = seqs(3, 2, 1);
  await clock.advance(2000);
  assert.deepEqual(got.records, [1, 2, 3]);
  assert.ok(server.requests.some((r) => r.path === '/packet_logs?after=1&order=asc&limit=10'));
  server.refuseStream = false;
  await clock.advance(30000);
  assert.equal(server.sockets.length, 1);
  c.stop();
});

test('a stream that never opens (closed before open) falls back to polling', async () => {
  const server = fakeServer();
  const clock = new Clock();
  const { c } = link(server, clock);
  await c.connect();
  server.sockets[0].end(1006);
  assert.equal(c.state, 'polling');
  c.stop();
});

test('tokens: 401 asks for one; it goes as a subprotocol or a first message; 1008 asks again', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.status = 401;
  const { c, got } = link(server, clock);
  await c.connect();
  assert.equal(c.state, 'auth');
  assert.deepEqual(got.tokens, ['']);
  server.status = 200;
  await c.setToken('s3cret');
  assert.equal(server.requests.at(-1).headers.Authorization, 'Bearer s3cret');
  assert.deepEqual(server.sockets[0].protocols, ['packet_logs', 'bearer.s3cret']);
  server.sockets[0].open();
  assert.deepEqual(server.sockets[0].sent, []);
  server.sockets[0].end(1008);
  assert.equal(c.state, 'auth');
  assert.match(got.tokens.at(-1), /token was refused/);
  // a token that is no subprotocol name: the first message carries it
  await c.setToken('with space');
  const ws = server.sockets.at(-1);
  assert.deepEqual(ws.protocols, ['packet_logs']);
  ws.open();
  assert.deepEqual(ws.sent, [JSON.stringify({ token: 'with space' })]);
  c.stop();
});

test('answers of an older connect are dropped when the filters change meanwhile', async () => {
  const server = fakeServer();
  const clock = new Clock();
  server.records = seqs(9, 8);
  server.health.newest_seq = 9;
  let release;
  const slow = (url, init) => (url.includes('limit=3') && !release.done
    ? new Promise((resolve) => { release.fn = () => { release.done = true; resolve(server.fetch(url, init)); }; })
    : server.fetch(url, init));
  release = { done: false };
  const { c, got } = link(server, clock, { fetch: slow });
  const first = c.connect();
  await settle();
  await settle();
  const second = c.refilter(); // the filters changed while the history was on its way
  release.fn();
  await first;
  await second;
  assert.deepEqual(got.records, [8, 9]); // once, from the second connect
  assert.equal(server.sockets.length, 1);
  c.stop();
});
