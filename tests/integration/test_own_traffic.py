"""
Its own traffic stays out of the log (issue 8, item 1), with SPR's exact
rules: WANIF set, and `lan:in` logging every other input packet, loopback
included (conftest's SPR_RULES leaves lo out; these tests must not).

- an idle stream client (5 s) and the dashboard in Chromium (10 s) add no
  records of their own; packet_logs_own_traffic_skipped_total grows;
- with --log-own-traffic they do add records (the loop SPR's users saw);
- a forwarded flow on the listen port between two other hosts is logged;
- a wildcard listen address (0.0.0.0, ::) skips clients on the router's
  interface addresses, IPv4 and IPv6, and nothing else.
"""
import os
import shutil
import time
import subprocess

import pytest
import requests

from conftest import (LAN_CLIENT4, LAN_CLIENT6, PY, REPO, STREAM_JSON_LOGS,
                      WAN_ROUTER4, WAN_ROUTER6, Topology, netns, ns_sh)

# DESIGN.md section 1, with WANIF=wan0, exactly: no exclusion of lo.
SPR_EXACT_RULES = """
table inet filter {
  chain INPUT {
    type filter hook input priority 0; policy accept;
    iifname "wan0" log prefix "wan:in " group 0
    iifname != "wan0" log prefix "lan:in " group 0
  }
  chain FORWARD {
    type filter hook forward priority 0; policy accept;
    oifname "wan0" log prefix "wan:out " group 0
    oifname != "wan0" log prefix "lan:out " group 0
  }
}
"""

LISTEN_PORT = 8080  # the port: a forwarded flow uses it too


