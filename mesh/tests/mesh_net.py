# SPDX-License-Identifier: GPL-2.0-only
# Traffic helpers for mesh/tests/int_mesh_netns.sh, run inside a namespace:
#   tcp-serve PORT            accept forever, answer "ok" to each connection
#   tcp-try HOST PORT         exit 0 when a connection gets "ok" within 1 s
#   udp-serve PORT [FILE]     answer "ok" to each datagram; with FILE, write the count there
#   udp-try HOST PORT         exit 0 when a datagram gets "ok" back within 1 s
#   udp-flood HOST PORT N MS  send N datagrams, one every MS milliseconds
#   ping HOST [N]             ICMP echo (raw socket; iputils is not installed everywhere):
#                             exit 0 when N requests (default 2) all get replies within 1 s
#   rtt HOST N                N echo requests 10 ms apart; prints the median RTT in microseconds
import os, socket, struct, sys, time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

mode = sys.argv[1]
if mode == "tcp-serve":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.sendall(b"ok")
        c.close()
elif mode == "tcp-try":
    try:
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=1)
        sys.exit(0 if c.recv(2) == b"ok" else 1)
    except OSError:
        sys.exit(1)
elif mode == "udp-serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    n = 0
    while True:
        _, a = s.recvfrom(2048)
        n += 1
        s.sendto(b"ok", a)
        if len(sys.argv) > 3:
            with open(sys.argv[3], "w") as f:
                f.write(str(n))
elif mode == "udp-try":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(b"hi", (sys.argv[2], int(sys.argv[3])))
        sys.exit(0 if s.recvfrom(16)[0] == b"ok" else 1)
    except OSError:
        sys.exit(1)
elif mode in ("ping", "rtt"):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    rtts = []
    for seq in range(int(sys.argv[3]) if len(sys.argv) > 3 else 2):
        t0 = time.perf_counter()
        body = struct.pack("!HH", ident, seq) + b"vigil-mesh"
        hdr = struct.pack("!BBH", 8, 0, 0)
        pkt = struct.pack("!BBH", 8, 0, csum(hdr + body)) + body
        s.sendto(pkt, (sys.argv[2], 0))
        deadline = time.time() + 1
        while True:
            left = deadline - time.time()
            if left <= 0:
                sys.exit(1)
            s.settimeout(left)
            try:
                data, addr = s.recvfrom(2048)
            except OSError:
                sys.exit(1)
            ihl = (data[0] & 15) * 4
            t, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if addr[0] == sys.argv[2] and t == 0 and rid == ident and rseq == seq:
                break
        rtts.append((time.perf_counter() - t0) * 1e6)
        if mode == "rtt":
            time.sleep(0.01)
    if mode == "rtt":
        print("%.0f" % sorted(rtts)[len(rtts) // 2])
    sys.exit(0)
elif mode == "udp-flood":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(int(sys.argv[4])):
        try:
            s.sendto(b"x" * 100, (sys.argv[2], int(sys.argv[3])))
        except OSError:
            pass
        time.sleep(int(sys.argv[5]) / 1000)
