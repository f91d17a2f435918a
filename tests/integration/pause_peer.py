#!/usr/bin/env python3
"""Host side of t_52 (vm.pause is a quiesce): keeps three kinds of input
flowing towards the guest, before, during and after the pause, and says
exactly what it sent.

  tcp      a deterministic stream to GUEST_IP:PORT (64 KiB chunks, each
           starting with its 8-byte sequence number); sendall simply blocks
           while the guest does not take data (the pause), and goes on after.
  console  text lines to the virtio-console's socket backend (kiln's
           --console socket=PATH), one every 50 ms; the last one is "END N".
  frames   raw Ethernet frames written onto the tap (AF_PACKET), addressed to
           the guest's MAC and IP: ICMP echo requests with our id and a
           unique sequence, one every 50 ms; the guest's replies are read
           back from the tap and counted (replies to a sequence twice =
           a duplicated frame).

Control through files in CTL_DIR: everything starts once "go" exists and
stops once "stop" exists (the TCP stream is then shut down: the guest's nc
ends when it has read everything). Results, one line each:
  PEER-TCP <sha256> <bytes>
  PEER-CON <sha256> <bytes>
  PEER-FRAMES sent=N send_errors=N replies=N duplicates=N
  PEER-ERROR <what>     (for anything that went wrong)
usage: pause_peer.py CTL_DIR TAP HOST_IP GUEST_IP GUEST_MAC PORT CONSOLE_SOCK
"""
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

ctl, tap, host_ip, guest_ip, guest_mac, port, con_path = sys.argv[1:8]
port = int(port)
CHUNK = 64 << 10
results = {}
errors = []
done = threading.Event()  # the TCP stream ended: the frame reader may stop
t0 = time.time()


def note(msg):
    """A progress line (PEER-AT seconds what), for a test that hangs."""
    print("PEER-AT %.1f %s" % (time.time() - t0, msg), flush=True)


def flag(name):
    return os.path.exists(os.path.join(ctl, name))


def wait_flag(name, timeout):
    deadline = time.time() + timeout
    while not flag(name):
        if time.time() > deadline:
            raise TimeoutError("no %s file within %d s" % (name, timeout))
        time.sleep(0.05)


def tcp_sender():
    base = bytearray(random.Random(52).getrandbits(8 * CHUNK).to_bytes(CHUNK, "little"))
    h, sent, seq = hashlib.sha256(), 0, 0
    try:
        wait_flag("go", 240)
        deadline = time.time() + 60
        while True:
            try:
                s = socket.create_connection((guest_ip, port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        # Long enough for any pause the test makes; a guest that never takes
        # data again ends this with an error instead of a hang.
        s.settimeout(90)
        note("tcp connected")
        while not flag("stop"):
            base[0:8] = struct.pack(">Q", seq)
            chunk = bytes(base)
            # In pieces, so that "stop" is seen soon after a pause ends.
            for off in range(0, CHUNK, 16 << 10):
                s.sendall(chunk[off:off + (16 << 10)])
            h.update(chunk)
            sent += len(chunk)
            seq += 1
        note("tcp stop after %d bytes, shutting down" % sent)
        s.shutdown(socket.SHUT_WR)
        # The guest's nc closes its end once it has read everything.
        s.settimeout(60)
        while s.recv(4096):
            pass
        s.close()
        note("tcp closed by the guest")
    except Exception as e:  # report, never hang
        errors.append("tcp: %r after %d bytes" % (e, sent))
    results["tcp"] = "%s %d" % (h.hexdigest(), sent)
    done.set()


def console_writer():
    h, sent, seq = hashlib.sha256(), 0, 0
    s = None
    try:
        deadline = time.time() + 240
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(con_path)
                break
            except OSError:
                s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        wait_flag("go", 240)
        s.settimeout(90)
        while not flag("stop"):
            line = b"con %08d %s\n" % (seq, b"%064x" % (seq * 2654435761 % (1 << 256)))
            s.sendall(line)
            h.update(line)
            sent += len(line)
            seq += 1
            time.sleep(0.05)
        line = b"END %d\n" % seq
        s.sendall(line)
        h.update(line)
        sent += len(line)
        note("console END sent after %d bytes" % sent)
    except Exception as e:
        errors.append("console: %r after %d bytes" % (e, sent))
    results["con"] = "%s %d" % (h.hexdigest(), sent)
    # Stay connected until the guest is done: kiln reads what is still in
    # the socket after a close too, but a second client would be refused.
    done.wait(240)
    time.sleep(1)
    if s:
        s.close()


def csum(b):
    if len(b) % 2:
        b += b"\0"
    n = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    n = (n >> 16) + (n & 0xFFFF)
    n += n >> 16
    return ~n & 0xFFFF


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def frames():
    ident = 0x5252
    sent = send_errors = 0
    seen = {}
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        s.bind((tap, 0x0800))
        src_mac = s.getsockname()[4][:6]
        dst_mac = mac_bytes(guest_mac)
        src_ip, dst_ip = socket.inet_aton(host_ip), socket.inet_aton(guest_ip)

        def reader():
            s.settimeout(0.2)
            while not (done.is_set() and time.time() > reader.until):
                try:
                    pkt, addr = s.recvfrom(2048)
                except socket.timeout:
                    continue
                except OSError:  # the tap is gone: kiln has exited
                    break
                if addr[2] == socket.PACKET_OUTGOING or len(pkt) < 42:
                    continue
                ihl = (pkt[14] & 0xF) * 4
                if pkt[23] != 1:  # ICMP
                    continue
                icmp = pkt[14 + ihl:]
                if len(icmp) < 8 or icmp[0] != 0:  # echo reply
                    continue
                rid, rseq = struct.unpack("!HH", icmp[4:8])
                if rid == ident:
                    seen[rseq] = seen.get(rseq, 0) + 1

        reader.until = float("inf")
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        wait_flag("go", 240)
        seq = 0
        while not flag("stop"):
            payload = b"kiln-t52-frame %08d" % seq
            icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF) + payload
            icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq & 0xFFFF, 0,
                             64, 1, 0, src_ip, dst_ip)
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            try:
                s.send(dst_mac + src_mac + b"\x08\x00" + ip + icmp)
                sent += 1
            except OSError:
                send_errors += 1
            seq += 1
            time.sleep(0.05)
        done.wait(240)
        reader.until = time.time() + 2  # the last replies
        rt.join(10)
    except Exception as e:
        errors.append("frames: %r" % e)
    results["frames"] = "sent=%d send_errors=%d replies=%d duplicates=%d" % (
        sent, send_errors, len(seen), sum(n - 1 for n in seen.values()))


threads = [threading.Thread(target=f) for f in (tcp_sender, console_writer, frames)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("PEER-TCP", results.get("tcp", "none"))
print("PEER-CON", results.get("con", "none"))
print("PEER-FRAMES", results.get("frames", "none"))
for e in errors:
    print("PEER-ERROR", e)
sys.stdout.flush()
