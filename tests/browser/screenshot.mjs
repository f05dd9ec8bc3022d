#!/usr/bin/env node
// screenshot.mjs: makes the README's screenshot, docs/dashboard.png, from a
// realistic session. Builds a small network of three namespaces,
//
//   internet ns (eth0 203.0.113.1, 2001:db8:ffff::1; "public" hosts on lo,
//   all in the documentation ranges (RFC 5737, RFC 3849) so that no real
//   host's address appears: 198.51.100.53 DNS, 198.51.100.110 ... and
//   scanners in 192.0.2.0/24)
//      <-> router ns (wan0 203.0.113.2 | lan0 192.168.2.1; SPR's log rules,
//          packet_logs on 127.0.0.1:8080, Chromium)
//      <-> lan ns (eth0 192.168.2.23, .31, .42, fd00:2::23, ::31)
//
// then lets the LAN browse (DNS, HTTPS, QUIC, NTP, ping, IPv4 and IPv6, a
// few packets to private addresses upstream that drop:private stops) while
// scanners knock on the router's WAN ports (drop:input), and photographs
// the dashboard after a while. Run as root from the repo root:
//
//   node tests/browser/screenshot.mjs [--seconds 75] [--out docs/dashboard.png]
//
// Also writes light, dark and phone-width variants under tests/out/.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

import { Lab, REPO, screenshotPath, sh, sleep, unavailable, until } from './lab.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const SECONDS = Number(option('seconds', 75));
const OUT = path.resolve(option('out', path.join(REPO, 'docs', 'dashboard.png')));
const PORT = 8080;
const PY = '/usr/bin/python3';

// SPR's rules (DESIGN.md section 1) with WANIF=wan0, and the drops SPR has.
// lo is left out of lan:in: the browser's own HTTP to the server is not logged.
const SPR_RULES = `table inet filter {
  chain INPUT {
    type filter hook input priority 0; policy accept;
    iifname "wan0" tcp dport { 22, 23, 445, 3389, 5900, 8080 } log prefix "drop:input " group 1 drop
    iifname "wan0" log prefix "wan:in " group 0
    iifname != { "wan0", "lo" } log prefix "lan:in " group 0
  }
  chain FORWARD {
    type filter hook forward priority 0; policy accept;
    oifname "wan0" ip daddr { 10.0.0.0/8, 172.16.0.0/12 } log prefix "drop:private " group 1 drop
    oifname "wan0" log prefix "wan:out " group 0
    oifname != "wan0" log prefix "lan:out " group 0
  }
}
`;

const INTERNET_HOSTS4 = ['198.51.100.53', '198.51.100.110', '198.51.100.120', '198.51.100.130', '198.51.100.140',
  '198.51.100.180', '192.0.2.11', '192.0.2.66', '192.0.2.99', '198.51.100.7', '198.51.100.20'];
const INTERNET_HOSTS6 = ['2001:db8:100::53', '2001:db8:100::110', '2001:db8:100::120'];

// The internet: a DNS server (A and AAAA, TTL 300), HTTPS-ish and NTP-ish
// servers, answering whatever the LAN asks.
const INTERNET_SERVERS = `
import socket, struct, threading
NAMES = {
    "www.example.com": ("198.51.100.110", "2001:db8:100::110"),
    "git.example.org": ("198.51.100.120", "2001:db8:100::120"),
    "news.example.net": ("198.51.100.130", None),
    "time.example.net": ("198.51.100.140", None),
    "dns.example.net": ("198.51.100.53", "2001:db8:100::53"),
    "example.com": ("198.51.100.180", None),
}
def answer(q):
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    a4, a6 = NAMES.get(".".join(labels), (None, None))
    rdata = None
    if qtype == 1 and a4: rdata = socket.inet_pton(socket.AF_INET, a4)
    if qtype == 28 and a6: rdata = socket.inet_pton(socket.AF_INET6, a6)
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if rdata else 0, 0, 0)
    ans = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata if rdata else b""
    return head + question + ans
def dns(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM); s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(512)
        try: s.sendto(answer(q), peer)
        except Exception: pass
def ntp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 123))
    while True:
        q, peer = s.recvfrom(512); s.sendto(b"\\x24\\x02\\x03\\xe8" + bytes(44), peer)
def serve(conn):
    try:
        conn.settimeout(2); conn.recv(2048)
        conn.sendall(b"\\x16\\x03\\x03\\x00\\x5a\\x02\\x00\\x00\\x56\\x03\\x03" + bytes(86) + b"HTTP/1.1 200 OK\\r\\n\\r\\n")
    except Exception: pass
    conn.close()
def https(family):
    s = socket.socket(family, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 443)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
ts = [threading.Thread(target=dns, args=(socket.AF_INET, "198.51.100.53")),
      threading.Thread(target=dns, args=(socket.AF_INET6, "2001:db8:100::53")),
      threading.Thread(target=ntp), threading.Thread(target=https, args=(socket.AF_INET,)),
      threading.Thread(target=https, args=(socket.AF_INET6,))]
for t in ts: t.daemon = True; t.start()
for t in ts: t.join()
`;