@pytest.fixture(scope="module")
def spr_net():
    """A topology whose router has SPR's exact rules."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root (network namespaces, nftables, NFLOG)")
    topo = Topology(spr_rules=False).create()
    try:
        ns_sh(topo.router, "nft", "-f", "-", input=SPR_EXACT_RULES)
        yield topo
    finally:
        topo.destroy()


def counters(server):
    m = server.metrics()
    return (int(m["packet_logs_records_received_total"]),
            int(m["packet_logs_own_traffic_skipped_total"]))


def stream_idle(server, seconds=5):
    """stream-json-logs connected for `seconds` with nothing to say; returns
    the records it printed."""
    url = f"ws://{server.listen_arg}/packet_logs/stream"
    res = ns_sh(server.ns, STREAM_JSON_LOGS, "-timeout", seconds, "-url", url,
                timeout=seconds + 30, check=False)
    assert res.returncode == 0, f"stream-json-logs: {res.returncode} {res.stderr}"
    return [line for line in res.stdout.splitlines() if line.strip()]


def test_idle_stream_client_adds_no_records(spr_net, start_server):
    server = start_server(spr_net.router, ["--listen", f"127.0.0.1:{LISTEN_PORT}"],
                          listen=False, port=LISTEN_PORT)
    records0, skipped0 = counters(server)
    printed = stream_idle(server, 5)
    records1, skipped1 = counters(server)
    # Nothing else happens in the router: a few stray packets (IPv6
    # neighbour discovery) at most, never the loop's thousands.
    assert records1 - records0 <= 10, (records0, records1, printed[:5])
    assert len(printed) <= 10, printed[:5]
    # the stream's handshake, pings, and the /metrics requests themselves
    assert skipped1 - skipped0 >= 10, (skipped0, skipped1)
    # nothing of it reached the history either
    own = server.records({"port": LISTEN_PORT, "limit": 10000})
    assert own == [], own[:3]


def test_log_own_traffic_keeps_them(spr_net, start_server):
    server = start_server(spr_net.router, ["--listen", f"127.0.0.1:{LISTEN_PORT}",
                                           "--log-own-traffic"], listen=False, port=LISTEN_PORT)
    records0, skipped0 = counters(server)
    printed = stream_idle(server, 5)
    records1, skipped1 = counters(server)
    assert skipped1 == skipped0 == 0
    # each record streamed makes segments that are logged and streamed
    assert records1 - records0 >= 100, (records0, records1)
    assert len(printed) >= 100
    assert any('"DstPort":8080' in line or '"SrcPort":8080' in line for line in printed)


def test_log_own_traffic_environment(spr_net, start_server):
    server = start_server(spr_net.router, ["--listen", f"127.0.0.1:{LISTEN_PORT}"],
                          listen=False, port=LISTEN_PORT,
                          env={"PACKET_LOGS_LOG_OWN_TRAFFIC": "1"})
    server.metrics()
    server.metrics()
    recs = server.wait_records({"port": LISTEN_PORT}, lambda r: len(r) > 0, timeout=10,
                               what="records of its own traffic")
    assert all(r["Prefix"] == "lan:in " and r["InDev"] == "lo" for r in recs), recs[:3]


_DASHBOARD = r"""
const [url, ms, core] = process.argv.slice(2);
const { chromium } = await import(core);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'] });
const page = await browser.newPage();
await page.goto(url);
await page.waitForTimeout(Number(ms));
const rows = await page.locator('tbody tr').count();
console.log(JSON.stringify({ rows }));
await browser.close();
"""


def playwright_core():
    for p in (REPO / "node_modules" / "playwright-core",
              os.environ.get("PLAYWRIGHT_CORE", "/tmp/pw/node_modules/playwright-core")):
        if p and os.path.exists(os.path.join(p, "index.mjs")):
            return os.path.join(p, "index.mjs")
    return None


def dashboard_open(server, tmp_path, seconds):
    core = playwright_core()
    if not core or not shutil.which("node") or not os.path.exists("/usr/bin/chromium"):
        pytest.fail("needs node, playwright-core (npm ci) and /usr/bin/chromium")
    script = tmp_path / "dashboard.mjs"
    script.write_text(_DASHBOARD)
    res = ns_sh(server.ns, "node", script, f"{server.base}/", int(seconds * 1000), core,
                timeout=seconds + 60, check=False)
    assert res.returncode == 0, f"node: {res.stderr[-2000:]}"
    return res.stdout


@pytest.mark.parametrize("own", [False, True], ids=["default", "log-own-traffic"])
def test_dashboard_adds_no_records(spr_net, start_server, tmp_path, own):
    args = ["--listen", f"127.0.0.1:{LISTEN_PORT}"] + (["--log-own-traffic"] if own else [])
    server = start_server(spr_net.router, args, listen=False, port=LISTEN_PORT)
    records0, skipped0 = counters(server)
    dashboard_open(server, tmp_path, 10)
    records1, skipped1 = counters(server)
    if own:
        assert records1 - records0 >= 100, (records0, records1)
    else:
        assert records1 - records0 <= 10, (records0, records1)
        # the page, its modules, the history request, the stream
        assert skipped1 - skipped0 >= 20, (skipped0, skipped1)
        assert server.records({"port": LISTEN_PORT, "limit": 10000}) == []


# A forwarded flow between the two clients, on the listen port.
_LISTENER = r"""
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print('ready', flush=True)
c, _ = s.accept()
data = c.recv(100)
c.sendall(b'pong:' + data)
c.close()
"""

_CLIENT = r"""
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'ping')
print(s.recv(100).decode())
"""


@pytest.mark.parametrize("listen", ["127.0.0.1", "0.0.0.0", "::"])
@pytest.mark.parametrize("dst", [LAN_CLIENT4, LAN_CLIENT6], ids=["v4", "v6"])
def test_forwarded_flow_on_the_listen_port_is_logged(spr_net, start_server, listen, dst):
    host = f"[{listen}]" if ":" in listen else listen
    extra = [] if listen == "127.0.0.1" else ["--insecure-no-auth"]
    server = start_server(spr_net.router, ["--listen", f"{host}:{LISTEN_PORT}", *extra],
                          listen=False, host="127.0.0.1" if listen != "::" else "::1",
                          port=LISTEN_PORT)
    lst = spr_net.spawn(spr_net.lan, PY, "-c", _LISTENER, dst, LISTEN_PORT,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert lst.stdout.readline().strip() == "ready", lst.stderr.read()
    out = ns_sh(spr_net.wan, PY, "-c", _CLIENT, dst, LISTEN_PORT).stdout.strip()
    assert out == "pong:ping"
    lst.wait(10)
    # both directions, forwarded: lan:out towards the lan client, wan:out back
    recs = server.wait_records(
        {"port": LISTEN_PORT, "ip": dst},
        lambda r: {x["Prefix"] for x in r} >= {"lan:out ", "wan:out "}
        and any(x["TCP"]["SYN"] for x in r if "TCP" in x),
        timeout=10, what="the forwarded flow on the listen port")
    assert all(x["InDev"] and x["OutDev"] for x in recs), recs[:3]


@pytest.mark.parametrize("listen,addr", [("0.0.0.0", WAN_ROUTER4), ("::", WAN_ROUTER4),
                                         ("::", WAN_ROUTER6)],
                         ids=["0.0.0.0-v4", "wildcard6-v4", "wildcard6-v6"])
def test_wildcard_listen_skips_clients_on_interface_addresses(spr_net, start_server, listen,
                                                              addr):
    host = f"[{listen}]" if ":" in listen else listen
    server = start_server(spr_net.router, ["--listen", f"{host}:{LISTEN_PORT}",
                                           "--insecure-no-auth"],
                          listen=False, host="127.0.0.1", port=LISTEN_PORT)
    records0, skipped0 = counters(server)
    # a viewer on the WAN side: input on wan0 to the router's own address
    url_host = f"[{addr}]" if ":" in addr else addr
    with netns(spr_net.wan):
        for _ in range(3):
            r = requests.get(f"http://{url_host}:{LISTEN_PORT}/healthz", timeout=10)
            assert r.status_code == 200
    records1, skipped1 = counters(server)
    assert skipped1 - skipped0 >= 10
    assert server.records({"port": LISTEN_PORT, "limit": 10000}) == []
    assert records1 - records0 <= 10


def test_an_address_added_later_is_known(spr_net, start_server):
    """The list of this host's addresses follows RTNETLINK address events."""
    server = start_server(spr_net.router, ["--listen", f"0.0.0.0:{LISTEN_PORT}",
                                           "--insecure-no-auth"],
                          listen=False, host="127.0.0.1", port=LISTEN_PORT)
    added = "10.99.0.77"
    ns_sh(spr_net.router, "ip", "addr", "add", f"{added}/32", "dev", "wan0")
    try:
        time.sleep(0.5)  # the event is read before the next packets
        records0, skipped0 = counters(server)
        with netns(spr_net.wan):
            r = requests.get(f"http://{added}:{LISTEN_PORT}/healthz", timeout=10)
            assert r.status_code == 200
        records1, skipped1 = counters(server)
        assert skipped1 - skipped0 >= 5, (skipped0, skipped1)
        assert server.records({"ip": added, "limit": 10000}) == []
    finally:
        ns_sh(spr_net.router, "ip", "addr", "del", f"{added}/32", "dev", "wan0", check=False)
