"""
Integration fixtures for packet_logs: real network namespaces, real
nftables rules, real NFLOG, the real binary and real HTTP.

Topology (names carry the test process's pid, so runs never collide):

    wan client ns            router ns (forwards)           lan client ns
    eth0 10.99.0.2/24  <->  wan0 10.99.0.1/24
         fd99::2/64              fd99::1/64
                            lan0 10.99.1.1/24   <->  eth0 10.99.1.2/24
                                 fd99:1::1/64             fd99:1::2/64

The router forwards; its nftables rules are SPR's log rules (section 1 of
DESIGN.md) plus a few of the tests' own. The tests talk HTTP to the server
inside the router ns by entering that ns in the test thread (setns), and make
traffic in the client ns with ping and small /usr/bin/python3 scripts.

Run as root:  /usr/bin/python3 -m pytest tests/integration
The binary:   PACKET_LOGS_BINARY (default: build/packet_logs of this repo).
"""
import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("PACKET_LOGS_BINARY", REPO / "build" / "packet_logs"))
OPENAPI = REPO / "openapi.yaml"
PY = "/usr/bin/python3"

# Addresses of the topology.
WAN_ROUTER4, WAN_CLIENT4 = "10.99.0.1", "10.99.0.2"
LAN_ROUTER4, LAN_CLIENT4 = "10.99.1.1", "10.99.1.2"
WAN_ROUTER6, WAN_CLIENT6 = "fd99::1", "fd99::2"
LAN_ROUTER6, LAN_CLIENT6 = "fd99:1::1", "fd99:1::2"

DNS_NAME = "www.example.test"

# Ports that the tests' own rules give a meaning to.
DROP_INPUT_PORT = 9999      # INPUT: logged "drop:input " to group 1 and dropped
DROP_FORWARD_PORT = 9998    # FORWARD: logged "drop:forward " to group 1 and dropped
HIST_RECORDS_PORT = 7001    # INPUT: also logged "hist:records " to group 11
HIST_BYTES_PORT = 7002      # INPUT: also logged "hist:bytes " to group 12
MIXED_CASE_PORT = 7003      # INPUT: also logged "Drop:Mixed " to group 1 (not dropped)

# SPR's rules (DESIGN.md section 1) with WANIF=wan0, as SPR writes them, in
# its table inet filter; lo is left out of lan:in so that the tests' own
# HTTP on loopback is not logged. A drop:forward rule as SPR has.
SPR_RULES = f"""
table inet filter {{
  chain INPUT {{
    type filter hook input priority 0; policy accept;
    udp dport {DROP_INPUT_PORT} log prefix "drop:input " group 1 drop
    iifname "wan0" log prefix "wan:in " group 0
    iifname != {{ "wan0", "lo" }} log prefix "lan:in " group 0
  }}
  chain FORWARD {{
    type filter hook forward priority 0; policy accept;
    udp dport {DROP_FORWARD_PORT} log prefix "drop:forward " group 1 drop
    oifname "wan0" log prefix "wan:out " group 0
    oifname != "wan0" log prefix "lan:out " group 0
  }}
}}
"""

# The tests' own groups, for servers that must see an exact number of
# records (history bounds): only the datagrams a test sends to these ports.
TEST_RULES = f"""
table inet pltest {{
  chain INPUT {{
    type filter hook input priority -10; policy accept;
    udp dport {HIST_RECORDS_PORT} log prefix "hist:records " group 11
    udp dport {HIST_BYTES_PORT} log prefix "hist:bytes " group 12
    udp dport {MIXED_CASE_PORT} log prefix "Drop:Mixed " group 1
  }}
}}
"""

SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|"
    r"runtime error:|UndefinedBehaviorSanitizer|SUMMARY: \w+Sanitizer")

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")


# --------------------------------------------------------------- commands