// The LAN: three hosts browsing.
const LAN_TRAFFIC = (seconds) => `
import random, socket, struct, subprocess, time
random.seed(5)
END = time.time() + ${seconds}
HOSTS4 = ["192.168.2.23", "192.168.2.31", "192.168.2.42"]
HOSTS6 = ["fd00:2::23", "fd00:2::31"]
SITES = ["www.example.com", "git.example.org", "news.example.net", "time.example.net", "dns.example.net", "example.com"]
V6 = ["www.example.com", "git.example.org", "dns.example.net"]
def qname(n): return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\\0"
def resolve(name, src, qtype=1):
    fam = socket.AF_INET6 if qtype == 28 else socket.AF_INET
    server = ("2001:db8:100::53", 53) if qtype == 28 else ("198.51.100.53", 53)
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(0.5)
    s.sendto(struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack("!HH", qtype, 1), server)
    try:
        r = s.recv(512)
    except OSError:
        return None
    finally:
        s.close()
    n = 4 if qtype == 1 else 16
    return socket.inet_ntop(fam, r[-n:]) if struct.unpack("!H", r[6:8])[0] else None
def tcp(ip, src, port=443, data=b"\\x16\\x03\\x01\\x00\\xc8\\x01" + bytes(60)):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(0.6); s.bind((src, 0))
    try:
        s.connect((ip, port)); s.sendall(data); s.recv(2048)
    except OSError:
        pass
    s.close()
def udp(ip, src, port, data):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(0.3)
    s.sendto(data, (ip, port))
    try: s.recv(512)
    except OSError: pass
    s.close()
def ping(ip, src):
    subprocess.run(["ping", "-c", "1", "-W", "1", "-I", src, ip], capture_output=True)
while time.time() < END:
    src = random.choice(HOSTS4)
    r = random.random()
    if r < 0.14:
        src6 = random.choice(HOSTS6); ip = resolve(random.choice(V6), src6, 28)
        if ip: tcp(ip, src6)
    else:
        ip = resolve(random.choice(SITES), src) or "198.51.100.180"
        if r < 0.55: tcp(ip, src)
        elif r < 0.68: udp(ip, src, 443, b"\\xc3\\x00\\x00\\x00\\x01" + bytes(60))  # QUIC: unreachable comes back
        elif r < 0.74: udp("198.51.100.140", src, 123, b"\\x23" + bytes(47))
        elif r < 0.82: ping(ip, src)
        elif r < 0.87: udp("10.20.30.40", src, 5000, b"printer?")  # a private address upstream: dropped
        elif r < 0.93: tcp("192.168.2.1", src, 80, b"GET / HTTP/1.1\\r\\n\\r\\n")  # the router's own UI
        else: ping("192.168.2.1", src)
    time.sleep(random.uniform(0.02, 0.25))
`;

// The internet knocking: scans of the router's WAN in bursts, pings and
// WireGuard handshakes (allowed).
const SCANS = (seconds) => `
import random, socket, subprocess, time
random.seed(9)
START = time.time(); END = START + ${seconds}
SCANNERS = ["192.0.2.11", "192.0.2.66", "192.0.2.99"]
while time.time() < END:
    burst = int((time.time() - START) / 18) % 3 == 1
    src = random.choice(SCANNERS)
    s = socket.socket(); s.setblocking(False); s.bind((src, 0))
    try: s.connect(("203.0.113.2", random.choice([22, 23, 445, 3389, 5900, 8080])))
    except OSError: pass
    time.sleep(0.01); s.close()
    if random.random() < 0.15:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.51.100.20", 0))
        u.sendto(b"\\x01\\x00\\x00\\x00" + bytes(144), ("203.0.113.2", 51820)); u.close()
    if random.random() < 0.05:
        subprocess.run(["ping", "-c", "1", "-W", "1", "-I", "198.51.100.7", "203.0.113.2"], capture_output=True)
    time.sleep(random.uniform(0.02, 0.08) if burst else random.uniform(0.3, 0.9))
`;

