"""
A fleet: records into NATS JetStream (--nats), a restart that keeps the
history. Real nats-server processes (Debian's package) in a hub namespace,
routers in namespaces of their own that reach them over a veth (see
nats_fleet.py), each router with its own log rules: a logged UDP port.
"""
import asyncio
import base64
import json
import shutil
import time

import pytest

from conftest import WAN_ROUTER4, Topology, netns, ns_sh
from nats_fleet import Client, Hub, NatsServer, NATS_SERVER

FLEET_PORT = 7110  # INPUT: logged "fleet:in " to group 0

FLEET_RULES = f"""
table inet fleet {{
  chain INPUT {{
    type filter hook input priority 0; policy accept;
    udp dport {FLEET_PORT} log prefix "fleet:in " group 0
  }}
}}
"""

pytestmark = pytest.mark.skipif(not shutil.which("nats-server") and
                                not __import__("os").path.exists(NATS_SERVER),
                                reason="nats-server not installed (scripts/install-deps.sh --test)")


@pytest.fixture
def hub():
    h = Hub()
    servers = []
    h.servers = servers
    try:
        yield h
    finally:
        for s in servers:
            s.cleanup()
        h.destroy()


def nats_single(hub):
    s = NatsServer(hub, "n1")
    hub.servers.append(s)
    s.start()
    s.wait_ready()
    return s


def nats_cluster(hub, n=3):
    servers = [NatsServer(hub, f"n{i + 1}", cluster="plc") for i in range(n)]
    hub.servers.extend(servers)
    for s in servers:
        s.start(servers)
    for s in servers:
        s.wait_ready()
    return servers


@pytest.fixture
def routers():
    made = []

    def make():
        t = Topology(spr_rules=False).create()
        made.append(t)
        ns_sh(t.router, "nft", "-f", "-", input=FLEET_RULES)
        return t

    yield make
    for t in made:
        t.destroy()


def send(traffic_topo, count, tag="fleet"):
    """count datagrams from the router's WAN client to the logged port,
    each with its own payload: "<tag>-<i>"."""
    ns_sh(traffic_topo.wan, "/usr/bin/python3", "-c",
          "import socket,sys\n"
          "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "for i in range(int(sys.argv[2])):\n"
          " s.sendto(('%%s-%%d' %% (sys.argv[3], i)).encode(),(sys.argv[1],%d))\n"
          % FLEET_PORT, WAN_ROUTER4, count, tag)


def payload(rec):
    return base64.b64decode(rec["UDP"]["Payload"]).decode()


