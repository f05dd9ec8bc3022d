// The dashboard in a real browser against the real server: Chromium and
// packet_logs in one network namespace, nftables log rules, NFLOG, real
// traffic. Run as root from the repo root:
//
//   node --test tests/browser/
//
// Screenshots go to tests/out/ (not committed) for a person to look at.
// See lab.mjs for the environment variables (binary, browser, web root).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Lab, screenshotPath, sleep, unavailable, until } from './lab.mjs';
import fs from 'node:fs';

/** A pcap file's packets; asserts libpcap's magic (this host's byte order,
 * microseconds) and link type NFLOG (239). Each packet: its NFLOG prefix. */
function readPcap(bytes) {
  assert.ok(bytes.length >= 24, `a pcap file of ${bytes.length} bytes`);
  assert.equal(bytes.readUInt32LE(0), 0xa1b2c3d4, 'the pcap magic');
  assert.equal(bytes.readUInt32LE(20), 239, 'link type NFLOG');
  const packets = [];
  for (let off = 24; off < bytes.length;) {
    const caplen = bytes.readUInt32LE(off + 8);
    const frame = bytes.subarray(off + 16, off + 16 + caplen);
    let prefix = '';
    for (let t = 4; t + 4 <= frame.length;) {
      const len = frame.readUInt16LE(t);
      if (len < 4) break;
      if ((frame.readUInt16LE(t + 2) & 0x3fff) === 10) prefix = frame.subarray(t + 4, t + len - 1).toString();
      t += (len + 3) & ~3;
    }
    packets.push(prefix);
    off += 16 + caplen;
  }
  return packets;
}

const skip = unavailable();
const PORT = 18080;

