#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the seed corpora in rpc/fuzz/corpus/<target>/ (record format: see fuzz_driver.h).

Run from anywhere: python3 rpc/fuzz/make_corpus.py. The seeds are committed; rerun only to
change them."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REQ, RESP = 0, 1
TAIL = {0: 0, 1: 1, 2: 2, 5: 3, 64: 4, 4096: 5, 65536: 6, 1 << 20: 7}


def rec(direction, data, tail=0):
    out = b""
    for off in range(0, max(len(data), 1), 65535):
        part = data[off:off + 65535]
        out += bytes([direction | (TAIL[tail] << 1)]) + struct.pack("<H", len(part)) + part
    return out


def http_req(body, extra=b""):
    return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8545\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def http_resp(body, extra=b"", status=b"200 OK"):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def chunked(body, size=50):
    out = b""
    for off in range(0, len(body), size):
        part = body[off:off + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def call(method, id_, params=None):
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params or [], "id": id_},
                      separators=(",", ":")).encode()


def ok(id_, result):
    return json.dumps({"jsonrpc": "2.0", "id": id_, "result": result}, separators=(",", ":")).encode()


def err(id_, code, msg):
    return json.dumps({"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": msg}},
                      separators=(",", ":")).encode()


def ws_frame(payload, opcode=1, fin=True, mask=False, rsv1=False):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        h = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        h = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if mask:
        key = b"\x37\xfa\x21\x3d"
        payload = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
        h += key
    return h + payload


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