def poll(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stream_records(server, stream="PACKET_LOGS"):
    c = Client(server.hub.ns, server.port)
    try:
        return [(seq, subj, hdrs, json.loads(data)) for seq, subj, hdrs, data in
                c.messages(stream)]
    finally:
        c.close()


def fleet_records(server, host):
    return [r for r in stream_records(server) if r[3].get("Host") == host]


def test_publish_host_subject_msgid_and_metrics(hub, routers, start_server):
    nats = nats_single(hub)
    r1 = routers()
    addr = hub.join(r1.router)
    srv = start_server(r1.router, ["--group", "0:allowed", "--nats", nats.url(addr),
                                   "--host-name", "router.one"])
    send(r1, 25)
    local = srv.wait_records({"prefix": "fleet:in"}, lambda rs: len(rs) == 25, timeout=10)
    # the local records carry Host too: the same bytes as published
    assert all(r["Host"] == "router.one" for r in local)
    assert list(local[0].keys())[-1] == "Host"
    m = poll("25 published", lambda: (lambda m: m if m.get(
        "packet_logs_nats_published_total") == 25 else None)(srv.metrics()))
    assert m["packet_logs_nats_lost_total"] == 0
    assert m["packet_logs_nats_connected"] == 1
    recs = fleet_records(nats, "router.one")
    assert len(recs) == 25
    by_seq = {r["Seq"]: r for r in local}
    for seq, subject, hdrs, rec in recs:
        # '.' cannot be in a subject token: mapped to '_'; the prefix trimmed
        assert subject == "packet_logs.router_one.fleet:in"
        assert rec == by_seq[rec["Seq"]]
        assert f"Nats-Msg-Id: router_one." in hdrs and hdrs.rstrip().endswith(f".{rec['Seq']}")
    # the stream was made as asked: file storage, subjects packet_logs.>
    c = Client(hub.ns, nats.port)
    info = c.stream_info("PACKET_LOGS")
    c.close()
    assert info["config"]["subjects"] == ["packet_logs.>"]
    assert info["config"]["storage"] == "file"
    assert info["config"]["max_bytes"] == 1 << 30
    # Nats-Msg-Ids remembered 30 s (--nats-duplicate-window), not the
    # server's 2 min: 12 million ids at 100,000 records/s
    assert info["config"]["duplicate_window"] == 30 * 10**9


def test_restart_keeps_history_and_seq(hub, routers, start_server):
    nats = nats_single(hub)
    r1 = routers()
    addr = hub.join(r1.router)
    args = ["--group", "0:allowed", "--nats", nats.url(addr), "--host-name", "r1",
            "--history-records", "30"]
    srv = start_server(r1.router, args)
    # in steps: the history (30 records) is also the buffer before NATS
    for i in range(4):
        send(r1, 10)
        poll(f"{10 * i + 10} published", lambda: srv.metrics().get(
            "packet_logs_nats_published_total") == 10 * i + 10)
    before = srv.wait_records({"prefix": "fleet:in"}, lambda rs: len(rs) == 30, timeout=10)
    srv.stop()
    srv2 = start_server(r1.router, args)
    # the newest 30 of the 40 are back, byte for byte, with their Seq
    after = srv2.records({"prefix": "fleet:in"})
    assert after == before
    newest = max(r["Seq"] for r in before)
    assert srv2.newest_seq() == newest
    send(r1, 3)
    more = srv2.wait_records({"prefix": "fleet:in"},
                             lambda rs: any(r["Seq"] > newest for r in rs), timeout=10)
    new = sorted(r["Seq"] for r in more if r["Seq"] > newest)
    poll("3 new", lambda: len(new) == 3 or (new.clear() or new.extend(sorted(
        r["Seq"] for r in srv2.records({"prefix": "fleet:in"}) if r["Seq"] > newest))))
    assert new == [newest + 1, newest + 2, newest + 3]
    # a cursor taken before the restart goes on: records after it
    page = srv2.records({"prefix": "fleet:in", "after": newest})
    assert sorted(r["Seq"] for r in page) == new
    poll("43 in the stream", lambda: len(fleet_records(nats, "r1")) == 43)
    seqs = [r[3]["Seq"] for r in fleet_records(nats, "r1")]
    assert sorted(seqs) == list(range(seqs[0], seqs[0] + 43))


def test_nats_down_serves_locally_and_counts(hub, routers, start_server):
    nats = nats_single(hub)
    r1 = routers()
    addr = hub.join(r1.router)
    srv = start_server(r1.router, ["--group", "0:allowed", "--nats", nats.url(addr),
                                   "--host-name", "r1", "--history-records", "20"])
    send(r1, 5)
    poll("5 published", lambda: srv.metrics().get("packet_logs_nats_published_total") == 5)
    nats.stop()
    poll("disconnected", lambda: srv.metrics().get("packet_logs_nats_connected") == 0)
    send(r1, 50)
    # the local history and REST go on without NATS
    recs = srv.wait_records({"prefix": "fleet:in"},
                            lambda rs: len(rs) == 20 and rs[0]["Seq"] == 55, timeout=10)
    assert recs
    # 20 wait in the history; the 30 evicted before their turn are lost
    m = poll("30 lost", lambda: (lambda m: m if m.get("packet_logs_nats_lost_total") == 30
                                 else None)(srv.metrics()))
    assert m["packet_logs_nats_published_total"] == 5
    nats.start()
    nats.wait_ready()
    m = poll("back: 25 published", lambda: (lambda m: m if m.get(
        "packet_logs_nats_published_total") == 25 else None)(srv.metrics()), timeout=30)
    assert m["packet_logs_nats_connected"] == 1
    assert m["packet_logs_nats_lost_total"] == 30
    seqs = sorted(r[3]["Seq"] for r in fleet_records(nats, "r1"))
    assert seqs == list(range(1, 6)) + list(range(36, 56))


def test_refused_records_counted_lost(hub, routers, start_server):
    """A record JetStream refuses for good (here: larger than the stream's
    max_msg_size) is counted lost, once, not retried and not published;
    the others go on."""
    nats = nats_single(hub)
    c = Client(hub.ns, nats.port)
    r = c.request("$JS.API.STREAM.CREATE.PACKET_LOGS",
                  {"name": "PACKET_LOGS", "subjects": ["packet_logs.>"], "storage": "file",
                   "max_msg_size": 1500})
    assert "error" not in r, r
    r1 = routers()
    addr = hub.join(r1.router)
    srv = start_server(r1.router, ["--group", "0:allowed", "--nats", nats.url(addr),
                                   "--host-name", "r1"])
    send(r1, 5, "small")
    poll("5 published", lambda: srv.metrics().get("packet_logs_nats_published_total") == 5)
    # a record of a datagram of 1400 bytes is over 1500 bytes of JSON (base64)
    ns_sh(r1.wan, "/usr/bin/python3", "-c",
          "import socket,sys\n"
          "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "for i in range(3): s.sendto(b'x'*1400,(sys.argv[1],%d))\n" % FLEET_PORT, WAN_ROUTER4)
    send(r1, 4, "after")
    m = poll("3 lost, 9 published", lambda: (lambda m: m if m.get(
        "packet_logs_nats_lost_total") == 3 and m.get(
        "packet_logs_nats_published_total") == 9 else None)(srv.metrics()))
    time.sleep(1)  # no retry makes them count twice
    m = srv.metrics()
    assert m["packet_logs_nats_lost_total"] == 3
    assert m["packet_logs_nats_published_total"] == 9
    got = sorted(payload(rec) for _, _, _, rec in fleet_records(nats, "r1"))
    assert got == sorted([f"small-{i}" for i in range(5)] + [f"after-{i}" for i in range(4)])
    c.close()


def test_cluster_node_killed_loses_nothing(hub, routers, start_server):
    servers = nats_cluster(hub)
    r1, r2 = routers(), routers()
    a1, a2 = hub.join(r1.router), hub.join(r2.router)
    common = ["--group", "0:allowed", "--nats-replicas", "3"]
    s1 = start_server(r1.router, common + ["--host-name", "r1", "--nats",
                                           ",".join(s.url(a1) for s in servers)])
    s2 = start_server(r2.router, common + ["--host-name", "r2", "--nats",
                                           ",".join(s.url(a2) for s in servers)])
    agg = start_server(hub.ns, ["--from-nats", ",".join(s.url("127.0.0.1") for s in servers)])
    poll("both connected", lambda: all(s.metrics().get("packet_logs_nats_connected") == 1
                                       for s in (s1, s2)))
    for i in range(10):
        send(r1, 30, f"r1.{i}")
        send(r2, 30, f"r2.{i}")
        if i == 3:
            # while traffic flows: the node router r1 is connected to
            conns = ns_sh(hub.ns, "ss", "-Htn", "state", "established", "dst", "10.98.1.2").stdout
            victim = next(s for s in servers if f":{s.port} " in conns)
            victim.kill()
        time.sleep(0.1)
    for s in (s1, s2):
        poll("300 records", lambda s=s: s.newest_seq() == 300, timeout=20)
        poll("all published", lambda s=s: s.metrics().get(
            "packet_logs_nats_published_total") == 300, timeout=60)
        assert s.metrics()["packet_logs_nats_lost_total"] == 0
    recs = stream_records(next(s for s in servers if s is not victim))
    for host in ("r1", "r2"):
        seqs = sorted(r[3]["Seq"] for r in recs if r[3]["Host"] == host)
        # every record the router made, exactly once in the stream
        assert seqs == list(range(1, 301)), host
        assert all(r[1] == f"packet_logs.{host}.fleet:in" for r in recs if r[3]["Host"] == host)
    # ... and in the aggregator: each datagram's record once, with its Host
    agg_recs = poll("600 in the aggregator", lambda: (lambda rs: rs if len(rs) >= 600 else None)(
        all_records(agg)), timeout=60)
    assert len(agg_recs) == 600
    for host, srv in (("r1", s1), ("r2", s2)):
        made = sorted(payload(r) for r in all_records(srv))
        got = sorted(payload(r) for r in agg_recs if r["Host"] == host)
        assert got == made and len(set(got)) == 300, host



def all_records(srv, params=None):
    items = list(params.items()) if isinstance(params, dict) else list(params or [])
    return srv.records([("limit", 10000)] + items)


def test_aggregator_one_view_host_filter_and_restart(hub, routers, start_server):
    nats = nats_single(hub)
    r1, r2 = routers(), routers()
    a1, a2 = hub.join(r1.router), hub.join(r2.router)
    s1 = start_server(r1.router, ["--group", "0:allowed", "--nats", nats.url(a1),
                                  "--host-name", "r1"])
    s2 = start_server(r2.router, ["--group", "0:allowed", "--nats", nats.url(a2),
                                  "--host-name", "r2"])
    agg = start_server(hub.ns, ["--from-nats", f"nats://127.0.0.1:{nats.port}"])
    send(r1, 10)
    send(r2, 7)
    recs = poll("17 in the aggregator", lambda: (lambda rs: rs if len(rs) == 17 else None)(
        all_records(agg)))
    assert sorted(r["Host"] for r in recs) == ["r1"] * 10 + ["r2"] * 7
    # each as its router made it, but for Seq: the stream's sequence
    stream = {seq: rec for seq, _, _, rec in stream_records(nats)}
    for r in recs:
        mine = dict(r)
        assert stream[mine.pop("Seq")] == {**mine, "Seq": stream[r["Seq"]]["Seq"]}
    by_router = {r["Seq"]: r for r in all_records(s1)}
    for r in recs:
        if r["Host"] == "r1":
            assert {**r, "Seq": 0} == {**by_router[stream[r["Seq"]]["Seq"]], "Seq": 0}
    assert len(all_records(agg, {"host": "r1"})) == 10
    assert len(all_records(agg, {"host": "r2"})) == 7
    assert len(all_records(agg, [("host", "r1"), ("host", "r2")])) == 17
    assert all_records(agg, {"host": "r3"}) == []
    r = agg.get("/packet_logs", params={"host": "a b"}, check=False)
    assert r.status_code == 400 and "host" in r.text
    # the stream takes host= too: its backlog and live records of r2 alone
    async def stream_r2():
        import websockets
        url = agg.base.replace("http://", "ws://") + "/packet_logs/stream?host=r2&backlog=50"
        async with websockets.connect(url, subprotocols=["packet_logs"]) as ws:
            got = []
            while len(got) < 7:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return got
    with netns(hub.ns):
        streamed = asyncio.run(stream_r2())
    assert [r["Host"] for r in streamed] == ["r2"] * 7
    # prefixes counted per host and prefix
    r = agg.get("/packet_logs/prefixes")
    assert r.status_code == 200
    counts = {(p["Host"], p["Prefix"]): p["Count"] for p in r.json()}
    assert counts == {("r1", "fleet:in "): 10, ("r2", "fleet:in "): 7}
    m = agg.metrics()
    assert m["packet_logs_nats_followed_total"] == 17
    assert m["packet_logs_nats_connected"] == 1
    # live: new records arrive as they are published
    send(r2, 3)
    poll("20", lambda: len(all_records(agg)) == 20)
    before = all_records(agg)
    agg.stop()
    agg2 = start_server(hub.ns, ["--from-nats", f"nats://127.0.0.1:{nats.port}"])
    after = poll("20 again", lambda: (lambda rs: rs if len(rs) == 20 else None)(
        all_records(agg2)))
    assert after == before
    send(r1, 1)
    newest = max(r["Seq"] for r in before)
    new = poll("1 more", lambda: [r for r in all_records(agg2) if r["Seq"] > newest])
    assert [r["Seq"] for r in new] == [newest + 1] and new[0]["Host"] == "r1"


def test_own_nats_connection_not_logged(hub, routers, start_server):
    """With rules that log everything on the link to NATS (as SPR's log all
    input), the segments of packet_logs' own NATS connection are its own
    traffic: skipped, or each published record would make more records."""
    nats = nats_single(hub)
    r1 = routers()
    addr = hub.join(r1.router)
    ns_sh(r1.router, "nft", "-f", "-", input="""
table inet fleetall {
  chain INPUT {
    type filter hook input priority 0; policy accept;
    iifname "nats0" log prefix "lan:in " group 0
  }
  chain OUTPUT {
    type filter hook output priority 0; policy accept;
    oifname "nats0" log prefix "lan:out " group 0
  }
}
""")
    srv = start_server(r1.router, ["--group", "0:allowed", "--nats", nats.url(addr),
                                   "--host-name", "r1"])
    send(r1, 10)
    poll("10 published", lambda: srv.metrics().get(
        'packet_logs_records_total{prefix="fleet:in",action="allowed"}') == 10)
    # the segments of the connection made before its local port was known
    # (its handshake) may be logged; after that, nothing of it
    # (the link's own IPv6 chatter, router solicitations, is logged: not TCP)
    time.sleep(1)
    before = len(srv.records({"proto": "tcp", "limit": 1000}))
    time.sleep(2)
    m = srv.metrics()
    assert len(srv.records({"proto": "tcp", "limit": 1000})) == before < 30
    assert m["packet_logs_own_traffic_skipped_total"] > 10
