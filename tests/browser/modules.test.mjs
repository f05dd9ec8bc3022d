// The dashboard's pure modules under node, without a browser or root: every
// file of web/ parses as a JavaScript module, record.js summarizes every
// record of the golden corpus (tests/corpus), hex.js dumps the bytes of its IP
// packets, chart.js turns prefix counts into rates.
//
//   node --test tests/browser/modules.test.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WEB = path.join(REPO, 'web');
const GOLDEN = path.join(REPO, 'tests', 'corpus', 'golden');

const { summarize, matches, endpoint, clockTime, protocolOf } = await import(path.join(WEB, 'record.js'));
const { base64Bytes, ipPacket, hexLines, hexDump } = await import(path.join(WEB, 'hex.js'));
const { RateChart, niceCeiling, formatRate } = await import(path.join(WEB, 'chart.js'));

test('every file of web/ that is JavaScript parses as a module', () => {
  for (const name of fs.readdirSync(WEB).filter((n) => n.endsWith('.js'))) {
    const res = spawnSync(process.execPath, ['--input-type=module', '--check'], {
      input: fs.readFileSync(path.join(WEB, name)),
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, `${name}: ${res.stderr}`);
  }
});

test('index.html loads only files that web/ has, nothing from elsewhere', () => {
  const html = fs.readFileSync(path.join(WEB, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
  assert.ok(refs.length >= 3);
  for (const ref of refs) {
    assert.doesNotMatch(ref, /^(https?:)?\/\//, `${ref} is fetched from elsewhere`);
    assert.ok(fs.existsSync(path.join(WEB, ref)), `${ref} is not in web/`);
  }
  for (const name of fs.readdirSync(WEB).filter((n) => n.endsWith('.js'))) {
    const source = fs.readFileSync(path.join(WEB, name), 'utf8');
    for (const m of source.matchAll(/from '([^']+)'/g)) {
      assert.ok(fs.existsSync(path.join(WEB, m[1])), `${name} imports ${m[1]}`);
    }
  }
});

test('endpoints: IPv4 with a colon, IPv6 in brackets, no port', () => {
  assert.equal(endpoint('10.0.0.1', 53), '10.0.0.1:53');
  assert.equal(endpoint('fd00::1', 53), '[fd00::1]:53');
  assert.equal(endpoint('fd00::1', undefined), 'fd00::1');
  assert.equal(endpoint('', 53), '');
});

test('clock time keeps the milliseconds of a nanosecond timestamp', () => {
  assert.equal(clockTime('2025-07-08T17:59:32.592885123Z', 'UTC'), '17:59:32.592');
  assert.equal(clockTime('2025-07-08T17:59:32Z', 'UTC'), '17:59:32.000');
  assert.equal(clockTime('2025-07-08T17:59:32.5Z', 'UTC'), '17:59:32.500');
});

test('protocols: TCP flags, DNS, ICMP types, other IP protocols', () => {
  assert.deepEqual(protocolOf({ TCP: { SYN: true, ACK: true } }), { name: 'TCP', detail: 'SYN ACK' });
  assert.deepEqual(protocolOf({ UDP: {}, DNS: {} }), { name: 'DNS', detail: 'UDP' });
  assert.deepEqual(protocolOf({ ICMPv4: { TypeCode: 8 << 8 } }), { name: 'ICMP', detail: 'echo request' });
  assert.deepEqual(protocolOf({ ICMPv6: { TypeCode: 135 << 8 } }), { name: 'ICMPv6', detail: 'neighbor solicit' });
  assert.deepEqual(protocolOf({ IP: { Protocol: 89 } }), { name: 'OSPF', detail: '' });
  assert.deepEqual(protocolOf({ IPv6: { NextHeader: 250 } }), { name: 'proto 250', detail: '' });
  assert.deepEqual(protocolOf({ Error: 'truncated' }), { name: '?', detail: '' });
  assert.deepEqual(protocolOf({ Error: 'not an IP packet: ethertype 0x0806 (ARP), 28 bytes' }), { name: 'ARP', detail: '0x0806' });
  assert.deepEqual(protocolOf({ Error: 'not an IP packet: ethertype 0x9000, 0 bytes' }), { name: '0x9000', detail: '' });
  const arp = summarize({ Ethernet: { SrcMAC: '02:00:00:00:00:01', DstMAC: 'ff:ff:ff:ff:ff:ff', HwType: 1 },
    Prefix: 'br:in ', Action: 'allowed', Timestamp: '2025-07-08T17:59:32Z', InDev: 'br0', OutDev: '', Seq: 1,
    Error: 'not an IP packet: ethertype 0x0806 (ARP), 28 bytes' });
  assert.equal(arp.src, '02:00:00:00:00:01');
  assert.equal(arp.dst, 'ff:ff:ff:ff:ff:ff');
  assert.equal(arp.proto, 'ARP');
});

test('summaries and the search box', () => {
  const rec = {
    UDP: { SrcPort: 5353, DstPort: 53 },
    IP: { SrcIP: '192.168.2.23', DstIP: '198.51.100.53' },
    DNS: { Questions: [{ Name: btoa('example.com'), Type: 1, Class: 1 }] },
    RecentDomainDst: 'one.one.one.one',
    Prefix: 'wan:out ',
    Action: 'allowed',
    Timestamp: '2025-07-08T17:59:32.5Z',
    InDev: 'lan0',
    OutDev: 'wan0',
    Seq: 7,
  };
  const s = summarize(rec);
  assert.equal(s.prefix, 'wan:out');
  assert.equal(s.src, '192.168.2.23:5353');
  assert.equal(s.dst, '198.51.100.53:53');
  assert.equal(s.domain, 'one.one.one.one');
  assert.equal(s.question, 'example.com');
  assert.ok(matches(s, '53'));
  assert.ok(matches(s, ':5353'));
  assert.ok(matches(s, 'dns wan0'));
  assert.ok(matches(s, 'ONE.ONE'));
  assert.ok(matches(s, 'example.com'));
  assert.ok(!matches(s, 'tcp'));
  assert.ok(!matches(s, '54'));
  assert.ok(matches(s, ''));
  // A record from the network cannot smuggle markup: the summary is text.
  const evil = summarize({ ...rec, RecentDomainDst: '<img src=x onerror=alert(1)>' });
  assert.equal(evil.domain, '<img src=x onerror=alert(1)>');
});

test('hex dump: offsets, two halves, ASCII', () => {
  const bytes = new Uint8Array([0x45, 0, 0, 0x23, ...Array.from('hello, world! 0123', (c) => c.charCodeAt(0))]);
  const dump = hexDump(bytes);
  assert.equal(dump.split('\n')[0], '0000  45 00 00 23 68 65 6c 6c  6f 2c 20 77 6f 72 6c 64  E..#hello, world');
  assert.equal(dump.split('\n')[1].slice(0, 6), '0010  ');
  assert.equal(hexLines(bytes, 8).length, 3);
  assert.deepEqual(base64Bytes('not base64!'), new Uint8Array(0));
  assert.deepEqual(base64Bytes(null), new Uint8Array(0));
});

test('every record of the golden corpus summarizes, and its IP bytes dump', () => {
  let records = 0;
  for (const name of fs.readdirSync(GOLDEN).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(GOLDEN, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line);
      if (rec.error) continue;
      records++;
      const s = summarize(rec);
      assert.ok(s.proto && s.proto !== '?', `${name}: a protocol`);
      assert.ok(s.src && s.dst, `${name}: addresses`);
      const packet = ipPacket(rec);
      assert.ok(packet, `${name}: an IP packet`);
      const version = packet.bytes[0] >> 4;
      assert.equal(version, packet.layer === 'IPv4' ? 4 : 6, `${name}: the IP version nibble`);
      assert.equal(packet.headerLength, base64Bytes((rec.IP ?? rec.IPv6).Contents).length);
      assert.ok(hexDump(packet.bytes).length > 0);
    }
  }
  assert.ok(records > 1000, `records in the corpus: ${records}`);
});

test('chart: rates from the differences of counts; a restart only sets a baseline', () => {
  const chart = Object.create(RateChart.prototype);
  Object.assign(chart, { samples: [], series: new Map(), last: null, allowedUsed: 0, blockedUsed: 0, windowMs: 300000 });
  chart.add(0, [{ Prefix: 'wan:in ', Action: 'allowed', Count: 10 }]);
  assert.equal(chart.samples.length, 0);
  chart.add(2000, [{ Prefix: 'wan:in ', Action: 'allowed', Count: 30 }, { Prefix: 'drop:input ', Action: 'blocked', Count: 4 }]);
  assert.equal(chart.samples[0].rates.get('wan:in'), 10);
  assert.equal(chart.samples[0].rates.get('drop:input'), 2);
  assert.equal(chart.series.get('drop:input').blocked, true);
  assert.notEqual(chart.series.get('drop:input').color, chart.series.get('wan:in').color);
  chart.add(4000, [{ Prefix: 'wan:in ', Action: 'allowed', Count: 3 }]);
  assert.equal(chart.samples.length, 1, 'the server restarted: no rate');
  chart.add(5000, [{ Prefix: 'wan:in ', Action: 'allowed', Count: 8 }]);
  assert.equal(chart.samples[1].rates.get('wan:in'), 5);
  assert.equal(niceCeiling(0), 4);
  assert.equal(niceCeiling(17), 20);
  assert.equal(niceCeiling(45), 60);
  assert.equal(niceCeiling(4.1), 8);
  assert.equal(niceCeiling(3900), 4000);
  assert.equal(formatRate(1234), '1.2k');
  assert.equal(formatRate(0.5), '0.5');
});

test('a fleet: the router of a record (Host) is shown and searched; host= in queries', async () => {
  const rec = { IP: { SrcIP: '10.0.0.2', DstIP: '10.0.0.1' }, Prefix: 'wan:in ', Action: 'allowed',
    Timestamp: '2026-11-29T08:00:00Z', InDev: 'wan0', OutDev: '', Seq: 7, Host: 'router-two' };
  const s = summarize(rec);
  assert.equal(s.host, 'router-two');
  assert.ok(matches(s, 'router-two'));
  assert.equal(summarize({ ...rec, Host: undefined }).host, '');
  assert.ok(!matches(summarize({ ...rec, Host: undefined }), 'router-two'));
  const { filterQuery } = await import(path.join(WEB, 'connection.js'));
  assert.equal(filterQuery({ prefixes: new Set(['wan:in']), hosts: new Set(['r1', 'r2']), action: '' }, { limit: 5 }),
    'prefix=wan%3Ain&host=r1&host=r2&limit=5');
  assert.equal(filterQuery({ prefixes: new Set(), action: 'blocked' }), 'action=blocked');
});
