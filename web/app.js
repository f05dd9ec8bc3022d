// app.js: the dashboard. Loads the newest records over REST, then follows
// the WebSocket stream (DESIGN.md sections 4 to 6):
//
//   GET healthz                 when the server started and its newest Seq
//   GET packet_logs?limit=200   the table's first rows (newest first)
//   WS  packet_logs/stream?backlog=N
//                               N covers every record since the newest one
//                               held; records with a Seq already held are
//                               dropped, so there is no gap and no duplicate
//
// When the stream closes (the server restarted, the network went away) it
// reconnects with exponential back-off, saying so on screen. A server that
// restarted numbers its records from 1 again: healthz tells, and the page
// starts counting afresh. When the stream cannot be opened but REST works
// (a proxy that does not pass WebSockets), it polls REST with after=Seq
// until the stream comes back.
//
// The chips and the chart read GET packet_logs/prefixes every few seconds.
// With a token configured the API answers 401: the page asks for the token
// once and keeps it for the tab (sessionStorage).

import { RateChart } from './chart.js';
import { hexLines, ipPacket } from './hex.js';
import { summarize } from './record.js';
import { LiveTable } from './table.js';

const HISTORY = 200; // records loaded over REST when the page opens
const MAX_ROWS = 1000; // rows the table keeps; also what a pause holds
const PREFIX_POLL_MS = 2000;
const RECORD_POLL_MS = 2000; // when the stream is unavailable
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const STREAM_RETRY_MS = 30000; // how often to try the stream again while polling
const TOKEN_KEY = 'packet_logs.token';

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  prefixes: new Set(), // chips chosen (trimmed prefixes); none: every prefix
  action: '',
  paused: false,
  held: [], // records (and markers) that came in while paused, newest MAX_ROWS
  heldCount: 0, // records that came in while paused
  lastSeq: 0, // the newest Seq shown or held, of this run of the server
  boot: null, // when the server started (ms), to tell a restart
  needHistory: true, // load REST history on the next connect
  generation: 0, // bumps on every connect: late answers of older ones are dropped
  socket: null,
  connection: 'connecting',
  retries: 0,
  retryAt: 0,
  timers: {},
  queue: [], // records received, not yet in the table
};

const table = new LiveTable($('rows'), {
  maxRows: MAX_ROWS,
  onOpen: openDetail,
  onChange: showCounts,
  stickyTop,
});
const chart = new RateChart($('chart'), $('legend'));

// For the browser tests and for people poking at the page from devtools.
window.packetLogs = { state, table, chart };

/* ------------------------------------------------------------------ API */

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: 'application/json' };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, { headers, cache: 'no-store' });
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

/** The filter parameters of the chips and the action menu, plus extra ones. */
function query(extra = {}) {
  const params = new URLSearchParams();
  for (const prefix of state.prefixes) params.append('prefix', prefix);
  if (state.action) params.set('action', state.action);
  for (const [key, value] of Object.entries(extra)) params.set(key, String(value));
  return params.toString();
}

/* ----------------------------------------------------------- connection */

function clearTimer(name) {
  clearTimeout(state.timers[name]);
  clearInterval(state.timers[name]);
  delete state.timers[name];
}

function closeSocket() {
  const socket = state.socket;
  state.socket = null;
  if (socket) {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    socket.close(1000);
  }
}

/** (Re)connects: healthz, the history when needed, then the stream. */
async function connect() {
  const generation = ++state.generation;
  for (const name of ['retry', 'countdown', 'poll', 'streamRetry']) clearTimer(name);
  closeSocket();
  setConnection(state.retries ? 'reconnecting' : 'connecting');
  try {
    const health = await api('healthz');
    if (generation !== state.generation) return;
    const boot = Date.now() - health.uptime_seconds * 1000;
    const restarted = state.boot !== null &&
      (health.newest_seq < state.lastSeq || Math.abs(boot - state.boot) > 2500);
    state.boot = boot;
    if (restarted) {
      addMarker(`server restarted ${new Date(boot).toLocaleTimeString()}: its records are numbered afresh`);
      state.lastSeq = 0;
      state.needHistory = true;
      chart.reset();
    }
    if (state.needHistory) {
      const records = await api(`packet_logs?${query({ limit: HISTORY })}`);
      if (generation !== state.generation) return;
      state.needHistory = false;
      for (let i = records.length - 1; i >= 0; i--) accept(records[i]);
      // An empty table (the page opened, the filters changed) fills even
      // while paused: the pause holds back what comes after.
      flush(table.records === 0 && state.held.length === 0);
    }
    // Everything since the newest record held, and a margin for what
    // arrives before the stream opens.
    const missed = Math.max(0, health.newest_seq - state.lastSeq);
    openStream(generation, Math.min(MAX_ROWS, missed + HISTORY));
  } catch (err) {
    if (generation !== state.generation) return;
    if (err instanceof Unauthorized) askToken();
    else retryLater(err);
  }
}

