#!/usr/bin/env python3
"""Hostile clients against kiln's control socket (t_50): junk, unknown
method, a 4 MiB line, 50 concurrent clients. Prints one OK/BAD line each.
usage: api_abuse.py SOCKET"""
import json, socket, sys, threading

path = sys.argv[1]

def call(line, timeout=20):
    s = socket.socket(socket.AF_UNIX); s.settimeout(timeout); s.connect(path)
    s.sendall(line)
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except OSError:
        pass
    s.close()
    return buf

def code(resp):
    try:
        return json.loads(resp)["error"]["code"]
    except Exception:
        return None

r = call(b"this is not json\n")
print("junk", "OK" if code(r) == -32700 else "BAD %r" % r[:200])
r = call(b'{"jsonrpc":"2.0","id":1,"method":"vm.fly"}\n')
print("unknown-method", "OK" if code(r) == -32601 else "BAD %r" % r[:200])
big = b'{"jsonrpc":"2.0","id":2,"method":"vm.info","params":{"x":"' + b"a" * (4 << 20) + b'"}}\n'
try:
    r = call(big)
    print("4MiB", "OK" if r == b"" or code(r) == -32600 else "BAD %r" % r[:200])
except (BrokenPipeError, ConnectionResetError):
    print("4MiB OK (disconnected)")

results = []
def client(i):
    try:
        r = call(b'{"jsonrpc":"2.0","id":%d,"method":"vm.info"}\n' % i)
        results.append(json.loads(r)["result"]["state"])
    except Exception as e:
        results.append("error %s" % e)
threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
for t in threads: t.start()
for t in threads: t.join()
ok = sum(1 for s in results if s in ("running", "paused"))
print("50-clients", "OK" if ok == 50 else "BAD %d/50 %s" % (ok, results[:3]))
