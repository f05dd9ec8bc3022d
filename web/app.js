// app.js: the dashboard page: the live table, the filter chips, pause and
// resume, the detail view, the address's fragment (DESIGN.md section 6).
// The link to the server (REST history, the stream, polling, reconnecting,
// no gap and no duplicate by Seq) is connection.js; this file draws what it
// hands over. The chips and the chart read GET packet_logs/prefixes every
// few seconds. With a token configured the page asks for it once and keeps
// it for the tab (sessionStorage).

import { RateChart } from './chart.js';
import { Connection, Unauthorized } from './connection.js';
import { hexLines, ipPacket } from './hex.js';
import { summarize } from './record.js';
import { LiveTable } from './table.js';

const HISTORY = 200; // records loaded over REST when the page opens
const MAX_ROWS = 1000; // rows the table keeps; also what a pause holds
const PREFIX_POLL_MS = 2000;
const TOKEN_KEY = 'packet_logs.token';

const $ = (id) => document.getElementById(id);

const state = {
  prefixes: new Set(), // chips chosen (trimmed prefixes); none: every prefix
  hosts: new Set(), // router chips chosen (Host); none: every router
  action: '',
  paused: false,
  held: [], // records (and markers) that came in while paused, newest MAX_ROWS
  heldCount: 0, // records that came in while paused
  connection: 'connecting',
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

const link = new Connection({
  history: HISTORY,
  maxRows: MAX_ROWS,
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  filters: () => ({ prefixes: state.prefixes, hosts: state.hosts, action: state.action }),
  onRecord: enqueue,
  onMarker: addMarker,
  // An empty table (the page opened, the filters changed) fills even
  // while paused: the pause holds back what comes after.
  onHistoryLoaded: () => flush(table.records === 0 && state.held.length === 0),
  onState: setConnection,
  onRestart: (boot) => {
    addMarker(`server restarted ${new Date(boot).toLocaleTimeString()}: its records are numbered afresh`);
    chart.reset();
  },
  onNeedToken: askToken,
});

// For the browser tests and for people poking at the page from devtools.
window.packetLogs = { state, table, chart, link };

function clearTimer(name) {
  clearTimeout(state.timers[name]);
  delete state.timers[name];
}

/* ----------------------------------------------------------- connection */

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
    const seconds = link.retrySeconds();
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
  if (state.connection === 'auth') link.askToken();
  else if (state.connection === 'retry') link.connect();
});

/* --------------------------------------------------------------- tokens */

/** The server wants a token: the dialog, with why when there is a reason. */
function askToken(refused = '') {
  const dialog = $('token-dialog');
  const error = $('token-error');
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
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  link.setToken(token);
  pollPrefixes();
});

/* -------------------------------------------------------------- records */

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
    empty.textContent = state.prefixes.size || state.hosts.size || state.action
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
  state.hosts = new Set(params.getAll('host').flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean));
  state.action = ['allowed', 'blocked'].includes(params.get('action')) ? params.get('action') : '';
  $('action').value = state.action;
  $('search').value = params.get('q') ?? '';
  table.setQuery($('search').value);
  pressChips();
}

function writeHash() {
  const params = new URLSearchParams();
  for (const prefix of state.prefixes) params.append('prefix', prefix);
  for (const host of state.hosts) params.append('host', host);
  if (state.action) params.set('action', state.action);
  if ($('search').value.trim()) params.set('q', $('search').value.trim());
  const hash = params.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
  history.replaceState(null, '', hash ? `#${hash}` : `${location.pathname}${location.search}`);
  updatePcapLink();
}

/* ------------------------------------------------------ download pcap */

// The capture of what the view filters on the server (prefixes, action; the
// search box filters the page only): the newest records, as many as one
// page may hold. GET /packet_logs.pcap takes /packet_logs' parameters.
const PCAP_LIMIT = 10000;

function pcapHref() {
  return `packet_logs.pcap?${link.query({ limit: PCAP_LIMIT })}`;
}