function openStream(generation, backlog) {
  const url = new URL(`packet_logs/stream?${query({ backlog })}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // A browser cannot set Authorization on a WebSocket. The token goes in as
  // the subprotocol "bearer.TOKEN" after "packet_logs" (the server's
  // scheme) when it is a valid subprotocol name and the header stays within
  // what the server takes (126 bytes); else as the first message.
  const inHeader = state.token && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(state.token) &&
    `packet_logs, bearer.${state.token}`.length <= 126;
  let socket;
  try {
    socket = inHeader ? new WebSocket(url, ['packet_logs', `bearer.${state.token}`])
      : new WebSocket(url, ['packet_logs']);
  } catch (err) {
    startPolling(generation, err);
    return;
  }
  state.socket = socket;
  let opened = false;
  socket.onopen = () => {
    opened = true;
    if (state.token && !inHeader) socket.send(JSON.stringify({ token: state.token }));
    setConnection('live');
    // Back-off starts over once a connection has held for a while.
    state.timers.stable = setTimeout(() => (state.retries = 0), 5000);
  };
  socket.onmessage = (event) => receive(event.data);
  socket.onclose = (event) => {
    if (generation !== state.generation) return;
    state.socket = null;
    clearTimer('stable');
    if (event.code === 1008) {
      askToken('The server closed the stream: the token was refused.');
    } else if (!opened) {
      startPolling(generation);
    } else {
      retryLater();
    }
  };
}

/** The stream could not be opened but REST answered: poll REST meanwhile. */
function startPolling(generation, why) {
  if (why) console.warn('packet_logs: stream unavailable:', why);
  setConnection('polling');
  const poll = async () => {
    try {
      const records = await api(`packet_logs?${query({ after: state.lastSeq, order: 'asc', limit: MAX_ROWS })}`);
      if (generation !== state.generation) return;
      for (const record of records) accept(record);
    } catch (err) {
      if (generation !== state.generation) return;
      if (err instanceof Unauthorized) askToken();
      else retryLater(err);
    }
  };
  poll();
  state.timers.poll = setInterval(poll, RECORD_POLL_MS);
  state.timers.streamRetry = setTimeout(connect, STREAM_RETRY_MS);
}

/** Tries again after 1, 2, 4 … 30 s, counting down on screen. */
function retryLater(err) {
  if (err) console.warn('packet_logs: connection failed:', err.message ?? err);
  for (const name of ['poll', 'streamRetry', 'retry', 'countdown']) clearTimer(name);
  closeSocket();
  state.generation++;
  const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** state.retries);
  state.retries++;
  state.retryAt = Date.now() + delay;
  setConnection('retry');
  state.timers.countdown = setInterval(() => setConnection('retry'), 1000);
  state.timers.retry = setTimeout(connect, delay);
}

function setConnection(connection) {
  if (connection !== state.connection) announce(connection);
  state.connection = connection;
  const status = $('status');
  status.dataset.state = connection;
  const text = {
    connecting: 'connecting…',
    reconnecting: 'reconnecting…',
    live: 'live',
    polling: 'live (polling: stream unavailable)',
    auth: 'token needed',
  }[connection];
  if (connection === 'retry') {
    const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
    status.textContent = `reconnecting in ${seconds} s…`;
    status.title = 'The server cannot be reached. Select to try now.';
  } else {
    status.textContent = text;
    status.title = connection === 'auth' ? 'Select to enter the token' : 'Connection to the server';
  }
}

// Screen readers hear the connection change once, not every second of a countdown.
function announce(connection) {
  $('announce').textContent = {
    live: 'Live: new records appear as they come.',
    polling: 'Live, by polling: the stream is unavailable.',
    retry: 'Connection lost: reconnecting.',
    auth: 'The server needs an access token.',
  }[connection] ?? '';
}

$('status').addEventListener('click', () => {
  if (state.connection === 'auth') askToken();
  else if (state.connection === 'retry') connect();
});

/* --------------------------------------------------------------- tokens */

function askToken(message) {
  for (const name of ['retry', 'countdown', 'poll', 'streamRetry']) clearTimer(name);
  closeSocket();
  state.generation++;
  setConnection('auth');
  const dialog = $('token-dialog');
  const error = $('token-error');
  const refused = message || (state.token ? 'The server refused this token.' : '');
  error.textContent = refused;
  error.hidden = !refused;
  if (!dialog.open) dialog.showModal();
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (event) => {
  const token = $('token-input').value.trim();
  if (!token) {
    event.preventDefault();
    return;
  }
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  state.retries = 0;
  connect();
  pollPrefixes();
});

/* -------------------------------------------------------------- records */

function receive(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    console.warn('packet_logs: a stream message that is not JSON:', text.slice(0, 200));
    return;
  }
  if (message && typeof message.Dropped === 'number' && message.Seq === undefined) {
    addMarker(`${message.Dropped.toLocaleString()} records not shown: the page fell behind the stream`);
    return;
  }
  accept(message);
}

/** Takes one record (oldest first) unless a record with its Seq is held already. */
function accept(record) {
  if (!record || typeof record !== 'object') return;
  if (typeof record.Seq === 'number') {
    if (record.Seq <= state.lastSeq) return;
    state.lastSeq = record.Seq;
  }
  enqueue(record);
}

function addMarker(text) {
  enqueue({ marker: text });
}

// Records go to the table in batches: one layout per batch, not per
// record. The busier the stream, the bigger and rarer the batches (up to
// one a second), so that drawing rows never takes the whole page: nobody
// reads thousands of rows a second, and only the newest MAX_ROWS are drawn.
let flushCost = 0; // ms the last batch took, layout included
function enqueue(entry) {
  state.queue.push(entry);
  if (state.queue.length > 2 * MAX_ROWS) state.queue.splice(0, state.queue.length - MAX_ROWS);
  if (!state.timers.flush) state.timers.flush = setTimeout(flush, Math.min(1000, Math.max(100, 4 * flushCost)));
}

function flush(evenIfPaused = false) {
  clearTimer('flush');
  const entries = state.queue;
  state.queue = [];
  if (!entries.length) return;
  if (state.paused && !evenIfPaused) {
    state.held.push(...entries);
    state.heldCount += entries.filter((e) => e.marker === undefined).length;
    if (state.held.length > MAX_ROWS) state.held.splice(0, state.held.length - MAX_ROWS);
    showCounts();
  } else {
    const start = performance.now();
    table.prepend(entries);
    requestAnimationFrame(() => setTimeout(() => (flushCost = performance.now() - start)));
  }
}

/* ----------------------------------------------------- pause and resume */

function setPaused(paused) {
  state.paused = paused;
  const button = $('pause');
  button.setAttribute('aria-pressed', String(paused));
  button.querySelector('.label').textContent = paused ? 'Resume' : 'Pause';
  button.querySelector('.icon').textContent = paused ? '▶' : '❚❚';
  if (!paused) {
    flush();
    const held = state.held;
    state.held = [];
    state.heldCount = 0;
    table.prepend(held);
  }
  showCounts();
}

$('pause').addEventListener('click', () => setPaused(!state.paused));

/* ------------------------------------------------------- counts, scroll */

function showCounts() {
  const info = $('rows-info');
  if (!table.records) info.textContent = 'No records yet';
  else if (table.query) info.textContent = `Showing ${table.shown.toLocaleString()} of ${table.records.toLocaleString()} rows`;
  else info.textContent = `${table.records.toLocaleString()} rows, newest first`;
  const empty = $('empty');
  if (!table.records) {
    empty.hidden = false;
    empty.textContent = state.prefixes.size || state.action
      ? 'No records of these filters yet. They appear here as the firewall logs them.'
      : 'Waiting for packets… Records appear here as the firewall logs them.';
  } else if (table.query && !table.shown) {
    empty.hidden = false;
    empty.textContent = `No row on the page matches “${table.query}”.`;
  } else {
    empty.hidden = true;
  }

  const paused = $('paused-info');
  paused.hidden = !state.paused;
  paused.textContent = `paused — ${state.heldCount.toLocaleString()} new`;

  const more = $('new-rows');
  more.hidden = table.newAbove === 0;
  more.querySelector('.n').textContent = table.newAbove.toLocaleString();
}

/** Where the rows start to be visible: below the sticky bar and table head. */
function stickyTop() {
  const bar = $('bar').getBoundingClientRect().bottom;
  const head = document.querySelector('#log th').getBoundingClientRect(); // sticky: where it shows
  return head.height > 1 ? Math.max(bar, head.bottom) : bar;
}

function updateBarHeight() {
  document.documentElement.style.setProperty('--bar-h', `${$('bar').offsetHeight}px`);
}
new ResizeObserver(updateBarHeight).observe($('bar'));
updateBarHeight();

addEventListener('scroll', () => {
  if (table.newAbove && !table.reading()) table.seen();
}, { passive: true });

$('new-rows').addEventListener('click', () => {
  const log = $('log');
  const top = log.getBoundingClientRect().top + scrollY - $('bar').offsetHeight;
  scrollTo({ top: Math.max(0, top), behavior: 'instant' });
  table.seen();
  table.firstVisible()?.tr.focus({ preventScroll: true });
});

/* ------------------------------------------------------ search, filters */

$('search').addEventListener('input', (event) => {
  table.setQuery(event.target.value);
  writeHash();
});

// The filters and the search live in the address's fragment
// (#prefix=drop:input&action=blocked&q=443): a view can be bookmarked.
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.prefixes = new Set(params.getAll('prefix').flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean));
  state.action = ['allowed', 'blocked'].includes(params.get('action')) ? params.get('action') : '';
  $('action').value = state.action;
  $('search').value = params.get('q') ?? '';
  table.setQuery($('search').value);
  pressChips();
}

function writeHash() {
  const params = new URLSearchParams();
  for (const prefix of state.prefixes) params.append('prefix', prefix);
  if (state.action) params.set('action', state.action);
  if ($('search').value.trim()) params.set('q', $('search').value.trim());
  const hash = params.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
  history.replaceState(null, '', hash ? `#${hash}` : `${location.pathname}${location.search}`);
}

function pressChips() {
  for (const button of $('chips').querySelectorAll('.chip')) {
    const p = button.dataset.prefix;
    button.setAttribute('aria-pressed', String(p ? state.prefixes.has(p) : state.prefixes.size === 0));
  }
}

addEventListener('hashchange', () => {
  readHash();
  refilter();
});

$('action').addEventListener('change', (event) => {
  state.action = event.target.value;
  refilter();
});

/** The filters changed: the table starts again with the records they match. */
function refilter() {
  writeHash();
  table.clear();
  state.held = [];
  state.heldCount = 0;
  state.queue = [];
  state.lastSeq = 0;
  state.needHistory = true;
  state.retries = 0;
  showCounts();
  connect();
}

const chipsByPrefix = new Map(); // trimmed prefix -> button

$('chips').addEventListener('click', (event) => {
  const chip = event.target.closest('.chip');
  if (!chip) return;
  const prefix = chip.dataset.prefix;
  if (!prefix) state.prefixes.clear();
  else if (state.prefixes.has(prefix)) state.prefixes.delete(prefix);
  else state.prefixes.add(prefix);
  pressChips();
  refilter();
});

function renderChips(list) {
  const totals = new Map();
  let all = 0;
  for (const entry of list) {
    const prefix = String(entry.Prefix).trim() || '(none)';
    const total = totals.get(prefix) ?? { count: 0, blocked: false };
    total.count += Number(entry.Count) || 0;
    total.blocked ||= entry.Action === 'blocked';
    totals.set(prefix, total);
    all += Number(entry.Count) || 0;
  }
  const nav = $('chips');
  nav.querySelector('.chip.all .count').textContent = all.toLocaleString();
  for (const [prefix, total] of totals) {
    let chip = chipsByPrefix.get(prefix);
    if (!chip) {
      chip = document.createElement('button');
      chip.type = 'button';
      chip.className = `chip ${total.blocked ? 'blocked' : 'allowed'}`;
      chip.dataset.prefix = prefix;
      chip.setAttribute('aria-pressed', String(state.prefixes.has(prefix)));
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.setAttribute('aria-hidden', 'true');
      mark.textContent = total.blocked ? '✕' : '✓';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = prefix;
      const count = document.createElement('span');
      count.className = 'count';
      chip.append(mark, name, count);
      chip.title = `${prefix}: ${total.blocked ? 'blocked' : 'allowed'}`;
      nav.append(chip);
      chipsByPrefix.set(prefix, chip);
    }
    chip.querySelector('.count').textContent = total.count.toLocaleString();
  }
}

async function pollPrefixes() {
  clearTimer('prefixes');
  try {
    const list = await api('packet_logs/prefixes');
    state.pollFailures = 0;
    chart.add(Date.now(), list);
    renderChips(list);
  } catch (err) {
    // The chart shows a gap. A stream can look open for minutes after the
    // server went away (no FIN on a dead link): two failed polls in a row
    // end it and start reconnecting.
    state.pollFailures = (state.pollFailures ?? 0) + 1;
    if (!(err instanceof Unauthorized) && state.pollFailures >= 2 &&
        (state.connection === 'live' || state.connection === 'polling')) {
      retryLater(new Error('the server stopped answering'));
    }
  }
  chart.draw();
  state.timers.prefixes = setTimeout(pollPrefixes, PREFIX_POLL_MS);
}

/* --------------------------------------------------------------- detail */

let detailReturn = null;

function openDetail(record, row) {
  const s = summarize(record);
  detailReturn = row ?? null;
  $('detail-title').textContent = `${s.proto} ${s.src || '?'} → ${s.dst || '?'}`;

  const meta = $('detail-meta');
  meta.replaceChildren();
  const item = (term, value, className) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    if (className) dd.className = className;
    dd.textContent = value;
    meta.append(dt, dd);
  };
  item('Time', s.timestamp);
  item('Action', `${s.action === 'blocked' ? '✕' : '✓'} ${s.action}`, `action-text ${s.action}`);
  item('Prefix', s.prefix);
  item('Protocol', [s.proto, s.protoDetail].filter(Boolean).join(' · '));
  item('Interfaces', `${s.inDev || '·'} → ${s.outDev || '·'}`);
  if (s.domainSrc) item('Source domain', s.domainSrc);
  if (s.domainDst) item('Destination domain', s.domainDst);
  if (s.question) item('DNS question', s.question);
  item('Seq', String(record.Seq ?? ''));

  $('detail-error').hidden = !s.error;
  $('detail-error').textContent = s.error ? `Decode error: ${s.error}` : '';

  const packet = ipPacket(record);
  const hex = $('detail-hex');
  hex.replaceChildren();
  if (!packet) {
    $('hex-title').textContent = 'Packet bytes';
    hex.textContent = 'No IP layer was decoded: no bytes to show.';
  } else {
    $('hex-title').textContent =
      `${packet.layer} packet, ${packet.bytes.length} bytes (header ${packet.headerLength}, shown highlighted)`;
    renderHex(hex, packet);
  }
  $('detail-json').textContent = JSON.stringify(record, null, 2);
  const dialog = $('detail');
  if (!dialog.open) dialog.showModal();
  dialog.scrollTop = 0;
  $('detail-close').focus();
}

