"""Hostile and broken HTTP clients on the one port: a client that sends
nothing, or sends its head a byte at a time, holds no thread and is answered
408; past the limit of waiting connections the next get 503; garbage and
half-closed connections are dropped; meanwhile everyone else is served."""
import json
import socket
import time

import pytest

from conftest import netns, read_all


def connect(server):
    s = socket.create_connection((server.host, server.port), timeout=5)
    return s


def status_and_json(reply):
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.fixture
def hostile(net, start_server):
    return start_server(net.router, ["--head-timeout", "500"])


def test_silent_client_gets_408_and_others_are_served_meanwhile(hostile):
    with netns(hostile.ns):
        silent = connect(hostile)
        t0 = time.monotonic()
        # while it waits, REST answers at once
        assert hostile.get("/healthz").status_code == 200
        assert time.monotonic() - t0 < 0.4
        reply = read_all(silent)
        waited = time.monotonic() - t0
        silent.close()
    status, body = status_and_json(reply)
    assert status == 408 and "request head" in body["error"]
    assert 0.4 <= waited < 3, waited


def test_head_sent_a_byte_at_a_time_times_out(hostile):
    """A slowloris: the head never completes within --head-timeout (34
    bytes at 20 ms each take 680 ms > 500 ms), so the server answers 408 and
    closes while the client is still sending."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    closed_after = None
    reply = b""
    with netns(hostile.ns):
        s = connect(hostile)
        t0 = time.monotonic()
        try:
            for b in request * 3:
                s.send(bytes([b]))
                time.sleep(0.02)
            reply = read_all(s)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_after = time.monotonic() - t0
        try:
            reply = reply or read_all(s, timeout=1)
        except ConnectionResetError:
            pass
        s.close()
    # cut off: within about the head timeout, not after the client gave up
    assert closed_after < 1.6, closed_after
    # the 408 may be lost to the reset of the bytes still arriving
    assert reply == b"" or status_and_json(reply)[0] == 408


def test_complete_head_in_pieces_is_served(hostile):
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with netns(hostile.ns):
        s = connect(hostile)
        for i in range(0, len(request), 7):
            s.send(request[i:i + 7])
            time.sleep(0.01)
        reply = read_all(s)
        s.close()
    status, body = status_and_json(reply)
    assert status == 200 and body["status"] == "ok"


def test_too_many_waiting_connections_get_503(start_server, net):
    hostile = start_server(net.router, ["--head-timeout", "500", "--max-pending", "20",
                                        "--max-per-address", "1000"])
    with netns(hostile.ns):
        waiting = [connect(hostile) for _ in range(20)]  # the dispatcher's limit
        time.sleep(0.1)
        extra = connect(hostile)
        reply = read_all(extra, timeout=2)
        extra.close()
        for s in waiting:
            s.close()
        time.sleep(0.1)
        assert hostile.get("/healthz").status_code == 200  # and it recovers
    status, body = status_and_json(reply)
    assert status == 503 and "waiting" in body["error"]
    assert b"\r\nRetry-After: 1\r\n" in reply


def test_garbage_and_early_close_are_dropped(hostile):
    with netns(hostile.ns):
        s = connect(hostile)
        s.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(300) + b"\r\n\r\n")
        reply = read_all(s)
        s.close()
        for _ in range(50):  # connect and leave at once, or half-way
            c = connect(hostile)
            c.send(b"GET /packet_logs?limit=1 HTTP/1.1\r\n")
            c.close()
        assert hostile.get("/packet_logs", params={"limit": 1}).status_code == 200
    # a TLS hello is no HTTP: an error status or a closed connection, never a crash
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4")


def test_head_timeout_option_is_checked(net):
    from conftest import run_binary
    status, err = run_binary(net.router, ["--head-timeout", "5"])
    assert status == 2 and "--head-timeout" in err
