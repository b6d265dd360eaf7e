#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A small stand-in node for the fetch tests: serves the recorded fixtures over HTTP (JSON-RPC
POSTs and beacon API GETs) on a free loopback port and over a geth-style IPC socket, plus the
bad cases a real deployment produces: a slow endpoint, an HTML 502 page from a proxy, oversized
bodies (with and without Content-Length), an empty body, a JSON-RPC -32601 (under /admin-off);
under /ethereumjs admin_peers answers with EthereumJS's peers instead of geth's.

    peers_server.py FIXTURE_DIR IPC_PATH...   prints "READY <http port>" once all listen

IPC modes are chosen by each socket path's file name: *drip* answers in small delayed pieces,
*close* closes halfway through, *silent* never answers, *big* sends an endless array, *text*
answers with plain text; anything else answers at once.
"""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIX = sys.argv[1]
IPCS = sys.argv[2:]
RPC = {
    "admin_peers": "geth_admin_peers.json",
    "net_peerCount": "net_peerCount.json",
    "web3_clientVersion": "web3_clientVersion.json",
    "eth_syncing": "eth_syncing_object.json",
}
BEACON = {
    "/eth/v1/node/peers": "prysm_peers.json",
    "/eth/v1/node/peer_count": "beacon_peer_count.json",
    "/eth/v1/node/syncing": "beacon_syncing.json",
    "/eth/v1/node/version": "prysm_version.json",
}


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def rpc_answer(req, admin_off=False, ethereumjs=False):
    """The fixture for the request's method, with the request's id."""
    method = req.get("method")
    if ethereumjs and method == "admin_peers":
        doc = json.loads(fixture("ethereumjs_admin_peers.json"))
    elif admin_off and method.startswith("admin_"):
        doc = json.loads(fixture("admin_disabled.json"))
    elif method in RPC:
        doc = json.loads(fixture(RPC[method]))
    else:
        doc = {"jsonrpc": "2.0", "error": {"code": -32601,
               "message": "the method %s does not exist/is not available" % method}}
    doc["id"] = req.get("id")
    return json.dumps(doc).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, ctype, body, length=True):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if length:
            self.wfile.write(body)

    def special(self):
        p = self.path.split("?")[0]
        if p.startswith("/slow"):
            time.sleep(3)
            self.send(200, "application/json", b'{"jsonrpc":"2.0","id":1,"result":[]}')
        elif p.startswith("/html502"):
            self.send(502, "text/html; charset=utf-8",
                      b"<html><head><title>502 Bad Gateway</title></head><body>"
                      b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
                      b"</body></html>\n")
        elif p.startswith("/empty"):
            self.send(200, "application/json", b"")
        elif p.startswith("/bigchunked"):
            self.send(200, "application/json", b"", length=False)
            chunk = b"[" + b" " * 65535
            try:
                for _ in range(400):  # 25 MiB
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    chunk = b" " * 65536
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            self.close_connection = True
        elif p.startswith("/big"):
            body = b'{"result":"' + b"a" * (20 << 20) + b'"}'
            try:
                self.send(200, "application/json", body)
            except OSError:
                pass
        else:
            return False
        return True

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.special():
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, "text/plain", b"bad request body\n")
            return
        if self.headers.get("Content-Type") != "application/json":
            self.send(415, "text/plain", b"expected application/json\n")
            return
        body = rpc_answer(req, admin_off=self.path.startswith("/admin-off"),
                          ethereumjs=self.path.startswith("/ethereumjs"))
        self.send(200, "application/json", body)

    def do_GET(self):
        if self.special():
            return
        p = self.path.split("?")[0]
        if p in BEACON:
            self.send(200, "application/json", fixture(BEACON[p]))
        else:
            self.send(404, "application/json",
                      b'{"code":404,"message":"Route not found: %s"}' % p.encode())


def ipc_client(conn, mode):
    buf = b""
    dec = json.JSONDecoder()
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            try:
                req, end = dec.raw_decode(buf.decode())
            except ValueError:
                continue
            buf = buf[end:]
            body = rpc_answer(req)
            if "silent" in mode:
                time.sleep(10)
                return
            if "text" in mode:
                conn.sendall(b"Hello, this is not JSON\n")
                return
            if "big" in mode:
                conn.sendall(b"[")
                while True:
                    conn.sendall(b"1," * 32768)
            if "close" in mode:
                conn.sendall(body[: len(body) // 2])
                return
            if "drip" in mode:
                for i in range(0, len(body), 97):
                    conn.sendall(body[i:i + 97])
                    time.sleep(0.002)
                continue
            conn.sendall(body)  # no newline: geth's framing is the JSON value itself
    except OSError:
        pass
    finally:
        conn.close()


def ipc_loop(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    ready.release()
    while True:
        conn, _ = s.accept()
        threading.Thread(target=ipc_client, args=(conn, os.path.basename(path)),
                         daemon=True).start()


ready = threading.Semaphore(0)


def main():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    for path in IPCS:
        threading.Thread(target=ipc_loop, args=(path,), daemon=True).start()
    for _ in IPCS:
        ready.acquire()
    print("READY %d" % httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