// One line per 8 or 16 bytes (the narrow layout has room for 8): offset,
// hex (the IP header highlighted), ASCII.
function renderHex(pre, packet) {
  const width = matchMedia('(max-width: 760px)').matches ? 8 : 16;
  const fragment = document.createDocumentFragment();
  hexLines(packet.bytes, width).forEach((line, n) => {
    const offset = document.createElement('span');
    offset.className = 'offset';
    offset.textContent = line.offset;
    fragment.append(offset, '  ');
    let header = null; // the span of this line's header bytes, while in it
    line.hex.forEach((byte, i) => {
      const gap = i === line.hex.length - 1 ? '' : i === width / 2 - 1 ? '  ' : ' ';
      const text = byte === '' ? '  ' : byte;
      if (byte !== '' && n * width + i < packet.headerLength) {
        if (!header) {
          header = document.createElement('span');
          header.className = 'hdr';
          fragment.append(header);
        }
        const inHeader = n * width + i + 1 < packet.headerLength && i < line.hex.length - 1;
        header.append(text + (inHeader ? gap : ''));
        if (!inHeader) {
          header = null;
          fragment.append(gap);
        }
      } else {
        fragment.append(text + gap);
      }
    });
    const ascii = document.createElement('span');
    ascii.className = 'ascii';
    ascii.textContent = line.ascii;
    fragment.append('  ', ascii, '\n');
  });
  pre.append(fragment);
}

$('detail-close').addEventListener('click', () => $('detail').close());
$('detail').addEventListener('click', (event) => {
  if (event.target === $('detail')) $('detail').close(); // a click on the backdrop
});
$('detail').addEventListener('close', () => {
  if (detailReturn?.isConnected) detailReturn.focus({ preventScroll: true });
  detailReturn = null;
});
$('detail-copy').addEventListener('click', async () => {
  const text = $('detail-json').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('detail-copy').textContent = 'Copied';
  } catch {
    getSelection().selectAllChildren($('detail-json'));
    $('detail-copy').textContent = 'Selected: copy with Ctrl+C';
  }
  setTimeout(() => ($('detail-copy').textContent = 'Copy JSON'), 2000);
});

/* ---------------------------------------------------------------- start */

addEventListener('online', () => {
  if (state.connection === 'retry') connect();
});

readHash();
showCounts();
connect();
pollPrefixes();
