#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Hostile and broken traffic on a traced JSON-RPC port (int_rpc_badinput.sh): random bytes,
# absurd lengths, broken chunked bodies, random bytes after a WebSocket upgrade, a slowloris
# request trickled a byte per 100 ms, and half-closed connections. Then N good eth_blockNumber
# calls; prints how many good calls were answered ("good N") and whether the slowloris call was
# ("slow 1").
#   rpc_badinput.py PORT N
import os, socket, sys, threading, time

port, n = int(sys.argv[1]), int(sys.argv[2])
HOST = '127.0.0.1'
GOOD = b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'


def post(body, extra=b''):
    return (b'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' + extra +
            b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)


def conn():
    s = socket.create_connection((HOST, port), timeout=10)
    return s


def drain(s, limit=1 << 22):
    got = b''
    try:
        while len(got) < limit:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    return got


def send_close(data, read=False):
    try:
        s = conn()
        s.sendall(data)
        if read:
            s.shutdown(socket.SHUT_WR)
            drain(s)
        s.close()
    except OSError:
        pass


slow_ok = []


def slowloris():
    # a byte per 100 ms through the headers, then the rest: a real call, only slow
    req = post(b'{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}')
    s = conn()
    s.settimeout(30)
    for i in range(40):
        s.send(req[i:i + 1])
        time.sleep(0.1)
    s.sendall(req[40:])
    r = s.recv(65536)
    slow_ok.append(b'"result"' in r)
    s.close()


t = threading.Thread(target=slowloris)
t.start()
rnd = os.urandom
for i in range(20):
    send_close(rnd(65536))                                   # random bytes
    send_close(b'POST / HTTP/1.1\r\n' + rnd(4000))           # random headers
send_close(b'POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n' + rnd(30000))
send_close(b'POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}')
send_close(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' + rnd(100) + b'\r\n')
send_close(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n')
send_close(post(b'[' + b'{"jsonrpc":"2.0","id":1,"method":"x"},' * 5000 + b'1]'), read=True)
send_close(post(b'{"jsonrpc":"2.0","id":' + b'['*10000 + b'}'), read=True)
send_close(post(b'\xff\xfe' + rnd(3000)), read=True)
# random bytes after a WebSocket upgrade, and frames announcing huge lengths
for payload in (rnd(20000), b'\x81\x7f\xff\xff\xff\xff\xff\xff\xff\xff' + rnd(100),
                b'\x01\x85abcd' + rnd(5) + b'\x80\x85abcd' + rnd(5)):
    try:
        s = conn()
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
        s.recv(4096)
        s.sendall(payload)
        s.close()
    except OSError:
        pass
# half-closed: a partial request, then our write side shut; and a full one likewise
send_close(post(GOOD)[:50], read=True)
for i in range(3):
    send_close(post(b'{"jsonrpc":"2.0","id":1,"method":"net_version","params":[]}'), read=True)
t.join()
good = 0
s = conn()
for i in range(n):
    s.sendall(post(GOOD))
    r = b''
    while b'"result"' not in r and b'"error"' not in r:
        d = s.recv(65536)
        if not d:
            break
        r += d
    good += b'"result"' in r
s.close()
print('good', good)
print('slow', int(all(slow_ok) and len(slow_ok) == 1))
