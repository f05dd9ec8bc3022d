"""
Every bad REST value is answered exactly (issue 8, item 3):

- an embedded %00 in a value (or a name) is a 400 naming the parameter, as
  the stream answers it, not a value silently cut at the NUL;
- action, proto and order take their names in any case, and openapi.yaml
  says so (a pattern, not a lowercase enum): behaviour and contract agree.
"""
import sys

import pytest

from conftest import HERE, OPENAPI, check_contract

sys.path.insert(0, str(HERE))
import openapi_check  # noqa: E402


def bad(server, query, param):
    r = server.get(f"/packet_logs?{query}")
    assert r.status_code == 400, f"{query}: {r.status_code} {r.text[:200]}"
    body = r.json()
    assert body["param"] == param, body
    assert "NUL" in body["error"], body
    return body


@pytest.mark.parametrize("query,param", [
    ("prefix=wan%00x", "prefix"),
    ("limit=5%00x", "limit"),
    ("limit=5%00", "limit"),
    ("iface=lo%00", "iface"),
    ("prefix=lan:in&action=allowed%00blocked", "action"),
    ("pre%00fix=wan", "pre"),
])
def test_nul_in_a_value_is_400(server, query, param):
    bad(server, query, param)


def test_without_the_nul_they_are_fine(server):
    for query in ("prefix=wan", "limit=5", "iface=lo", "prefix=wanx"):
        r = server.get(f"/packet_logs?{query}")
        assert r.status_code == 200, f"{query}: {r.text[:200]}"


def test_nul_in_the_stream_is_400_too(server):
    """The stream already refused it: the same answer on both."""
    import socket
    from conftest import netns
    with netns(server.ns):
        s = socket.create_connection((server.host, server.port), timeout=10)
        s.sendall(b"GET /packet_logs/stream?prefix=wan%00x HTTP/1.1\r\n"
                  b"Host: " + server.listen_arg.encode() + b"\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = s.recv(4096)
        s.close()
    assert head.startswith(b"HTTP/1.1 400"), head[:100]


@pytest.fixture(scope="module")
def spec():
    return openapi_check.load(str(OPENAPI))


def param_schema_accepts(spec, name, value):
    """Whether openapi.yaml's schema of query parameter name accepts value."""
    ref = openapi_check.pointer("components", "parameters", name, "schema")
    try:
        openapi_check._check(spec, ref, value, f"{name}={value}")
        return True
    except AssertionError:
        return False


@pytest.mark.parametrize("name,value,accepted", [
    ("action", "allowed", True), ("action", "ALLOWED", True), ("action", "Blocked", True),
    ("action", "allow", False), ("action", "dropped", False),
    ("proto", "udp", True), ("proto", "UDP", True), ("proto", "ICMPv6", True),
    ("proto", "Tcp", True), ("proto", "sctp", False), ("proto", "udpx", False),
    ("order", "ASC", True), ("order", "desc", True), ("order", "up", False),
])
def test_case_behaviour_and_contract_agree(server, spec, name, value, accepted):
    r = server.get("/packet_logs", params={name: value})
    check_contract("/packet_logs", "GET", r)
    assert (r.status_code == 200) == accepted, f"{name}={value}: {r.status_code} {r.text[:200]}"
    assert param_schema_accepts(spec, name, value) == accepted, \
        f"openapi.yaml and the server disagree on {name}={value}"
    if not accepted:
        assert r.json()["param"] == name


def test_any_case_filters_as_lowercase(server, traffic, net):
    from conftest import LAN_ROUTER4
    traffic.udp(net.lan, LAN_ROUTER4, 7301, count=2)
    lower = server.wait_records({"proto": "udp", "dport": 7301, "action": "allowed"},
                                lambda r: len(r) >= 2, what="the datagrams")
    upper = server.records({"proto": "UDP", "dport": 7301, "action": "ALLOWED"})
    assert [r["Seq"] for r in upper] == [r["Seq"] for r in lower]
    assert server.records({"proto": "TCP", "dport": 7301}) == []
