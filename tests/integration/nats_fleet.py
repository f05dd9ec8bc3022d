"""
Helpers of the fleet tests (test_nats.py): real nats-server processes
(Debian's package) with JetStream, and a small NATS client that reads a
stream through the JetStream API, message by message.

Where things run: the NATS servers in a "hub" namespace of their own, on
its addresses; each router namespace gets a veth into the hub (router side
nats0 10.98.N.2/24, hub side hN 10.98.N.1/24), so a router reaches the
servers at 10.98.N.1 while its own log rules see none of that traffic
(they log the tests' UDP ports only). The cluster's routes stay on the
hub's loopback. The tests talk to the servers from the hub namespace.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import netns, sh

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Hub:
    """The NATS servers' namespace, joined to router namespaces by veths."""

    counter = 0

    def __init__(self):
        Hub.counter += 1
        self.ns = f"pli{os.getpid()}b{Hub.counter}"
        self.links = 0
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")

    def join(self, router_ns):
        """A veth from router_ns into the hub; returns the hub's address
        as the router sees it."""
        self.links += 1
        n = self.links
        sh("ip", "-n", router_ns, "link", "add", "nats0", "type", "veth", "peer", "name",
           f"h{n}", "netns", self.ns)
        sh("ip", "-n", router_ns, "addr", "add", f"10.98.{n}.2/24", "dev", "nats0")
        sh("ip", "-n", router_ns, "link", "set", "nats0", "up")
        sh("ip", "-n", self.ns, "addr", "add", f"10.98.{n}.1/24", "dev", f"h{n}")
        sh("ip", "-n", self.ns, "link", "set", f"h{n}", "up")
        return f"10.98.{n}.1"

    def destroy(self):
        pids = sh("ip", "netns", "pids", self.ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", self.ns, check=False)


def _free_port(ns):
    with netns(ns):
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
        s.close()
        return port


class NatsServer:
    """One nats-server with JetStream, its store in a temp dir of its own."""

    def __init__(self, hub, name, cluster=None):
        self.hub = hub
        self.name = name
        self.port = _free_port(hub.ns)
        self.cluster_port = _free_port(hub.ns) if cluster is not None else None
        self.dir = tempfile.mkdtemp(prefix=f"pl-nats-{name}-")
        self.cluster = cluster
        self.proc = None
        self.log = open(os.path.join(self.dir, "log"), "w+")

    def config(self, peers):
        text = (f'server_name: "{self.name}"\nlisten: "0.0.0.0:{self.port}"\n'
                f'jetstream {{ store_dir: "{self.dir}/js" }}\n')
        if self.cluster is not None:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p.cluster_port}"' for p in peers
                               if p is not self)
            text += (f'cluster {{\n  name: "{self.cluster}"\n'
                     f'  listen: "127.0.0.1:{self.cluster_port}"\n'
                     f'  no_advertise: true\n  routes: [{routes}]\n}}\n')
        return text

    def start(self, peers=()):
        path = os.path.join(self.dir, "nats.conf")
        with open(path, "w") as f:
            f.write(self.config(list(peers) or [self]))
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.hub.ns, NATS_SERVER, "-c", path],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with netns(self.hub.ns):
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nats-server {self.name} did not start:\n{self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self):
        self.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, address):
        return f"nats://{address}:{self.port}"


class Client:
    """A NATS client for requests to the JetStream API (the text protocol:
    CONNECT, SUB, PUB with a reply subject, MSG/HMSG back)."""

    def __init__(self, ns, port):
        with netns(ns):
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
                          b"SUB _pl_reply.* 1\r\nPING\r\n")
        while self._line() != b"PONG":
            pass
        self.n = 0

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload):
        self.n += 1
        reply = f"_pl_reply.{self.n}"
        body = json.dumps(payload).encode() if payload is not None else b""
        self.sock.sendall(f"PUB {subject} {reply} {len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            if parts and parts[0] in (b"MSG", b"HMSG"):
                total = int(parts[-1])
                data = self._exact(total)
                if parts[0] == b"HMSG":
                    data = data[int(parts[-2]):]
                if parts[1].decode() != reply:
                    continue  # the answer to an earlier request that timed out
                return json.loads(data) if data else {}

    def stream_info(self, stream):
        return self.request(f"$JS.API.STREAM.INFO.{stream}", None)

    def messages(self, stream):
        """Every message of the stream: [(seq, subject, headers text, data bytes)]."""
        info = self.stream_info(stream)
        state = info["state"]
        out = []
        for seq in range(state["first_seq"], state["last_seq"] + 1):
            r = self.request(f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq})
            if "message" not in r:
                continue
            m = r["message"]
            hdrs = base64.b64decode(m.get("hdrs") or b"").decode(errors="replace")
            out.append((m["seq"], m["subject"], hdrs, base64.b64decode(m.get("data") or b"")))
        return out

    def close(self):
        self.sock.close()
