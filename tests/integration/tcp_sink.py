#!/usr/bin/env python3
"""Accept one TCP connection on HOST:PORT and record every line it sends.

usage: tcp_sink.py HOST PORT OUT    (OUT gets one line per received line, flushed at
once; "SINK-EOF" when the peer closed, "SINK-ERROR ..." on a failure)"""
import socket, sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = open(path, "w", buffering=1)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(1)
srv.settimeout(300)
try:
    conn, _ = srv.accept()
    conn.settimeout(300)
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out.write(line.decode(errors="replace") + "\n")
    out.write("SINK-EOF\n")
except Exception as e:  # noqa: BLE001 - reported to the test
    out.write("SINK-ERROR %s\n" % e)
