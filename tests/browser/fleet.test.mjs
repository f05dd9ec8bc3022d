// The dashboard over a fleet (issue 10) in a real browser: one nats-server
// (Debian's) with JetStream, two packet_logs "routers" publishing to it
// (--nats, each its own --host-name, NFLOG group and log rule, real
// traffic), and a --from-nats aggregator whose dashboard Chromium opens.
// All of it in one network namespace, on its loopback. Run as root from
// the repo root:
//
//   node --test tests/browser/
//
// Skipped (with the reason) without root, the binary, Chromium or
// nats-server. See lab.mjs for the environment variables.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Lab, screenshotPath, unavailable, until } from './lab.mjs';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p));
const skip = unavailable() ?? (NATS_SERVER ? null : 'no nats-server: apt-get install nats-server (scripts/install-deps.sh --test)');

const NATS_PORT = 14222;
const AGGREGATOR = 18090;
// Two routers, the same prefix (so that only the Host tells them apart),
// each its own port, NFLOG group and packet_logs.
const ROUTERS = [
  { name: 'router-a', port: 18081, group: 0, udp: 9999, packets: 5 },
  { name: 'router-b', port: 18082, group: 2, udp: 9997, packets: 3 },
];
const RULES = `table inet t {
  chain o {
    type filter hook output priority 0;
${ROUTERS.map((r) => `    udp dport ${r.udp} log prefix "wan:in " group ${r.group}`).join('\n')}
  }
}
`;

describe('dashboard over a fleet (--from-nats)', { skip: skip ?? false }, () => {
  let lab;
  let nats;
  let url;
  let context;
  let page;
  const consoleErrors = [];

  const rest = (query = '') => lab.json(`${url}/packet_logs${query}`);
  /** The router cells of the record rows, top to bottom. */
  const hostCells = () => page.$$eval('#rows tr.record td.host', (tds) => tds.map((td) => td.textContent));
  /** The router chips: [name, count text, aria-pressed] of each but "All routers". */
  const chips = () => page.$$eval('#host-chips .chip.host', (bs) =>
    bs.map((b) => [b.querySelector('.name').textContent, b.querySelector('.count').textContent, b.getAttribute('aria-pressed')]));

  /** UDP datagrams to router r's logged port ("<tag> i"). */
  const send = (r, count, tag) => lab.python(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${count}):
    s.sendto(b"${tag} %d" % i, ("127.0.0.1", ${r.udp}))
`);

  before(async () => {
    lab = new Lab({ rules: RULES, name: `plfleet${process.pid}` });
    const conf = path.join(lab.dir, 'nats.conf');
    fs.writeFileSync(conf, `listen: "127.0.0.1:${NATS_PORT}"\njetstream { store_dir: "${lab.dir}/js" }\n`);
    let natsLog = '';
    nats = spawn('ip', ['netns', 'exec', lab.ns, NATS_SERVER, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    nats.stdout.on('data', (c) => { natsLog += c; });
    nats.stderr.on('data', (c) => { natsLog += c; });
    await until(() => {
      if (nats.exitCode !== null) throw new Error(`nats-server exited (${nats.exitCode}): ${natsLog}`);
      return /Server is ready/.test(natsLog);
    }, { timeout: 20000, what: 'nats-server' });

    const natsUrl = `nats://127.0.0.1:${NATS_PORT}`;
    for (const r of ROUTERS) {
      await lab.startServer({
        port: r.port,
        args: ['--group', `${r.group}:allowed`, '--nats', natsUrl, '--host-name', r.name],
      });
    }
    url = await lab.startServer({ port: AGGREGATOR, args: ['--from-nats', natsUrl] });
    for (const r of ROUTERS) send(r, r.packets, r.name);
    const total = ROUTERS.reduce((sum, r) => sum + r.packets, 0);
    await until(() => rest('?limit=100').length === total, { timeout: 20000, what: `${total} records in the aggregator` });

    ({ context, page } = await lab.openPage(`${url}/`, consoleErrors));
  });

  after(async () => {
    await context?.close();
    if (nats && nats.exitCode === null) {
      const exited = new Promise((resolve) => nats.once('exit', resolve));
      nats.kill('SIGKILL');
      await exited;
    }
    await lab?.close(); // the servers, the namespace, the store
  });

  test('the router column and the router chips show both routers', async () => {
    // the aggregator's records carry each router's Host
    const records = rest('?limit=100');
    for (const r of ROUTERS) {
      assert.equal(records.filter((rec) => rec.Host === r.name).length, r.packets, `records of ${r.name}`);
    }
    await until(async () => (await hostCells()).length === records.length, { what: 'a row per record' });
    assert.ok(await page.isVisible('#log th.host'), 'the router column is shown');
    const cells = await hostCells();
    assert.deepEqual(cells, records.map((rec) => rec.Host), 'each row its router, as REST has it');
    assert.deepEqual([...new Set(cells)].sort(), ROUTERS.map((r) => r.name));

    assert.ok(await page.isVisible('#host-chips'), 'the router chips are shown');
    await until(async () => (await chips()).length === ROUTERS.length, { what: 'a chip per router' });
    assert.deepEqual(await chips(), ROUTERS.map((r) => [r.name, String(r.packets), 'false']));
    assert.equal(await page.getAttribute('#host-chips .chip.all', 'aria-pressed'), 'true');
    await page.screenshot({ path: screenshotPath('fleet.png') });
  });

  test('a router chip filters the table to that router, live records included', async () => {
    const [a, b] = ROUTERS;
    await page.click(`#host-chips .chip[data-host="${b.name}"]`);
    await until(async () => {
      const cells = await hostCells();
      return cells.length === b.packets && cells.every((h) => h === b.name);
    }, { what: `only the rows of ${b.name}` });
    assert.equal(await page.getAttribute(`#host-chips .chip[data-host="${b.name}"]`, 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute('#host-chips .chip.all', 'aria-pressed'), 'false');
    assert.match(await page.evaluate(() => location.hash), new RegExp(`host=${b.name}`));
    const seqs = await page.$$eval('#rows tr.record', (rows) => rows.map((r) => Number(r.dataset.seq)));
    assert.deepEqual(seqs, rest(`?host=${b.name}&limit=100`).map((rec) => rec.Seq), 'the rows REST gives for host=');

    // live: the filtered router's new records come in, the other's do not
    await until(() => page.evaluate(() => window.packetLogs.state.connection === 'live'), { what: 'live' });
    send(a, 2, 'live-a');
    send(b, 2, 'live-b');
    const total = ROUTERS.reduce((sum, r) => sum + r.packets, 0) + 4;
    await until(() => rest('?limit=100').length === total, { timeout: 20000, what: 'the live records in the aggregator' });
    await until(async () => (await hostCells()).length === b.packets + 2, { what: `the live rows of ${b.name}` });
    assert.ok((await hostCells()).every((h) => h === b.name), `only ${b.name} while its chip is pressed`);

    // "All routers" shows every router again
    await page.click('#host-chips .chip.all');
    await until(async () => (await hostCells()).length === total, { what: 'every row again' });
    assert.deepEqual([...new Set(await hostCells())].sort(), ROUTERS.map((r) => r.name));
  });

  test('no error in the console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