function updatePcapLink() {
  $('download-pcap').href = pcapHref();
}

// Without a token the link downloads by itself. With one, a link cannot
// send Authorization: the capture is fetched with it and saved as a Blob.
$('download-pcap').addEventListener('click', async (event) => {
  updatePcapLink();
  if (!link.token) return;
  event.preventDefault();
  const button = $('download-pcap');
  try {
    const res = await fetch(pcapHref(), {
      headers: { Authorization: `Bearer ${link.token}` },
      cache: 'no-store',
    });
    if (res.status === 401) {
      askToken('The server refused this token.');
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const disposition = res.headers.get('Content-Disposition') ?? '';
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'packet_logs.pcap';
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    button.title = `The download failed: ${error.message}`;
    $('announce').textContent = `The download failed: ${error.message}`;
  }
});

function pressChips() {
  for (const button of $('chips').querySelectorAll('.chip')) {
    const p = button.dataset.prefix;
    button.setAttribute('aria-pressed', String(p ? state.prefixes.has(p) : state.prefixes.size === 0));
  }
  for (const button of $('host-chips').querySelectorAll('.chip')) {
    const h = button.dataset.host;
    button.setAttribute('aria-pressed', String(h ? state.hosts.has(h) : state.hosts.size === 0));
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
  showCounts();
  link.refilter();
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

$('host-chips').addEventListener('click', (event) => {
  const chip = event.target.closest('.chip');
  if (!chip) return;
  const host = chip.dataset.host;
  if (!host) state.hosts.clear();
  else if (state.hosts.has(host)) state.hosts.delete(host);
  else state.hosts.add(host);
  pressChips();
  refilter();
});

const chipsByHost = new Map(); // Host -> button

// A view over a fleet (--from-nats) counts prefixes per host: with more
// than one, the table shows the router column and the page the router chips.
function renderHostChips(list) {
  const totals = new Map();
  let all = 0;
  for (const entry of list) {
    if (!entry.Host) continue;
    totals.set(entry.Host, (totals.get(entry.Host) ?? 0) + (Number(entry.Count) || 0));
    all += Number(entry.Count) || 0;
  }
  const fleet = totals.size > 1;
  $('log').classList.toggle('fleet', fleet);
  const nav = $('host-chips');
  nav.hidden = !fleet;
  nav.querySelector('.chip.all .count').textContent = all.toLocaleString();
  for (const [host, count] of [...totals].sort((a, b) => a[0].localeCompare(b[0]))) {
    let chip = chipsByHost.get(host);
    if (!chip) {
      chip = document.createElement('button');
      chip.type = 'button';
      chip.className = 'chip host';
      chip.dataset.host = host;
      chip.setAttribute('aria-pressed', String(state.hosts.has(host)));
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = host;
      const number = document.createElement('span');
      number.className = 'count';
      chip.append(name, number);
      chip.title = `records of router ${host}`;
      nav.append(chip);
      chipsByHost.set(host, chip);
    }
    chip.querySelector('.count').textContent = count.toLocaleString();
  }
}

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
    const list = await link.api('packet_logs/prefixes');
    state.pollFailures = 0;
    chart.add(Date.now(), list);
    renderChips(list);
    renderHostChips(list);
  } catch (err) {
    // The chart shows a gap. A stream can look open for minutes after the
    // server went away (no FIN on a dead link): two failed polls in a row
    // end it and start reconnecting.
    state.pollFailures = (state.pollFailures ?? 0) + 1;
    if (!(err instanceof Unauthorized) && state.pollFailures >= 2 &&
        (state.connection === 'live' || state.connection === 'polling')) {
      link.retryLater(new Error('the server stopped answering'));
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
  if (s.host) item('Router', s.host);
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
  if (state.connection === 'retry') link.connect();
});

readHash();
updatePcapLink();
showCounts();
link.connect();
pollPrefixes();
