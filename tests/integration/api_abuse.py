#!/usr/bin/env python3
"""Hostile clients against kiln's control socket (t_50): junk, unknown
method, a 4 MiB line, 50 concurrent clients. Prints one OK/BAD line each.
usage: api_abuse.py SOCKET"""
import json, socket, sys, threading

path = sys.argv[1]

def call(line, timeout=20):
    """Send one line, return the reply line. A timeout is an error (raised):
    kiln must answer every line, even a hostile one. If kiln closes the
    connection while the line is still being sent, whatever it had answered
    is still read."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(line)
    except (BrokenPipeError, ConnectionResetError):
        pass
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return buf

def code(resp):
    try:
        return json.loads(resp)["error"]["code"]
    except Exception:
        return None

def checked(name, line, want):
    try:
        r = call(line)
    except socket.timeout:
        print(name, "BAD (no answer within 20 s)")
        return
    print(name, "OK" if code(r) == want else "BAD %r" % r[:200])

checked("junk", b"this is not json\n", -32700)
checked("unknown-method", b'{"jsonrpc":"2.0","id":1,"method":"vm.fly"}\n', -32601)

big = b'{"jsonrpc":"2.0","id":2,"method":"vm.info","params":{"x":"' + b"a" * (4 << 20) + b'"}}\n'
try:
    r = call(big)
    print("4MiB", "OK" if code(r) == -32600 else "BAD %r" % r[:200])
except socket.timeout:
    print("4MiB BAD (no answer within 20 s)")

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