big = ok(1, ["0x" + "ab" * 32] * 300)
http = {
    "single": b"\x00" + rec(REQ, http_req(call("eth_blockNumber", 1))) + rec(RESP, http_resp(ok(1, "0x10"))),
    "pipelined": b"\x00" + rec(REQ, http_req(call("a", 1)) + http_req(call("b", 2)) + http_req(call("c", 3)))
    + rec(RESP, http_resp(ok(1, 1)) + http_resp(ok(2, 2)) + http_resp(err(3, -32601, "nope"))),
    "batch": b"\x00" + rec(REQ, http_req(b"[" + call("x", 1) + b"," + call("y", 2) + b"," + call("z", 3) + b"]"))
    + rec(RESP, http_resp(b"[" + ok(1, 1) + b"," + err(3, 3, "execution reverted") + b"," + err(2, -32602, "bad") + b"]")),
    "chunked_gzip": b"\x00" + rec(REQ, http_req(call("eth_getLogs", 7)))
    + rec(RESP, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
          + chunked(gzip.compress(big), 200)),
    "capture_limit": b"\x00" + rec(REQ, http_req(call("debug_traceTransaction", 2)))
    + rec(RESP, http_resp(big)[:300], tail=4096),
    "gap_in_head": b"\x00" + rec(REQ, http_req(call("a", 1))[:15], tail=64) + rec(REQ, http_req(call("b", 2)))
    + rec(RESP, http_resp(ok(1, 1))) + rec(RESP, http_resp(ok(2, 2))),
    "continue": b"\x00" + rec(REQ, b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 30\r\n\r\n")
    + rec(RESP, b"HTTP/1.1 100 Continue\r\n\r\n") + rec(REQ, call("q", 1)[:30])
    + rec(RESP, http_resp(b"too big", status=b"413 Payload Too Large")),
    "until_close": b"\x00" + rec(REQ, http_req(call("web3_clientVersion", 1)))
    + rec(RESP, b"HTTP/1.0 200 OK\r\n\r\n" + ok(1, "Geth")),
    "upgrade": b"\x00" + rec(REQ, b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    + rec(RESP, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + ws_frame(ok(1, 1)))
    + rec(REQ, ws_frame(call("eth_chainId", 1), mask=True)),
    "garbage": b"\x00" + rec(REQ, bytes(range(256))) + rec(REQ, http_req(call("a", 1))) + rec(RESP, b"\xff" * 40),
    "small_caps": b"\x0f" + rec(REQ, http_req(b"[" + b",".join(call("m%d" % i, i) for i in range(20)) + b"]"))
    + rec(RESP, http_resp(b"[" + b",".join(ok(i, i) for i in range(20)) + b"]")),
    "get_health": b"\x00" + rec(REQ, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n") + rec(RESP, http_resp(b"ok")),
}
ws = {
    "single": b"\x00" + rec(REQ, ws_frame(call("eth_blockNumber", 1), mask=True)) + rec(RESP, ws_frame(ok(1, "0x1"))),
    "fragmented": b"\x00" + rec(REQ, ws_frame(call("eth_call", 5)[:10], fin=False, mask=True)
                                + ws_frame(b"hi", opcode=9, mask=True)
                                + ws_frame(call("eth_call", 5)[10:], opcode=0, mask=True))
    + rec(RESP, ws_frame(b"hi", opcode=10) + ws_frame(err(5, 3, "execution reverted"))),
    "subscribe": b"\x00" + rec(REQ, ws_frame(call("eth_subscribe", 1, ["newHeads"]), mask=True))
    + rec(RESP, ws_frame(ok(1, "0xabc")) + ws_frame(json.dumps({"jsonrpc": "2.0", "method": "eth_subscription",
                                                                "params": {"subscription": "0xabc", "result": {}}}).encode()) * 3),
    "batch_out_of_order": b"\x00" + rec(REQ, ws_frame(b"[" + call("a", 1) + b"," + call("b", 2) + b"]", mask=True))
    + rec(RESP, ws_frame(b"[" + ok(2, 1) + b"," + ok(1, 2) + b"]")),
    "len16": b"\x00" + rec(REQ, ws_frame(call("x", 1, ["0" * 1000]), mask=True)) + rec(RESP, ws_frame(ok(1, "1" * 2000))),
    "len64_cut": b"\x00" + rec(REQ, ws_frame(call("y", 2), mask=True))
    + rec(RESP, ws_frame(ok(2, "f" * 70000))[:4096], tail=65536),
    "deflate": b"\x00" + rec(REQ, ws_frame(b"\x01\x02\x03", mask=True, rsv1=True)),
    "close": b"\x00" + rec(REQ, ws_frame(b"\x03\xe8", opcode=8, mask=True)) + rec(RESP, ws_frame(b"\x03\xe8", opcode=8)),
    "garbage_resync": b"\x00" + rec(REQ, b"\x13\x37garbage" + ws_frame(call("z", 9), mask=True))
    + rec(RESP, ws_frame(ok(9, 1))[:1], tail=64) + rec(RESP, ws_frame(ok(9, 1))),
    "binary": b"\x00" + rec(REQ, ws_frame(call("b", 3), opcode=2, mask=True)) + rec(RESP, ws_frame(ok(3, 0), opcode=2)),
    "invalid_json": b"\x00" + rec(REQ, ws_frame(b"{oops", mask=True)) + rec(RESP, ws_frame(err(None, -32700, "Parse error"))),
    "small_caps": b"\x07" + rec(REQ, b"".join(ws_frame(call("m", i), mask=True) for i in range(30)))
    + rec(RESP, b"".join(ws_frame(ok(i, i)) for i in range(30))),
}
js = {
    "request": call("eth_getBalance", 1, ["0xabc", "latest"]),
    "string_id": call("net_version", "abc\"d"),
    "batch": b"[" + call("a", 1) + b"," + call("b", 2) + b"," + call("c", 3) + b"]",
    "ok": ok(1, {"number": "0x1", "tx": ["0x1", "0x2"]}),
    "error_32601": err(1, -32601, "the method eth_foo does not exist/is not available"),
    "error_32602": err(2, -32602, "invalid argument 0: hex string has length 3"),
    "error_32700": err(None, -32700, "Parse error"),
    "reverted": b'{"jsonrpc":"2.0","id":9,"error":{"code":3,"message":"execution reverted: x","data":"0x08c379a0"}}',
    "batch_resp": b"[" + ok(1, None) + b"," + err(2, 3, "execution reverted") + b"," + ok(3, [1, [2, {"a": "}"}]]) + b"]",
    "cut": err(5, -32000, "header not found")[:40],
    "long_method": call("x" * 300, 1),
    "escapes": b'{"method":"a\\u0062\\n\\"","id":"\\\\","error":{"code":-1e3,"message":"\\t"}}',
}
write("fuzz_http", http)
write("fuzz_ws", ws)
write("fuzz_jsonrpc", js)