def sh(*cmd, check=True, input=None, timeout=30, env=None):
    """Runs a command; returns CompletedProcess with text output."""
    res = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True,
                         timeout=timeout, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"command failed ({res.returncode}): {' '.join(map(str, cmd))}\n"
                             f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def ns_sh(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


# --------------------------------------------------------------- setns

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def netns(name):
    """Runs the body in network namespace `name` (this thread only): the
    sockets it opens live there. Restores the original namespace after."""
    if name is None:
        yield
        return
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns({name}): {os.strerror(e)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(orig, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns back: {os.strerror(e)}")
    finally:
        os.close(orig)


def free_port(ns):
    """A TCP port free on 127.0.0.1 and on every address of namespace ns."""
    with netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", 0))
            return s.getsockname()[1]
        finally:
            s.close()


# --------------------------------------------------------------- topology

_NS_RE = re.compile(r"^pli(\d+)[rwlb]\d+$")


def remove_stale_namespaces(pattern=_NS_RE):
    """Namespaces of an earlier run of these tests whose process is gone
    (killed before its teardown): only names matching pattern, whose first
    group is the pid of the run that made them."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for name in names:
        m = pattern.match(name)
        if m and int(m.group(1)) != os.getpid() and not Path(f"/proc/{m.group(1)}").exists():
            sh("ip", "netns", "del", name, check=False)


def _stream_json_logs():
    env = os.environ.get("STREAM_JSON_LOGS")
    if env:
        return Path(env)
    for p in (REPO / "build" / "tools" / "stream-json-logs", REPO / "build" / "stream-json-logs"):
        if p.exists():
            return p
    return REPO / "build" / "tools" / "stream-json-logs"


STREAM_JSON_LOGS = _stream_json_logs()


class Topology:
    """A router namespace and two client namespaces joined by veth pairs.
    spr_rules=False leaves the router without nftables rules (for --rules)."""

    counter = 0

    def __init__(self, spr_rules=True):
        Topology.counter += 1
        n = Topology.counter
        pid = os.getpid()
        self.router = f"pli{pid}r{n}"
        self.wan = f"pli{pid}w{n}"
        self.lan = f"pli{pid}l{n}"
        self.spr_rules = spr_rules
        self.processes = []  # background processes started in these namespaces
        self.created = []

    def _ns(self, name):
        sh("ip", "netns", "add", name)
        self.created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        for key in ("all", "default"):
            sh("ip", "netns", "exec", name, "sysctl", "-qw",
               f"net.ipv6.conf.{key}.accept_dad=0",
               f"net.ipv6.conf.{key}.router_solicitations=0")

    def create(self):
        try:
            for name in (self.router, self.wan, self.lan):
                self._ns(name)
            r, w, l = self.router, self.wan, self.lan
            sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1",
               "net.ipv6.conf.all.forwarding=1")
            sh("ip", "-n", r, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0",
               "netns", w)
            sh("ip", "-n", r, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0",
               "netns", l)
            for ns, dev, a4, a6 in ((r, "wan0", "10.99.0.1/24", "fd99::1/64"),
                                    (r, "lan0", "10.99.1.1/24", "fd99:1::1/64"),
                                    (w, "eth0", "10.99.0.2/24", "fd99::2/64"),
                                    (l, "eth0", "10.99.1.2/24", "fd99:1::2/64")):
                sh("ip", "-n", ns, "addr", "add", a4, "dev", dev)
                sh("ip", "-n", ns, "-6", "addr", "add", a6, "dev", dev, "nodad")
                sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", w, "route", "add", "default", "via", WAN_ROUTER4)
            sh("ip", "-n", w, "-6", "route", "add", "default", "via", WAN_ROUTER6)
            sh("ip", "-n", l, "route", "add", "default", "via", LAN_ROUTER4)
            sh("ip", "-n", l, "-6", "route", "add", "default", "via", LAN_ROUTER6)
            if self.spr_rules:
                ns_sh(r, "nft", "-f", "-", input=SPR_RULES)
                ns_sh(r, "nft", "-f", "-", input=TEST_RULES)
            self._wait_links()
        except BaseException:
            self.destroy()
            raise
        return self

    def _wait_links(self):
        """Until both clients reach the router over v4 and v6 (links up,
        neighbours resolved); bounded."""
        deadline = time.monotonic() + 10
        for ns, dst in ((self.wan, WAN_ROUTER4), (self.lan, LAN_ROUTER4),
                        (self.wan, WAN_ROUTER6), (self.lan, LAN_ROUTER6)):
            while ns_sh(ns, "ping", "-c", "1", "-W", "1", "-q", dst, check=False).returncode:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{ns} cannot reach {dst}")
                time.sleep(0.05)

    def spawn(self, ns, *cmd, **kw):
        """A background process in ns, killed at destroy()."""
        p = subprocess.Popen(["ip", "netns", "exec", ns, *map(str, cmd)], **kw)
        self.processes.append(p)
        return p

    def destroy(self):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for name in reversed(self.created):
            # anything still running in a namespace we made was started by us
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            sh("ip", "netns", "del", name, check=False)
        self.created = []


# --------------------------------------------------------------- traffic

_UDP = r"""
import socket, sys
dst, dport, sport, count, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), bytes.fromhex(sys.argv[5])
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if sport:
    s.bind(('', sport))
for i in range(count):
    s.sendto(payload, (dst, dport))
"""

_TCP = r"""
import socket, sys
dst, dport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(3)
if sport:
    s.bind(('', sport))
try:
    s.connect((dst, dport))
    print('connected')
except ConnectionRefusedError:
    print('refused')
"""

# A DNS query from this namespace; prints the size of the answer.
_DNS_QUERY = r"""
import socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = struct.pack('!HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0'
q += struct.pack('!HH', qtype, 1)
s = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
print(len(s.recvfrom(4096)[0]))
"""

# A tiny DNS server: any query gets A 10.99.0.2 and AAAA fd99::2, TTL 300,
# for the name asked.
_DNS_RESPONDER = r"""
import select, socket, struct, sys
socks = []
for fam, addr in ((socket.AF_INET, '10.99.0.2'), (socket.AF_INET6, 'fd99::2')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    socks.append(s)
print('ready', flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(4096)
        if len(data) < 12:
            continue
        qid, flags, qd = struct.unpack('!HHH', data[:6])
        i = 12
        while i < len(data) and data[i]:
            i += 1 + data[i]
        question = data[12:i + 5]
        answer = struct.pack('!HHHHHH', qid, 0x8580 | (flags & 0x0100), 1, 2, 0, 0) + question
        answer += struct.pack('!HHHIH', 0xc00c, 1, 1, 300, 4) + socket.inet_pton(socket.AF_INET, '10.99.0.2')
        answer += struct.pack('!HHHIH', 0xc00c, 28, 1, 300, 16) + socket.inet_pton(socket.AF_INET6, 'fd99::2')
        s.sendto(answer, peer)
"""


class Traffic:
    """Real packets from the namespaces of a topology."""

    def __init__(self, topo):
        self.topo = topo

    def ping(self, ns, dst, count=1):
        res = ns_sh(ns, "ping", "-c", count, "-i", "0.01", "-W", "2", "-q", dst, check=False)
        assert res.returncode == 0, f"ping {dst} from {ns} failed: {res.stdout}{res.stderr}"

    def udp(self, ns, dst, dport, sport=0, payload=b"packet_logs test", count=1):
        ns_sh(ns, PY, "-c", _UDP, dst, dport, sport, count, payload.hex())

    def tcp(self, ns, dst, dport, sport=0):
        """Connects to a (closed) port: the SYN is logged, the RST comes back."""
        return ns_sh(ns, PY, "-c", _TCP, dst, dport, sport).stdout.strip()

    def dns_query(self, ns, server, name=DNS_NAME, qtype=1):
        res = ns_sh(ns, PY, "-c", _DNS_QUERY, server, name, qtype, check=False)
        assert res.returncode == 0, f"DNS query to {server} failed: {res.stderr}"
        return int(res.stdout)

    def start_dns_responder(self):
        p = self.topo.spawn(self.topo.wan, PY, "-c", _DNS_RESPONDER, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert line.strip() == "ready", f"DNS responder did not start: {p.stderr.read()}"
        return p


# --------------------------------------------------------------- contract

_contract = {"spec": None, "module": None, "missing": None}


def _openapi():
    if _contract["spec"] is None and _contract["missing"] is None:
        try:
            sys.path.insert(0, str(HERE))
            import openapi_check  # written by another engineer: load, validate_response
            _contract["module"] = openapi_check
            _contract["spec"] = openapi_check.load(str(OPENAPI))
        except Exception as e:  # noqa: BLE001 - reported by test_openapi_contract_checker_present
            _contract["missing"] = f"{type(e).__name__}: {e}"
            warnings.warn(f"OpenAPI contract checks are off: {_contract['missing']}")
    return _contract


def check_contract(path, method, resp):
    """Validates one requests.Response against openapi.yaml."""
    check_contract_raw(path, method, resp.status_code, dict(resp.headers), resp.content)


def check_contract_raw(path, method, status, headers, body):
    """Validates one response (status, headers, content type, body) against
    openapi.yaml with openapi_check.validate_response, which raises
    AssertionError on a mismatch. A path the contract does not have (a 404)
    is checked as the contract's Error."""
    c = _openapi()
    if c["spec"] is None:
        return
    mod, spec = c["module"], c["spec"]
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if path not in (spec.get("paths") or {}) and status == 404:
        assert content_type.startswith("application/json"), headers
        mod.validate_schema(spec, "Error", json.loads(body), f"{method} {path} 404 body")
        return
    mod.validate_response(spec, path, method, status, content_type, body, headers=headers)


# --------------------------------------------------------------- the server

class Server:
    """packet_logs started in a namespace; stop() checks a clean exit."""

    def __init__(self, ns, args=(), env=None, host="127.0.0.1", port=None, token=None,
                 listen=True):
        self.ns = ns
        self.host = host
        self.port = port or free_port(ns)
        self.token = token
        self.args = list(map(str, args))
        if listen:
            self.args = ["--listen", self.listen_arg] + self.args
        if not any(a == "--qtimeout" or a.startswith("--qtimeout=") for a in self.args):
            self.args += ["--qtimeout", "10"]
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        for k in [k for k in self.env if k.startswith("PACKET_LOGS_") or k == "WANIF"]:
            del self.env[k]
        self.env.update(env or {})
        self.stderr_file = tempfile.TemporaryFile(mode="w+")
        self.proc = None
        self.stopped = False

    @property
    def listen_arg(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def base(self):
        return f"http://{self.listen_arg}"

    def start(self, wait=True):
        assert BINARY.exists(), f"no binary at {BINARY} (build it, or set PACKET_LOGS_BINARY)"
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, str(BINARY), *self.args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr_file, env=self.env)
        if wait:
            self.wait_healthy()
        return self

    def stderr(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read()

    def wait_healthy(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"packet_logs exited with {rc} at start:\n{self.stderr()}")
            try:
                r = self.request("GET", "/healthz", timeout=1)
                if r.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no /healthz in {timeout}s:\n{self.stderr()}")
            time.sleep(0.02)

    def stop(self):
        """SIGTERM; asserts exit status 0 within 5 s and no sanitizer report."""
        if self.stopped or self.proc is None:
            return
        self.stopped = True
        early = self.proc.poll()
        if early is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"packet_logs did not exit within 5 s of SIGTERM:\n"
                                     f"{self.stderr()}")
        else:
            rc = early
        err = self.stderr()
        self.stderr_file.close()
        assert not SANITIZER_REPORT.search(err), f"sanitizer report:\n{err}"
        assert early is None, f"packet_logs had exited by itself with {early}:\n{err}"
        assert rc == 0, f"packet_logs exited with {rc} after SIGTERM:\n{err}"
        return err

    # ------------------------------------------------------------ HTTP

    def request(self, method, path, params=None, headers=None, data=None, auth=True,
                timeout=10, client_ns=None, check=True):
        """One HTTP request from client_ns (default: the server's own ns).
        path may carry its query string. Validates the response against
        openapi.yaml unless check=False."""
        h = dict(headers or {})
        if auth and self.token and "Authorization" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        with netns(client_ns or self.ns):
            r = requests.request(method, self.base + path, params=params, headers=h, data=data,
                                 timeout=timeout, allow_redirects=False)
        if check:
            check_contract(path.split("?", 1)[0], method, r)
        return r

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params=params, **kw)

    def records(self, params=None, **kw):
        """GET /packet_logs: asserts 200 and returns the decoded records."""
        r = self.get("/packet_logs", params=params, **kw)
        assert r.status_code == 200, f"{r.url} -> {r.status_code} {r.text}"
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        return r.json()

    def health(self):
        r = self.get("/healthz")
        assert r.status_code == 200, r.text
        return r.json()

    def newest_seq(self):
        return self.health()["newest_seq"]

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        return parse_metrics(r.text)

    def settled(self, want=None, timeout=60):
        """/metrics once records stop coming (every packet sent is a record
        or counted lost by then): the records and the kernel's losses
        unchanged for 5 reads 0.2 s apart, or, with want, want records
        and no loss at all."""
        last, still, deadline = None, 0, time.monotonic() + timeout
        while still < 5:
            assert time.monotonic() < deadline, last
            time.sleep(0.2)
            m = self.metrics()
            now = received_and_lost(m)
            still = still + 1 if now == last else 0
            last = now
            if want is not None and now[0] >= want and not now[1]:
                break
        return m

    def wait_records(self, params, predicate, timeout=5, what="records"):
        """Polls GET /packet_logs until predicate(records) holds."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records(params)
            if predicate(recs):
                return recs
            if time.monotonic() > deadline:
                summary = "\n".join(brief(r) for r in recs[:40])
                raise AssertionError(f"timed out waiting for {what} ({params}); have "
                                     f"{len(recs)}:\n{summary}")
            time.sleep(0.02)


def read_all(s, timeout=5):
    """Reads a socket until the peer closes it, a reset, or timeout seconds
    without data; returns the bytes."""
    s.settimeout(timeout)
    chunks = []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except (socket.timeout, ConnectionResetError):
        pass
    return b"".join(chunks)


def received_and_lost(m):
    """Of parsed /metrics: records made, and packets the kernel lost or
    dropped before packet_logs could read them."""
    return (m.get("packet_logs_records_received_total", 0),
            m.get("packet_logs_kernel_lost_total", 0) + m.get("packet_logs_kernel_drops_total", 0))


def parse_metrics(text):
    """Prometheus text format -> {name: value}; checks every line's syntax."""
    values = {}
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$")
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = sample.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


def brief(r):
    """One line about a record, for failure messages."""
    ip = r.get("IP") or r.get("IPv6") or {}
    l4 = r.get("TCP") or r.get("UDP") or {}
    kind = next((k for k in ("TCP", "UDP", "ICMPv4", "ICMPv6") if k in r), "-")
    return (f"#{r.get('Seq')} {r.get('Prefix')!r} {r.get('Action')} {kind} "
            f"{ip.get('SrcIP')}:{l4.get('SrcPort', '')} -> {ip.get('DstIP')}:{l4.get('DstPort', '')}"
            f" in={r.get('InDev')} out={r.get('OutDev')}")


# --------------------------------------------------------------- fixtures

def _need_root():
    if os.geteuid() != 0:
        pytest.fail("these tests need root (network namespaces, nftables, NFLOG)")


@pytest.fixture(scope="session", autouse=True)
def _stale_namespaces():
    if os.geteuid() == 0:
        remove_stale_namespaces()


@pytest.fixture(scope="session")
def net():
    """The session's topology with SPR's rules in the router."""
    _need_root()
    topo = Topology().create()
    try:
        yield topo
    finally:
        topo.destroy()


@pytest.fixture(scope="session")
def traffic(net):
    return Traffic(net)


@pytest.fixture(scope="session")
def dns_responder(net, traffic):
    return traffic.start_dns_responder()


@pytest.fixture(scope="module")
def server(net):
    """packet_logs on the default groups (0 allowed, 1 blocked) in the router."""
    s = Server(net.router).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def start_server():
    """Starts extra servers: start_server(ns, args, ...) -> Server; each is
    stopped (and its clean exit checked) at the end of the test."""
    started = []

    def start(ns, args=(), **kw):
        s = Server(ns, args, **kw)
        started.append(s)
        return s.start()

    yield start
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def bare_net():
    """A topology whose router has no nftables rules at all."""
    _need_root()
    topo = Topology(spr_rules=False).create()
    try:
        yield topo
    finally:
        topo.destroy()


def run_binary(ns, args, env=None, timeout=10):
    """Runs packet_logs to completion (for starts that must fail); returns
    (status, stderr). Checks stderr for sanitizer reports."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_") and k != "WANIF"}
    e.update(env or {})
    res = subprocess.run(["ip", "netns", "exec", ns, str(BINARY), *map(str, args)],
                         capture_output=True, text=True, timeout=timeout, env=e,
                         stdin=subprocess.DEVNULL)
    assert not SANITIZER_REPORT.search(res.stderr), f"sanitizer report:\n{res.stderr}"
    return res.returncode, res.stderr


def contract_status():
    """(loaded?, why not) of the OpenAPI checker, for the test that it is there."""
    c = _openapi()
    return c["spec"] is not None, c["missing"]