function netns(name) {
  try {
    sh('ip', ['netns', 'del', name]);
  } catch {
    /* none left over */
  }
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

function ipIn(ns, ...argv) {
  return sh('ip', ['-n', ns, ...argv]);
}

function spawnIn(ns, program) {
  return spawn('ip', ['netns', 'exec', ns, PY, '-c', program], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main() {
  const why = unavailable();
  if (why) throw new Error(why);
  const router = new Lab({ name: `plshot${process.pid}`, rules: SPR_RULES });
  const internet = netns(`plshotw${process.pid}`);
  const lan = netns(`plshotl${process.pid}`);
  const children = [];
  let context;
  try {
    const R = router.ns;
    ipIn(R, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', internet);
    ipIn(R, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    ipIn(R, 'addr', 'add', '203.0.113.2/24', 'dev', 'wan0');
    ipIn(R, 'addr', 'add', '2001:db8:ffff::2/64', 'dev', 'wan0', 'nodad');
    ipIn(R, 'addr', 'add', '192.168.2.1/24', 'dev', 'lan0');
    ipIn(R, 'addr', 'add', 'fd00:2::1/64', 'dev', 'lan0', 'nodad');
    ipIn(R, 'link', 'set', 'wan0', 'up');
    ipIn(R, 'link', 'set', 'lan0', 'up');
    ipIn(R, 'route', 'add', 'default', 'via', '203.0.113.1');
    ipIn(R, '-6', 'route', 'add', 'default', 'via', '2001:db8:ffff::1');
    router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

    ipIn(internet, 'addr', 'add', '203.0.113.1/24', 'dev', 'eth0');
    ipIn(internet, 'addr', 'add', '2001:db8:ffff::1/64', 'dev', 'eth0', 'nodad');
    ipIn(internet, 'link', 'set', 'eth0', 'up');
    for (const a of INTERNET_HOSTS4) ipIn(internet, 'addr', 'add', `${a}/32`, 'dev', 'lo');
    for (const a of INTERNET_HOSTS6) ipIn(internet, 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad');
    ipIn(internet, 'route', 'add', '192.168.2.0/24', 'via', '203.0.113.2');
    ipIn(internet, '-6', 'route', 'add', 'fd00:2::/64', 'via', '2001:db8:ffff::2');

    for (const a of ['192.168.2.23/24', '192.168.2.31/24', '192.168.2.42/24']) ipIn(lan, 'addr', 'add', a, 'dev', 'eth0');
    for (const a of ['fd00:2::23/64', 'fd00:2::31/64']) ipIn(lan, 'addr', 'add', a, 'dev', 'eth0', 'nodad');
    ipIn(lan, 'link', 'set', 'eth0', 'up');
    ipIn(lan, 'route', 'add', 'default', 'via', '192.168.2.1');
    ipIn(lan, '-6', 'route', 'add', 'default', 'via', 'fd00:2::1');

    const url = await router.startServer({ port: PORT });
    children.push(spawnIn(internet, INTERNET_SERVERS));
    await sleep(500);

    context = await router.browser({ viewport: { width: 1440, height: 900 } });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${url}/`);
    await until(() => page.evaluate(() => window.packetLogs.state.connection !== 'connecting'), { what: 'the page' });

    console.log(`traffic for ${SECONDS} s…`);
    children.push(spawnIn(lan, LAN_TRAFFIC(SECONDS + 30)));
    children.push(spawnIn(internet, SCANS(SECONDS + 30)));
    await sleep(SECONDS * 1000); // photographed while the traffic goes on

    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: OUT });
    console.log(`wrote ${OUT}`);
    await page.screenshot({ path: screenshotPath('dashboard-light.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: screenshotPath('dashboard-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    const detail = await page.$('#rows tr.record:has(td.domain span:not(:empty))');
    if (detail) {
      await detail.click();
      await page.screenshot({ path: screenshotPath('dashboard-detail.png') });
      await page.keyboard.press('Escape');
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    await page.screenshot({ path: screenshotPath('dashboard-phone.png') });
    const counts = router.json(`${url}/packet_logs/prefixes`).map((p) => `${p.Prefix.trim()} ${p.Count}`);
    console.log(`prefixes: ${counts.join(', ')}`);
  } finally {
    await context?.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await router.close();
    for (const ns of [internet, lan]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
