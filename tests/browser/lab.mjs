// lab.mjs: a network namespace with nftables log rules, the real
// packet_logs binary in it, real traffic, and Debian's Chromium inside the
// same namespace (driven by playwright-core) for the dashboard's tests and
// the README screenshot. Needs root (ip netns, nft, NFLOG).
//
//   PACKET_LOGS_BINARY   the server (default: build/packet_logs of this repo)
//   PACKET_LOGS_WEB_ROOT serve web/ from a folder instead of the built-in copy
//   CHROMIUM             the browser (default: /usr/bin/chromium)
//   PLAYWRIGHT_CORE      where playwright-core is, when not in node_modules

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = path.join(REPO, 'tests', 'out');
export const BINARY = process.env.PACKET_LOGS_BINARY || path.join(REPO, 'build', 'packet_logs');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PYTHON = '/usr/bin/python3';

/** playwright-core's chromium: from node_modules, else $PLAYWRIGHT_CORE, else /tmp/pw. */
export async function loadChromium() {
  const candidates = ['playwright-core'];
  if (process.env.PLAYWRIGHT_CORE) candidates.push(process.env.PLAYWRIGHT_CORE);
  candidates.push('/tmp/pw/node_modules/playwright-core');
  for (const candidate of candidates) {
    try {
      const spec = candidate.startsWith('/') ? pathToFileURL(path.join(candidate, 'index.mjs')).href : candidate;
      return (await import(spec)).chromium;
    } catch {
      /* try the next */
    }
  }
  throw new Error('playwright-core not found: npm install (it is a devDependency), or set PLAYWRIGHT_CORE');
}

/** Why the lab cannot run here, or null when it can. */
export function unavailable() {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, nft, NFLOG)';
  if (!fs.existsSync(BINARY)) return `no binary at ${BINARY}: build it (cmake --build build) or set PACKET_LOGS_BINARY`;
  if (!fs.existsSync(CHROMIUM)) return `no browser at ${CHROMIUM}: apt-get install chromium`;
  return null;
}

export function sh(cmd, args, { input, timeout = 30000 } = {}) {
  return execFileSync(cmd, args, { input, timeout, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls fn until it returns a truthy value; that value, or throws after timeout ms. */
export async function until(fn, { timeout = 10000, interval = 100, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(interval);
  }
}

// The rules of the tests: UDP to 9999 logged as allowed "wan:in ", TCP to
// 9998 as blocked "drop:input " (nothing listens: the SYN is logged, the
// connection refused). On the output hook: traffic to 127.0.0.1 and ::1.
export const TEST_RULES = `table inet t {
  chain o {
    type filter hook output priority 0;
    udp dport 9999 log prefix "wan:in " group 0
    tcp dport 9998 log prefix "drop:input " group 1
  }
}
`;

export class Lab {
  /** A fresh namespace named after the pid, lo up, the rules loaded. */
  constructor({ rules = TEST_RULES, name = `plweb${process.pid}` } = {}) {
    this.ns = name;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plweb-'));
    this.servers = new Map(); // port -> child process
    this.logs = new Map(); // port -> stderr text
    try {
      sh('ip', ['netns', 'del', this.ns]);
    } catch {
      /* none left over */
    }
    sh('ip', ['netns', 'add', this.ns]);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
    this.exec('nft', ['-f', '-'], { input: rules });
    this.wrapper = path.join(this.dir, 'chromium-in-ns.sh');
    fs.writeFileSync(this.wrapper, `#!/bin/sh\nexec ip netns exec ${this.ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }

  /** Runs a command inside the namespace; its stdout. */
  exec(cmd, args, options) {
    return sh('ip', ['netns', 'exec', this.ns, cmd, ...args], options);
  }

  /** Runs a Python program inside the namespace (the traffic). */
  python(program, options) {
    return this.exec(PYTHON, ['-c', program], options);
  }

  /** Starts the server on 127.0.0.1:port (or listen) and waits for /healthz. */
  async startServer({ port = 18080, listen = `127.0.0.1:${port}`, args = [] } = {}) {
    const child = spawn('ip', ['netns', 'exec', this.ns, BINARY, '--listen', listen, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (chunk) => {
      log += chunk;
      this.logs.set(port, log);
    });
    this.servers.set(port, child);
    const url = `http://${listen}`;
    await until(() => {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${log}`);
      return this.curl(`${url}/healthz`, { fail: true }) !== null;
    }, { timeout: 10000, what: `the server on ${listen}` });
    return url;
  }

  /** Stops the server on port (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stopServer(port = 18080, signal = 'SIGTERM') {
    const child = this.servers.get(port);
    if (!child) return;
    this.servers.delete(port);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** GET inside the namespace; the body, or null on failure when fail is set. */
  curl(url, { fail = false, headers = [] } = {}) {
    try {
      return this.exec('curl', ['-sS', '--fail', '--max-time', '5', ...headers.flatMap((h) => ['-H', h]), url]);
    } catch (err) {
      if (fail) return null;
      throw err;
    }
  }

  json(url, options) {
    return JSON.parse(this.curl(url, options));
  }

  /**
   * Makes logged traffic: udp datagrams to 127.0.0.1:9999 (payload
   * "<tag> i"), udp6 ones to [::1]:9999, tcp connection attempts to 9998.
   */
  traffic({ udp = 0, udp6 = 0, tcp = 0, tag = 'hello' } = {}) {
    this.python(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${udp}):
    s.sendto(b"${tag} %d" % i, ("127.0.0.1", 9999))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(${udp6}):
    s6.sendto(b"${tag} v6 %d" % i, ("::1", 9999))
for i in range(${tcp}):
    t = socket.socket()
    t.settimeout(1)
    try:
        t.connect(("127.0.0.1", 9998))
    except OSError:
        pass
    t.close()
`);
  }

  /** Sends udp datagrams at rate per second for seconds, in the background. */
  trafficInBackground({ rate = 20, seconds = 10, tag = 'bg' } = {}) {
    const child = spawn('ip', ['netns', 'exec', this.ns, PYTHON, '-c', `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + ${seconds}
i = 0
while time.time() < end:
    s.sendto(b"${tag} %d" % i, ("127.0.0.1", 9999))
    i += 1
    time.sleep(1 / ${rate})
`], { stdio: 'ignore' });
    return new Promise((resolve) => child.once('exit', resolve));
  }

  /** Launches Chromium inside the namespace, headless, with a fresh profile. */
  async browser({ viewport = { width: 1360, height: 900 }, colorScheme = 'light' } = {}) {
    const chromium = await loadChromium();
    const profile = fs.mkdtempSync(path.join(this.dir, 'profile-'));
    return chromium.launchPersistentContext(profile, {
      executablePath: this.wrapper,
      headless: true,
      viewport,
      colorScheme,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  }

  /** A browser at url whose console errors and uncaught exceptions go
   * into errors (a test asserts it stays empty); { context, page }. */
  async openPage(url, errors) {
    const context = await this.browser();
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    return { context, page };
  }

  async close() {
    for (const port of [...this.servers.keys()]) await this.stopServer(port);
    try {
      sh('ip', ['netns', 'del', this.ns]);
    } catch {
      /* already gone */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function screenshotPath(name) {
  fs.mkdirSync(OUT, { recursive: true });
  return path.join(OUT, name);
}
