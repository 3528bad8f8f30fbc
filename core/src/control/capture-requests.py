#!/usr/bin/python3
# Captures the mode 6 requests of the stock tools, for the golden bytes in tests.rs.
# Run inside a network namespace made for it (port 123, nothing else there):
#   ip netns add cap; ip -n cap link set lo up
#   ip netns exec cap /usr/bin/python3 capture-requests.py > requests.txt &
#   ip netns exec cap /usr/bin/python3 .../ntpq -p 127.0.0.1; ip netns exec cap ntpstat
#   ip netns del cap
# It answers READSTAT with one association (id 1, status 0x9614) and READVAR with a
# few variables, so that ntpq goes on to its per-association queries.
import socket, struct, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 123))
while True:
    data, peer = s.recvfrom(2048)
    print(peer[1], data.hex(), flush=True)
    if len(data) < 12:
        continue
    vn = data[0] & 0x38
    op = data[1] & 0x1F
    seq, _, assoc = struct.unpack("!HHH", data[2:8])
    if op == 1 and assoc == 0:
        body = struct.pack("!HH", 1, 0x9614)
    else:
        body = b"srcadr=127.127.1.0, srchost=\"LOCAL(0)\", hmode=3, stratum=10, refid=LOCL, tc=6\r\n"
    while len(body) % 4:
        body += b"\0"
    hdr = struct.pack("!BBHHHHH", vn | 6, 0x80 | op, seq, 0x0615 if assoc == 0 else 0x9614,
                      assoc, 0, len(body))
    s.sendto(hdr + body, peer)