describe('dashboard', { skip: skip ?? false }, () => {
  let lab;
  let url;
  let context;
  let page;
  const consoleErrors = [];

  /** The Seqs of the record rows, top to bottom (all, or only the visible ones). */
  const rowSeqs = (visibleOnly = false) =>
    page.$$eval(`#rows tr.record${visibleOnly ? ':not([hidden])' : ''}`, (rows) => rows.map((r) => Number(r.dataset.seq)));
  const text = (selector) => page.textContent(selector);
  const rest = (query = '') => lab.json(`${url}/packet_logs${query}`);
  // A test that failed half-way may leave the detail open: the next starts clean.
  const closeDialogs = () => page.evaluate(() => document.querySelectorAll('dialog[open]').forEach((d) => d.close()));

  before(async () => {
    lab = new Lab();
    url = await lab.startServer({ port: PORT });
    lab.traffic({ udp: 24, udp6: 4, tcp: 6 });
    await until(() => rest('?limit=100').length >= 34, { what: '34 records over REST' });
    ({ context, page } = await lab.openPage(`${url}/`, consoleErrors));
  });

  after(async () => {
    await context?.close();
    await lab?.close();
  });

  test('the table fills with the records REST holds, newest first', async () => {
    const records = rest('?limit=200');
    const seqs = records.map((r) => r.Seq);
    await until(async () => JSON.stringify(await rowSeqs()) === JSON.stringify(seqs), { what: 'the rows of REST' });

    const first = await page.$eval('#rows tr.record', (tr) => [...tr.cells].map((td) => td.textContent));
    const newest = records[0];
    assert.equal(first[2], newest.Prefix.trim());
    assert.match(first[3], newest.Action === 'blocked' ? /blocked/ : /allowed/);

    // One router: no router chips, no router column (a fleet's only).
    assert.ok(await page.isHidden('#host-chips'), 'the router chips show for one router');
    assert.ok(await page.isHidden('#log th.host'), 'the router column shows for one router');

    // Allowed and blocked differ by more than color: a word and a mark.
    const blocked = await page.$eval('#rows tr.record.blocked', (tr) => tr.querySelector('.action').textContent);
    assert.equal(blocked, '✕blocked');
    const allowed = await page.$eval('#rows tr.record.allowed', (tr) => tr.querySelector('.action').textContent);
    assert.equal(allowed, '✓allowed');

    // Source and destination with ports, IPv4 and IPv6; interfaces.
    const udp = records.find((r) => r.IP && r.UDP);
    const udpRow = await page.$eval(`#rows tr[data-seq="${udp.Seq}"]`, (tr) => [...tr.cells].map((td) => td.textContent));
    assert.equal(udpRow[1], 'UDP');
    assert.equal(udpRow[4], `127.0.0.1:${udp.UDP.SrcPort}`);
    assert.equal(udpRow[5], '127.0.0.1:9999');
    assert.equal(udpRow[6], '·→lo');
    const udp6 = records.find((r) => r.IPv6 && r.UDP);
    const udp6Row = await page.$eval(`#rows tr[data-seq="${udp6.Seq}"]`, (tr) => [...tr.cells].map((td) => td.textContent));
    assert.equal(udp6Row[5], '[::1]:9999');
    const tcp = records.find((r) => r.TCP);
    const tcpRow = await page.$eval(`#rows tr[data-seq="${tcp.Seq}"]`, (tr) => [...tr.cells].map((td) => td.textContent));
    assert.equal(tcpRow[1], 'TCPSYN');
    assert.equal(tcpRow[2], 'drop:input');
    await page.screenshot({ path: screenshotPath('table.png') });
  });

  test('the stream goes live and new records appear at the top', async () => {
    await until(() => page.evaluate(() => window.packetLogs.state.connection === 'live'), { what: 'live' });
    assert.equal(await text('#status'), 'live');
    lab.traffic({ udp: 3, tag: 'live' });
    const newest = await until(() => {
      const r = rest('?limit=1')[0];
      return r.UDP && atob(r.UDP.Payload) === 'live 2' && r;
    }, { what: 'the live records over REST' });
    await until(async () => (await rowSeqs())[0] === newest.Seq, { what: 'the live record on top' });
    const seqs = await rowSeqs();
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicate rows');
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
  });

  test('a chip filters the table to its prefix', async () => {
    await closeDialogs();
    await until(() => page.$('#chips .chip[data-prefix="drop:input"]'), { what: 'the drop:input chip' });
    const chip = page.locator('#chips .chip[data-prefix="drop:input"]');
    assert.match(await chip.textContent(), /drop:input\s*6/);
    await chip.click();
    assert.equal(await chip.getAttribute('aria-pressed'), 'true');
    const drops = rest('?prefix=drop:input').map((r) => r.Seq);
    await until(async () => JSON.stringify(await rowSeqs()) === JSON.stringify(drops), { what: 'only drop:input rows' });
    const prefixes = await page.$$eval('#rows tr.record td.prefix', (tds) => [...new Set(tds.map((td) => td.textContent))]);
    assert.deepEqual(prefixes, ['drop:input']);
    assert.equal(await page.evaluate(() => location.hash), '#prefix=drop:input');
    await page.screenshot({ path: screenshotPath('chip.png') });

    // The view is in the address: a bookmark opens it again.
    const other = await context.newPage();
    await other.goto(`${url}/#prefix=drop:input&q=syn`);
    await until(async () => JSON.stringify(await other.$$eval('#rows tr.record:not([hidden])', (rows) => rows.map((r) => Number(r.dataset.seq)))) === JSON.stringify(drops), { what: 'the bookmarked view' });
    assert.equal(await other.getAttribute('#chips .chip.all', 'aria-pressed'), 'false');
    assert.equal(await other.inputValue('#search'), 'syn');
    await other.close();

    await page.click('#chips .chip.all');
    assert.equal(await chip.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.evaluate(() => location.hash), '');
    const all = rest('?limit=200').map((r) => r.Seq);
    await until(async () => JSON.stringify(await rowSeqs()) === JSON.stringify(all), { what: 'every row back' });
  });

  test('Download pcap saves the capture of the filtered view', async () => {
    await closeDialogs();
    await page.click('#chips .chip[data-prefix="drop:input"]');
    const href = await page.getAttribute('#download-pcap', 'href');
    assert.equal(href, 'packet_logs.pcap?prefix=drop%3Ainput&limit=10000');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-pcap')]);
    assert.match(download.suggestedFilename(), /^packet_logs-\d{8}T\d{6}Z\.pcap$/);
    const packets = readPcap(fs.readFileSync(await download.path()));
    assert.equal(packets.length, rest('?prefix=drop:input&limit=10000').length);
    assert.ok(packets.length >= 6);
    await page.click('#chips .chip.all');
    assert.equal(await page.getAttribute('#download-pcap', 'href'), 'packet_logs.pcap?limit=10000');
  });

  test('the search box filters the rows on the page', async () => {
    await closeDialogs();
    await page.fill('#search', '9998');
    const tcp = rest('?proto=tcp').map((r) => r.Seq);
    await until(async () => JSON.stringify(await rowSeqs(true)) === JSON.stringify(tcp), { what: 'only tcp rows' });
    assert.match(await text('#rows-info'), new RegExp(`Showing ${tcp.length} of \\d+ rows`));

    await page.fill('#search', '::1');
    const v6 = rest('?limit=200').filter((r) => r.IPv6).map((r) => r.Seq);
    await until(async () => JSON.stringify(await rowSeqs(true)) === JSON.stringify(v6), { what: 'only IPv6 rows' });

    await page.fill('#search', 'no such thing');
    await until(async () => (await rowSeqs(true)).length === 0, { what: 'no rows' });
    assert.match(await text('#empty'), /No row on the page matches/);

    await page.fill('#search', '');
    await until(async () => (await rowSeqs(true)).length === (await rowSeqs()).length, { what: 'every row' });
  });

  test('pause holds new rows back and resume shows them', async () => {
    await closeDialogs();
    const before = await rowSeqs();
    await page.click('#pause');
    assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
    assert.match(await text('#pause'), /Resume/);
    lab.traffic({ udp: 5, tag: 'paused' });
    await until(async () => (await text('#paused-info')) === 'paused — 5 new', { what: '"paused — 5 new"' });
    await sleep(500);
    assert.deepEqual(await rowSeqs(), before, 'no rows added while paused');
    await page.screenshot({ path: screenshotPath('paused.png') });

    await page.click('#pause');
    const newest = rest('?limit=5').map((r) => r.Seq);
    await until(async () => JSON.stringify((await rowSeqs()).slice(0, 5)) === JSON.stringify(newest), { what: 'the held rows' });
    assert.deepEqual((await rowSeqs()).slice(5), before);
    assert.equal(await page.isHidden('#paused-info'), true);
  });

  test('the detail view shows the whole record and its bytes in hex', async () => {
    await closeDialogs();
    const record = rest('?proto=udp&src=127.0.0.1&limit=1')[0];
    const row = page.locator(`#rows tr[data-seq="${record.Seq}"]`);
    await row.focus();
    await page.keyboard.press('Enter');
    await until(() => page.$eval('#detail', (d) => d.open), { what: 'the detail dialog' });
    const json = JSON.parse(await text('#detail-json'));
    assert.deepEqual(json, record);
    const hex = await text('#detail-hex');
    const bytes = Buffer.concat([Buffer.from(record.IP.Contents, 'base64'), Buffer.from(record.IP.Payload, 'base64')]);
    assert.match(hex, /^0000 {2}45 00 /, 'an IPv4 header first');
    assert.ok(hex.includes(bytes.subarray(8, 16).toString('hex').match(/../g).join(' ')), 'the header bytes');
    const ascii = (await page.$$eval('#detail-hex .ascii', (els) => els.map((e) => e.textContent))).join('');
    assert.ok(ascii.endsWith(atob(record.UDP.Payload)), `the payload as ASCII: ${ascii}`);
    assert.match(await text('#hex-title'), new RegExp(`IPv4 packet, ${bytes.length} bytes \\(header 20`));
    await page.screenshot({ path: screenshotPath('detail.png') });

    await page.keyboard.press('Escape');
    await until(() => page.$eval('#detail', (d) => !d.open), { what: 'the dialog to close' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.seq), String(record.Seq), 'focus back on the row');

    // Rows are reachable by keyboard: arrows move, Enter opens. The row may
    // be the last one shown (filters of earlier tests, new rows): then up.
    const neighbours = await page.evaluate((seq) => {
      const rows = [...document.querySelectorAll('#rows tr.record')].filter((r) => !r.hidden);
      const at = rows.findIndex((r) => r.dataset.seq === seq);
      return { below: rows[at + 1]?.dataset.seq ?? null, above: rows[at - 1]?.dataset.seq ?? null };
    }, String(record.Seq));
    await page.keyboard.press(neighbours.below ? 'ArrowDown' : 'ArrowUp');
    const next = await page.evaluate(() => document.activeElement.dataset.seq);
    assert.equal(next, neighbours.below ?? neighbours.above, 'the arrow moved to the next row');
    await page.keyboard.press('Enter');
    await until(() => page.$eval('#detail', (d) => d.open), { what: 'the detail of the next row' });
    assert.equal(JSON.parse(await text('#detail-json')).Seq, Number(next));
    await page.keyboard.press('Escape');
  });

  test('the detail of an IPv6 record dumps the IPv6 packet', async () => {
    await closeDialogs();
    const record = rest('?ip=::1&limit=1')[0];
    await page.click(`#rows tr[data-seq="${record.Seq}"] td.time`);
    await until(() => page.$eval('#detail', (d) => d.open), { what: 'the detail dialog' });
    const bytes = Buffer.concat([Buffer.from(record.IPv6.Contents, 'base64'), Buffer.from(record.IPv6.Payload, 'base64')]);
    assert.match(await text('#hex-title'), new RegExp(`IPv6 packet, ${bytes.length} bytes \\(header 40`));
    assert.match(await text('#detail-hex'), /^0000 {2}6/);
    assert.equal(await text('#detail-title'), `UDP [::1]:${record.UDP.SrcPort} → [::1]:9999`);
    await page.click('#detail-close');
    await until(() => page.$eval('#detail', (d) => !d.open), { what: 'the dialog to close' });
  });

  test('chips, the pause button and the rows are reachable with Tab', async () => {
    await closeDialogs();
    await page.focus('#search');
    const reached = new Set();
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => {
        const el = document.activeElement;
        return el.id || el.className.split(' ')[0] || el.tagName;
      }));
    }
    assert.ok(reached.has('pause'), `pause reached: ${[...reached]}`);
    assert.ok(reached.has('chip'), `chips reached: ${[...reached]}`);
    assert.ok(reached.has('record'), `a row reached: ${[...reached]}`);
  });

  test('the chart draws a line per prefix', async () => {
    await closeDialogs();
    await lab.trafficInBackground({ rate: 25, seconds: 7 });
    const color = await until(() => page.evaluate(() => {
      const { chart } = window.packetLogs;
      const rate = chart.samples.at(-1)?.rates.get('wan:in');
      return rate > 0 && chart.series.get('wan:in').color;
    }), { what: 'a rate for wan:in', timeout: 10000 });
    const pixels = await page.evaluate((hex) => {
      const canvas = document.getElementById('chart');
      const ctx = canvas.getContext('2d');
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 200 && want.every((v, k) => Math.abs(data[i + k] - v) < 12)) n++;
      }
      return n;
    }, color);
    assert.ok(pixels > 20, `pixels of the wan:in line: ${pixels}`);
    const legend = await page.$$eval('#legend li .name', (els) => els.map((e) => e.textContent));
    assert.deepEqual(legend.sort(), ['drop:input', 'wan:in']);
    await page.locator('.overview').screenshot({ path: screenshotPath('chart.png') });
  });

  test('scrolled down, new rows do not move what is being read', async () => {
    await closeDialogs();
    const base = rest('?limit=1')[0].Seq;
    lab.traffic({ udp: 60 });
    const newest = await until(() => {
      const r = rest('?limit=1')[0];
      return r.Seq >= base + 60 && r.Seq;
    }, { what: 'the records' });
    await until(async () => (await rowSeqs())[0] === newest, { what: 'enough rows to scroll' });
    await page.setViewportSize({ width: 1360, height: 600 });
    await page.evaluate(() => window.scrollTo(0, 1200));
    await sleep(300);
    const anchor = await page.evaluate(() => {
      const row = window.packetLogs.table.anchorRow();
      return { seq: row.tr.dataset.seq, top: row.tr.getBoundingClientRect().top };
    });
    lab.traffic({ udp: 7, tag: 'above' });
    await until(async () => (await text('#new-rows')).includes('7 new'), { what: '"7 new"' });
    const moved = await page.evaluate((seq) => document.querySelector(`#rows tr[data-seq="${seq}"]`).getBoundingClientRect().top, anchor.seq);
    assert.ok(Math.abs(moved - anchor.top) < 2, `the row stayed: ${anchor.top} -> ${moved}`);
    await page.screenshot({ path: screenshotPath('new-rows.png') });
    await page.click('#new-rows');
    await until(() => page.isHidden('#new-rows'), { what: 'the "new" button to go' });
    const top = await rowSeqs();
    assert.equal(await page.evaluate(() => document.activeElement.dataset.seq), String(top[0]));
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  test('a phone-width window shows rows as cards without scrolling sideways', async () => {
    await closeDialogs();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scroll (${overflow} px too wide)`);
    await page.screenshot({ path: screenshotPath('narrow.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  test('dark mode follows the system', async () => {
    await closeDialogs();
    await page.emulateMedia({ colorScheme: 'dark' });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `a dark background: ${background}`);
    await page.screenshot({ path: screenshotPath('dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('a page opened while records flow has them all: no gap between history and stream', async () => {
    const flowing = lab.trafficInBackground({ rate: 100, seconds: 4, tag: 'flow' });
    await sleep(1000);
    const other = await context.newPage();
    await other.goto(`${url}/`);
    await flowing;
    const newest = rest('?limit=1')[0].Seq;
    const seqs = () => other.$$eval('#rows tr.record', (rows) => rows.map((r) => Number(r.dataset.seq)));
    await until(async () => (await seqs())[0] === newest, { what: 'the last record of the flow' });
    const shown = await seqs();
    assert.ok(shown.length > 250, `history and stream: ${shown.length} rows`);
    assert.deepEqual(shown, rest(`?limit=${shown.length}`).map((r) => r.Seq));
    await other.close();
  });

  test('after the server restarts the page reconnects and continues', async () => {
    await closeDialogs();
    await lab.stopServer(PORT);
    await until(async () => /^reconnecting in \d+ s…$/.test(await text('#status')), { what: '"reconnecting in N s…"' });
    await page.screenshot({ path: screenshotPath('reconnecting.png') });
    await sleep(1500);
    await lab.startServer({ port: PORT });
    lab.traffic({ udp: 3, tag: 'restarted' });
    await until(async () => (await text('#status')) === 'live', { what: 'live again', timeout: 20000 });
    const fresh = rest('?limit=3').map((r) => r.Seq);
    await until(async () => JSON.stringify((await rowSeqs()).slice(0, 3)) === JSON.stringify(fresh), { what: 'the new records' });
    assert.match(await text('#rows tr.marker'), /server restarted/);
    lab.traffic({ udp: 2, tag: 'streamed' });
    const streamed = await until(() => {
      const r = rest('?limit=2');
      return r.length === 2 && atob(r[0].UDP.Payload) === 'streamed 1' && r.map((x) => x.Seq);
    }, { what: 'streamed records over REST' });
    await until(async () => JSON.stringify((await rowSeqs()).slice(0, 2)) === JSON.stringify(streamed), { what: 'streamed rows' });
    await page.screenshot({ path: screenshotPath('restarted.png') });
  });

  test('a {"Dropped": N} message shows as a row saying so', async () => {
    // The server sends it to a client that fell behind the history; a
    // browser that keeps up never gets one, so the page's socket is given one.
    const other = await context.newPage();
    await other.addInitScript(() => {
      const Real = window.WebSocket;
      window.WebSocket = class extends Real {
        constructor(...args) {
          super(...args);
          this.addEventListener('open', () => setTimeout(() => {
            this.onmessage?.(new MessageEvent('message', { data: '{"Dropped":1234}' }));
          }, 300));
        }
      };
    });
    await other.goto(`${url}/`);
    await until(async () => /1,234 records not shown/.test(await other.textContent('#rows').catch(() => '')),
      { what: 'the dropped marker' });
    await other.close();
  });

  test('without WebSockets (a proxy that does not pass them) the page polls REST', async () => {
    const other = await context.newPage();
    await other.addInitScript(() => {
      window.WebSocket = class {
        constructor() {
          setTimeout(() => this.onclose?.({ code: 1006 }), 10);
        }
        close() {}
      };
    });
    await other.goto(`${url}/`);
    await until(async () => (await other.textContent('#status')) === 'live (polling: stream unavailable)', { what: 'polling' });
    lab.traffic({ udp: 2, tag: 'polled' });
    const newest = await until(() => {
      const r = rest('?limit=1')[0];
      return atob(r.UDP?.Payload ?? '') === 'polled 1' && r.Seq;
    }, { what: 'the polled records over REST' });
    await until(async () => Number(await other.$eval('#rows tr.record', (tr) => tr.dataset.seq)) === newest,
      { what: 'the polled record on top' });
    await other.close();
  });

  test('the page logged no errors', () => {
    // A refused connection while the server is down is the browser's own
    // report of the reconnect attempts, not a fault of the page.
    const faults = consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket connection to .* failed/.test(e));
    assert.deepEqual(faults, []);
  });
});

describe('dashboard with a token', { skip: skip ?? false }, () => {
  const TOKEN = 'test-token-0123456789';
  const ADDRESS = '10.77.0.1';
  let lab;
  let url;
  let context;

  before(async () => {
    lab = new Lab({ name: `plwebt${process.pid}` });
    lab.exec('ip', ['addr', 'add', `${ADDRESS}/32`, 'dev', 'lo']);
    url = await lab.startServer({ port: 18081, listen: `${ADDRESS}:18081`, args: ['--token', TOKEN] });
    lab.traffic({ udp: 5 });
    context = await lab.browser();
  });

  after(async () => {
    await context?.close();
    await lab?.close();
  });

  test('the page asks for the token once and keeps it for the tab', async () => {
    assert.match(lab.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}/packet_logs`]), /401/);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${url}/`);
    await until(() => page.$eval('#token-dialog', (d) => d.open), { what: 'the token form' });
    assert.equal(await page.textContent('#status'), 'token needed');
    await page.screenshot({ path: screenshotPath('token.png') });

    await page.fill('#token-input', 'wrong');
    await page.keyboard.press('Enter');
    await until(() => page.isVisible('#token-error'), { what: 'a refusal' });
    assert.match(await page.textContent('#token-error'), /refused/);

    await page.fill('#token-input', TOKEN);
    await page.keyboard.press('Enter');
    await until(async () => (await page.$$('#rows tr.record')).length === 5, { what: 'the rows' });
    await until(async () => (await page.textContent('#status')) === 'live', { what: 'the stream with the token' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('packet_logs.token')), TOKEN);

    lab.traffic({ udp: 1, tag: 'tokened' });
    await until(async () => (await page.$$('#rows tr.record')).length === 6, { what: 'a streamed row' });

    await page.reload();
    await until(async () => (await page.$$('#rows tr.record')).length === 6, { what: 'the rows after a reload' });
    assert.equal(await page.$eval('#token-dialog', (d) => d.open), false, 'not asked again');

    // Download pcap sends the token (fetch with Authorization, saved as a Blob)
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-pcap')]);
    assert.match(download.suggestedFilename(), /^packet_logs-\d{8}T\d{6}Z\.pcap$/);
    const packets = readPcap(fs.readFileSync(await download.path()));
    assert.equal(packets.length, 6);
    await page.close();
  });

  test('a token that cannot be a subprotocol goes as the first message', async () => {
    const odd = 'not/a=subprotocol';
    await lab.stopServer(18081); // one process binds the NFLOG groups of a namespace
    const oddUrl = await lab.startServer({ port: 18082, listen: `${ADDRESS}:18082`, args: ['--token', odd] });
    const page = await context.newPage();
    await page.goto(`${oddUrl}/`);
    await until(() => page.$eval('#token-dialog', (d) => d.open), { what: 'the token form' });
    await page.fill('#token-input', odd);
    await page.keyboard.press('Enter');
    await until(async () => (await page.textContent('#status')) === 'live', { what: 'the stream with the token' });
    const before = (await page.$$('#rows tr.record')).length;
    lab.traffic({ udp: 1, tag: 'first-message' });
    await until(async () => (await page.$$('#rows tr.record')).length === before + 1, { what: 'a streamed row' });
    await page.close();
  });
});
