#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
#
# A Kaspa P2P client on Debian's python3-grpcio (gRPC's C core: a third HTTP/2 + gRPC stack).
# No generated stubs: messages are encoded and decoded here by hand from the field tables in
# kaspa-p2p.md, and sent as raw bytes through grpc's generic stream_stream API, gzip-compressed
# like the reference node. Dials, runs the handshake, asks for addresses, pings, prints JSON lines.
#
#   peer_grpcio.py --port P [--host 127.0.0.1] [--network kaspa-mainnet] [--version 10]
#                  [--id HEX32] [--no-compress]
import argparse
import json
import os
import queue
import sys
import threading

import grpc


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def fld_uint(num, v):
    return varint(num << 3) + varint(v)


def fld_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def parse(buf):
    """Top-level fields of a protobuf message: {number: [value, ...]} (ints or bytes)."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(num, []).append(v)
    return fields


def read_varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def fmt_addr(raw):
    f = parse(raw)
    ip = f.get(3, [b""])[0]
    port = f.get(4, [0])[0]
    import ipaddress
    if len(ip) == 16 and ip[:12] == b"\0" * 10 + b"\xff\xff":
        ip = ip[12:]
    if len(ip) == 4:
        return "%s:%d" % (ipaddress.IPv4Address(ip), port)
    return "[%s]:%d" % (ipaddress.IPv6Address(ip), port)


# KaspadMessage payload members (field numbers from the wire facts)
ADDRESSES, REQUEST_ADDRESSES, PING, PONG, VERACK, VERSION, REJECT, READY = 1, 6, 16, 17, 19, 20, 22, 50
NAMES = {ADDRESSES: "addresses", REQUEST_ADDRESSES: "request_addresses", PING: "ping",
         PONG: "pong", VERACK: "verack", VERSION: "version", REJECT: "reject", READY: "recv_ready"}


def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--network", default="kaspa-mainnet")
    ap.add_argument("--version", type=int, default=10)
    ap.add_argument("--id", default=os.urandom(16).hex())
    ap.add_argument("--user-agent", default="/kaspad:2.0.1/grpcio-test-peer/")
    ap.add_argument("--no-compress", action="store_true")
    a = ap.parse_args()

    q = queue.Queue()

    def requests():
        while True:
            m = q.get()
            if m is None:
                return
            yield m

    comp = grpc.Compression.NoCompression if a.no_compress else grpc.Compression.Gzip
    ch = grpc.insecure_channel("%s:%d" % (a.host, a.port), compression=comp)
    call = ch.stream_stream("/protowire.P2P/MessageStream")(requests(), timeout=20)
    version = (fld_uint(1, a.version) + fld_uint(3, 1700000000000) +
               fld_bytes(5, bytes.fromhex(a.id)) + fld_bytes(6, a.user_agent.encode()) +
               fld_bytes(10, a.network.encode()))
    q.put(fld_bytes(VERSION, version))
    st = {"version": False, "verack": False, "ready": False, "sent_ready": False}
    nonce = int.from_bytes(os.urandom(8), "little")
    timer = None
    try:
        for raw in call:
            f = parse(raw)
            kind = next((k for k in NAMES if k in f), None)
            body = parse(f[kind][0]) if kind else {}
            if kind == VERSION:
                st["version"] = True
                out(event="version", protocolVersion=body.get(1, [0])[0],
                    userAgent=body.get(6, [b""])[0].decode(errors="replace"),
                    network=body.get(10, [b""])[0].decode(errors="replace"),
                    id=body.get(5, [b""])[0].hex())
                q.put(fld_bytes(VERACK, b""))
            elif kind == VERACK:
                st["verack"] = True
                out(event="verack")
            elif kind == READY:
                st["ready"] = True
                out(event="recv_ready")
            elif kind == REQUEST_ADDRESSES:
                out(event="request_addresses")
                q.put(fld_bytes(ADDRESSES, b""))
            elif kind == ADDRESSES:
                out(event="addresses", list=[fmt_addr(x) for x in body.get(1, [])])
                timer = threading.Timer(0.3, lambda: q.put(None))
                timer.start()
            elif kind == PONG:
                out(event="pong", match=body.get(1, [0])[0] == nonce)
            elif kind == REJECT:
                out(event="reject", reason=body.get(1, [b""])[0].decode(errors="replace"))
                break
            else:
                out(event="other", fields=sorted(f))
            if st["version"] and st["verack"] and not st["sent_ready"]:
                st["sent_ready"] = True
                q.put(fld_bytes(READY, b""))
            if st["sent_ready"] and st["ready"] and "established" not in st:
                st["established"] = True
                out(event="ready")
                q.put(fld_bytes(REQUEST_ADDRESSES, b""))
                q.put(fld_bytes(PING, fld_uint(1, nonce)))
        out(event="end", reason="peer_closed")
    except grpc.RpcError as e:
        out(event="end", reason="rpc_error", code=e.code().value[0], details=e.details())
    finally:
        q.put(None)
        if timer:
            timer.cancel()
        ch.close()


if __name__ == "__main__":
    main()
