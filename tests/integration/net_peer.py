#!/usr/bin/env python3
"""Host side of t_40: receive 32 MiB from the guest on HOST:5001 and send
32 MiB to the guest on GUEST:5002; print both sha256 sums.
usage: net_peer.py HOST_IP GUEST_IP"""
import hashlib, os, signal, socket, sys, threading, time

SIZE = 32 << 20
host_ip, guest_ip = sys.argv[1], sys.argv[2]
results = {}

def receive():
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host_ip, 5001)); srv.listen(1); srv.settimeout(240)
    try:
        conn, _ = srv.accept()
    except OSError as e:
        results["from_guest"] = "none (no connection from the guest: %s)" % e
        return
    conn.settimeout(120)
    h, got = hashlib.sha256(), 0
    while got < SIZE:
        chunk = conn.recv(min(1 << 20, SIZE - got))
        if not chunk:
            break
        h.update(chunk); got += len(chunk)
    conn.close()
    results["from_guest"] = "%s %d" % (h.hexdigest(), got)

def send():
    data = os.urandom(SIZE)
    deadline = time.time() + 240
    while True:
        try:
            s = socket.create_connection((guest_ip, 5002), timeout=5); break
        except OSError as e:
            if time.time() > deadline:
                results["to_guest"] = "connect failed (last: %s)" % e; return
            time.sleep(0.5)
    s.settimeout(120); s.sendall(data); s.close()
    results["to_guest"] = "%s %d" % (hashlib.sha256(data).hexdigest(), SIZE)

def report(*_):
    print("PEER-FROM-GUEST", results.get("from_guest", "none (still waiting)"))
    print("PEER-TO-GUEST", results.get("to_guest", "none (still waiting)"), flush=True)
    os._exit(0)

# t_40 ends a peer still waiting once kiln is gone: say how far it got.
signal.signal(signal.SIGTERM, report)
threads = [threading.Thread(target=f, daemon=True) for f in (receive, send)]
for t in threads: t.start()
for t in threads:
    while t.is_alive():
        t.join(0.5)
report()
