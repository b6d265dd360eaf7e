#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Records real JSON-RPC traffic of ganache (npm) as the server's syscalls, for unit_real.c.

    python3 rpc/tests/data/record_ganache.py GANACHE_BIN

Starts ganache on a free loopback port and a recording TCP proxy in front of it; every recv()
from the client is a request record and every chunk sent back is a response record, as the
tracer would see the server's read() and write(). Clients: http.client on one keep-alive
connection, and a minimal WebSocket client. What the clients themselves saw is the ground truth.

Writes ganache_http.rec.gz / ganache_ws.rec.gz (gzip of records: u8 direction, u64 ns, u32
length, bytes; little endian) and ganache_http.json / ganache_ws.json (expected calls, in order of completion)."""
import base64
import gzip
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Recorder:
    """A one-connection-at-a-time proxy that records both directions."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.records = []
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def rec(self, direction, data):
        with self.lock:
            self.records.append((direction, time.monotonic_ns(), data))

    def pump(self, src, dst, direction):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if direction == 0:
                    self.rec(0, data)
                    dst.sendall(data)
                else:
                    dst.sendall(data)
                    self.rec(1, data)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def serve(self):
        while True:
            c, _ = self.lsock.accept()
            u = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self.pump, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, 1), daemon=True).start()

    def save(self, name):
        with gzip.open(os.path.join(HERE, name), "wb") as f:
            for d, ts, data in self.records:
                f.write(struct.pack("<BQI", d, ts, len(data)) + data)
        self.records = []


def truth(out, transport, method, item):
    """Appends the expected call for a request method and the client's view of its answer."""
    e = {"transport": transport, "method": method, "id": None if item.get("id") is None else str(item["id"])}
    if "error" in item:
        e["status"], e["code"] = "error", item["error"].get("code")
    else:
        e["status"], e["code"] = "ok", None
    out.append(e)


def http_scenario(port, out):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    nid = [0]

    def post(body):
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    def call(method, params=None, expect=True):
        nid[0] += 1
        st, data = post(json.dumps({"jsonrpc": "2.0", "id": nid[0], "method": method, "params": params or []}))
        item = json.loads(data)
        if expect:
            truth(out, "http", method, item)
        return item

    accounts = call("eth_accounts")["result"]
    for _ in range(50):
        call("eth_blockNumber")
    call("eth_chainId")
    call("eth_fooBarDoesNotExist")
    call("eth_getBalance", ["0xzz", "latest"])
    call("x" * 100)
    # a batch of 3 with one failing item
    batch = [{"jsonrpc": "2.0", "id": 1000 + i, "method": m, "params": []}
             for i, m in enumerate(["eth_blockNumber", "eth_nope", "net_version"])]
    st, data = post(json.dumps(batch))
    answers = {a["id"]: a for a in json.loads(data)}
    for b in batch:
        truth(out, "http", b["method"], answers[b["id"]])
    # not JSON at all
    st, data = post("{bad json")
    try:
        item = json.loads(data)
    except ValueError:
        item = {"id": None, "error": {"code": None}}
    truth(out, "http", None, item)
    # contracts: one that reverts, one that returns 2 MiB
    def deploy(runtime):
        init = bytes([0x60, len(runtime), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3]) + runtime
        tx = call("eth_sendTransaction", [{"from": accounts[0], "data": "0x" + init.hex(), "gas": "0x100000"}])["result"]
        return call("eth_getTransactionReceipt", [tx])["result"]["contractAddress"]
    reverter = deploy(bytes.fromhex("60006000fd"))
    big = deploy(bytes.fromhex("62200000" "6000" "f3"))
    call("eth_call", [{"to": reverter, "data": "0x"}, "latest"])
    r = call("eth_call", [{"to": big, "data": "0x", "gas": "0x1000000"}, "latest"])
    assert len(r.get("result", "")) > 4_000_000, "big eth_call did not return 2 MiB: %s" % str(r)[:200]
    call("eth_blockNumber")
    conn.close()


class WS:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def send(self, obj, fragments=1):
        data = json.dumps(obj).encode()
        step = (len(data) + fragments - 1) // fragments
        parts = [data[i:i + step] for i in range(0, len(data), step)]
        out = b""
        for i, p in enumerate(parts):
            op = 1 if i == 0 else 0
            fin = 0x80 if i == len(parts) - 1 else 0
            mask = os.urandom(4)
            n = len(p)
            hdr = bytes([fin | op]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
            out += hdr + mask + bytes(c ^ mask[j & 3] for j, c in enumerate(p))
        self.s.sendall(out)

    def recv(self):
        def need(n):
            while len(self.buf) < n:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError
                self.buf += d
        msg = b""
        while True:
            need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7f, 2
            if n == 126:
                need(4)
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                need(10)
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            need(off + n)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if b0 & 0x0f >= 8:
                continue
            msg += payload
            if b0 & 0x80:
                return json.loads(msg)


def ws_scenario(port, out):
    ws = WS(port)
    pending = {}

    def wait_for(ids):
        while ids & pending.keys():
            m = ws.recv()
            if isinstance(m, list):
                for it in m:
                    truth(out, "ws", pending.pop(it["id"]), it)
            elif "id" in m and m["id"] in pending:
                truth(out, "ws", pending.pop(m["id"]), m)
            elif m.get("method") == "eth_subscription":
                out.append({"transport": "ws", "method": "eth_subscription", "id": None,
                            "status": "ok", "code": None, "kind": "notification"})

    def call(i, method, params=None, fragments=1):
        pending[i] = method
        ws.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params or []}, fragments)
        wait_for({i})

    call(1, "eth_blockNumber")
    call(2, "eth_chainId", fragments=3)
    call(3, "eth_subscribe", ["newHeads"])
    for i in range(4, 7):
        call(i, "evm_mine")
    time.sleep(0.3)
    call(7, "eth_nope")
    # two requests in flight at once, answered by id
    pending[8], pending[9] = "eth_blockNumber", "net_version"
    ws.send({"jsonrpc": "2.0", "id": 8, "method": "eth_blockNumber", "params": []})
    ws.send({"jsonrpc": "2.0", "id": 9, "method": "net_version", "params": []})
    wait_for({8, 9})
    batch = [{"jsonrpc": "2.0", "id": 20 + i, "method": m, "params": []}
             for i, m in enumerate(["eth_blockNumber", "eth_fooBar", "web3_clientVersion"])]
    for b in batch:
        pending[b["id"]] = b["method"]
    ws.send(batch)
    wait_for({20, 21, 22})
    call(30, "eth_getBalance", ["0xzz"])
    ws.s.close()


def main():
    ganache = sys.argv[1]
    port = free_port()
    proc = subprocess.Popen([ganache, "--server.port", str(port), "--server.host", "127.0.0.1",
                             "--logging.quiet", "--wallet.deterministic", "--chain.chainId", "1337"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        rec = Recorder(port)
        out = []
        http_scenario(rec.port, out)
        time.sleep(0.3)
        rec.save("ganache_http.rec.gz")
        with open(os.path.join(HERE, "ganache_http.json"), "w") as f:
            json.dump(out, f, indent=0)
        out = []
        ws_scenario(rec.port, out)
        time.sleep(0.3)
        rec.save("ganache_ws.rec.gz")
        with open(os.path.join(HERE, "ganache_ws.json"), "w") as f:
            json.dump(out, f, indent=0)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
