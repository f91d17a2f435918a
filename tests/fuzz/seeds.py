#!/usr/bin/env python3
"""Write the committed seed corpora, tests/fuzz/corpus/TARGET/NAME.

Each seed is a small, valid input of its target's format (see the target's
header comment): real API requests (docs/api.md), config files, virtio
driver sequences, a hand-built bzImage header and a PVH ELF. Run it after
changing a target's input format; the files are committed so that a clean
clone does not start blind.
  tests/fuzz/seeds.py            rewrite every corpus
"""
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
corpora = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    corpora.setdefault(target, {})[name] = data


# --- JSON-RPC requests (fuzz_api, fuzz_server) -------------------------------
KERNEL = "/proc/self/exe"  # a readable, non-empty regular file wherever it runs
CONFIG = {"machine": {"vcpus": 2, "memory_mib": 512},
          "boot": {"kernel": KERNEL, "initrd": KERNEL, "cmdline": "console=ttyS0"},
          "disks": [{"id": "root", "path": KERNEL, "readonly": True, "serial": "S1"}],
          "nets": [{"id": "net0", "tap": "kt0", "mac": "52:54:00:12:34:56"}],
          "console": "stdio", "rng": True, "acpi": True, "seccomp": "on"}


def req(method, params=None, rid=1):
    r = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        r["params"] = params
    if rid is not None:
        r["id"] = rid
    return json.dumps(r, separators=(",", ":"))


requests = {
    "configure": req("vm.configure", CONFIG),
    "configure_min": req("vm.configure", {"boot": {"kernel": KERNEL}}),
    "configure_files": req("vm.configure", {
        "boot": {"kernel": KERNEL, "cmdline": ""}, "console": "file=/tmp/c.log",
        "disks": [{"path": KERNEL, "readonly": True}, {"id": "d2", "path": KERNEL,
                                                      "readonly": True, "serial": None}],
        "nets": [{"tap": "kt1", "mac": None}], "rng": False, "acpi": False, "seccomp": "log"}),
    "boot": req("vm.boot", rid=2),
    "boot_params": req("vm.boot", {"x": 1}, rid="b"),
    "pause": req("vm.pause", rid=3),
    "resume": req("vm.resume"),
    "shutdown": req("vm.shutdown", {}, rid=4),
    "stop": req("vm.stop", [], rid=5),
    "info": req("vm.info", None, rid=6),
    "metrics": req("vm.metrics", rid=7),
    "disk_add": req("disk.add", {"path": KERNEL, "readonly": True, "serial": "ABC"}, rid=8),
    "disk_add_bad": req("disk.add", {"path": "/d.img", "serial": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, rid=3),
    "net_add": req("net.add", {"tap": "kt2", "mac": "52:54:00:00:00:01", "id": "n"}, rid=9),
    "restore": req("vm.restore", {"path": "/nonexistent-snap", "paused": True,
                                  "disks": [{"id": "disk0", "path": KERNEL, "readonly": True}],
                                  "nets": [{"id": "net0", "tap": "kt3", "mac": "52:54:00:00:00:02"}]}, rid=12),
    "subscribe": req("events.subscribe", rid=10),
    "discover": req("rpc.discover", rid=11),
    "batch": '[{"jsonrpc":"2.0","method":"vm.info","id":2}]',
    "notification": req("vm.info", rid=None),
    "bad_version": '{"jsonrpc":"1.0","method":"vm.info","id":1}',
    "parse_error": '{"jsonrpc":"2.0","method":',
}
for name, line in requests.items():
    seed("fuzz_api", name, line + "\n")
seed("fuzz_api", "session", "\n".join(requests[k] for k in
     ("subscribe", "configure", "disk_add", "net_add", "boot", "pause", "info",
      "resume", "metrics", "shutdown", "stop")) + "\n")
seed("fuzz_api", "config_file", json.dumps(CONFIG, indent=1))
# fuzz_server: byte 0 picks the chunk sizes (CHUNKS[low], CHUNKS[high]).
for i, (name, b0) in enumerate((("bytewise", 0x00), ("split_7_13", 0x75),
                                 ("whole", 0xff), ("crlf", 0x3a))):
    lines = [requests[k] for k in ("subscribe", "configure", "boot", "info",
                                    "parse_error", "batch", "pause", "stop")]
    sep = "\r\n" if name == "crlf" else "\n"
    seed("fuzz_server", name, bytes([b0]) + (sep.join(lines) + sep).encode())
seed("fuzz_server", "no_final_newline", b"\x44" + requests["info"].encode())
seed("fuzz_server", "blank_lines", b"\x21" + b"\n \t\r\n" + requests["discover"].encode() + b"\n")

# --- config files (fuzz_config) ----------------------------------------------
seed("fuzz_config", "full", json.dumps(CONFIG, indent=2) + "\n")
seed("fuzz_config", "minimal", json.dumps({"boot": {"kernel": KERNEL}}))
# A net with neither tap nor fd: parsed, refused by validation, printed with
# "tap": null, which must read back (found by fuzz_config on 2026-12-03).
seed("fuzz_config", "net_without_tap_or_fd", json.dumps({"boot": {"kernel": KERNEL}, "nets": [{"id": "n"}]}))
seed("fuzz_config", "net_by_fd", json.dumps({"boot": {"kernel": KERNEL}, "nets": [{"fd": 9, "tap": None}]}))
seed("fuzz_config", "no_acpi", json.dumps({
    "machine": {"vcpus": 64, "memory_mib": 16}, "boot": {"kernel": KERNEL, "initrd": None,
                                                         "cmdline": None},
    "acpi": False, "console": "pty", "seccomp": "off"}))
seed("fuzz_config", "devices", json.dumps({
    "boot": {"kernel": KERNEL},
    "disks": [{"path": KERNEL, "readonly": True}] * 2 + [{"id": "x", "path": KERNEL}],
    "nets": [{"tap": "kt%d" % i} for i in range(3)], "console": "socket=/tmp/k.sock",
    "rng": True}))
seed("fuzz_config", "dup_id", json.dumps({
    "boot": {"kernel": KERNEL}, "disks": [{"id": "rng", "path": KERNEL}], "rng": True}))
seed("fuzz_config", "bad_type", '{"machine": {"vcpus": "two"}}')
seed("fuzz_config", "empty_object", "{}")

# --- virtio driver sequences (fuzz_virtio) -----------------------------------
# ops: 0 BAR wr, 1 BAR rd, 2 cfg wr, 3 cfg rd, 4 RAM wr, 5 kick, 6 run,
#      7 bring-up, 8 host input, 9 offer, 10 pause; rings: Q_DESC(q) = 0x1000 + 0x1000 q
VARIANT = {"blk": 0, "blk_ro": 1, "blk_aio": 2, "net": 3, "console": 4, "rng": 5, "fs": 6}
F_NEXT, F_WRITE = 1, 2


def ram(gpa, data):
    out = b""
    while data:
        part, data = data[:255], data[255:]
        out += bytes([4]) + struct.pack("<HB", gpa, len(part)) + part
        gpa += len(part)
    return out


def desc(q, i, addr, length, flags=0, nxt=0):
    return ram(0x1000 + 0x1000 * q + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))


def offer(q, head):
    return bytes([9, q, head])


def kick(q, bar=False):
    return bytes([5, q | (0x80 if bar else 0)])


RUN = bytes([6, 7])
UP = bytes([7, 0])


def blk_req(kind, sector=0, data_len=512, write_data=False):
    s = ram(0x8000, struct.pack("<IIQ", kind, 0, sector))
    s += desc(0, 0, 0x8000, 16, F_NEXT, 1)
    if data_len:
        if write_data:
            s += ram(0x9000, bytes(range(64)))
        s += desc(0, 1, 0x9000, data_len, F_NEXT | (0 if write_data else F_WRITE), 2)
        s += desc(0, 2, 0xa000, 1, F_WRITE)
    else:
        s += desc(0, 1, 0xa000, 1, F_WRITE)
    return s + offer(0, 0) + kick(0) + RUN


for variant in ("blk", "blk_ro", "blk_aio"):
    v = bytes([VARIANT[variant]])
    seed("fuzz_virtio", variant + "_read", v + UP + blk_req(0))
    seed("fuzz_virtio", variant + "_write", v + UP + blk_req(1, 3, 512, True))
    seed("fuzz_virtio", variant + "_flush", v + UP + blk_req(4, 0, 0))
    seed("fuzz_virtio", variant + "_get_id", v + UP + blk_req(8, 0, 20))
seg = struct.pack("<QII", 1, 8, 0)  # discard / write zeroes: sector, count, flags
for kind, name in ((11, "discard"), (13, "write_zeroes")):
    s = bytes([0]) + UP + ram(0x8000, struct.pack("<IIQ", kind, 0, 0)) + ram(0x9000, seg)
    s += desc(0, 0, 0x8000, 16, F_NEXT, 1) + desc(0, 1, 0x9000, 16, F_NEXT, 2)
    s += desc(0, 2, 0xa000, 1, F_WRITE) + offer(0, 0) + kick(0, True) + RUN
    seed("fuzz_virtio", "blk_" + name, s)
seed("fuzz_virtio", "blk_two_requests", bytes([0]) + UP + blk_req(0) + blk_req(1, 1, 512, True))

hdr = bytes(12)
frame = bytes.fromhex("ffffffffffff525400010203") + b"\x08\x06" + bytes(46)
net = bytes([VARIANT["net"]]) + UP
net_tx = ram(0x8000, hdr + frame) + desc(1, 0, 0x8000, len(hdr + frame)) + offer(1, 0) + kick(1) + RUN
net_rx = desc(0, 0, 0x9000, 1526, F_WRITE) + desc(0, 1, 0xa000, 1526, F_WRITE) + offer(0, 0) + offer(0, 1) + kick(0)
net_in = bytes([8, len(hdr + frame)]) + hdr + frame
seed("fuzz_virtio", "net_tx", net + net_tx)
seed("fuzz_virtio", "net_rx", net + net_rx + net_in + RUN + net_in + RUN)
seed("fuzz_virtio", "net_both", net + net_rx + net_tx + net_in + RUN)
seed("fuzz_virtio", "net_tx_split", net + ram(0x8000, hdr) + ram(0x8100, frame)
     + desc(1, 0, 0x8000, 12, F_NEXT, 1) + desc(1, 1, 0x8100, len(frame)) + offer(1, 0) + kick(1, True) + RUN)

con = bytes([VARIANT["console"]]) + UP
con_rx = desc(0, 0, 0x9000, 64, F_WRITE) + offer(0, 0) + kick(0)
con_tx = ram(0x8000, b"hello, kiln\n") + desc(1, 0, 0x8000, 12) + offer(1, 0) + kick(1) + RUN
seed("fuzz_virtio", "console_tx", con + con_tx)
seed("fuzz_virtio", "console_rx", con + con_rx + bytes([8, 4]) + b"abc\n" + RUN)
seed("fuzz_virtio", "console_both", con + con_rx + con_tx + bytes([8, 2]) + b"\x01x" + RUN)

rng = bytes([VARIANT["rng"]]) + UP
seed("fuzz_virtio", "rng", rng + desc(0, 0, 0x9000, 64, F_WRITE) + offer(0, 0) + kick(0) + RUN)
seed("fuzz_virtio", "rng_chain", rng + desc(0, 0, 0x9000, 16, F_WRITE | F_NEXT, 1)
     + desc(0, 1, 0x9100, 4096, F_WRITE) + offer(0, 0) + kick(0, True) + RUN)
# vm.pause in the middle: a request kicked, the function quiesced (in-flight
# I/O completed), saved, held over loop runs, resumed (op 10).
PAUSE = bytes([10, 3])
seed("fuzz_virtio", "blk_aio_pause", bytes([VARIANT["blk_aio"]]) + UP + blk_req(1, 2, 512, True)[:-2] + PAUSE + RUN)
seed("fuzz_virtio", "net_pause", net + net_rx + PAUSE + net_in + net_tx + RUN)
seed("fuzz_virtio", "console_pause", con + con_rx + PAUSE + bytes([8, 4]) + b"abc\n" + RUN + con_tx)
# A snapshot's restore into the running function (op 11): the blob as saved,
# and with one byte of it changed (a queue's ring address, a feature, ...).
RESTORE = bytes([11, 0])
seed("fuzz_virtio", "blk_restore", bytes([VARIANT["blk"]]) + UP + RESTORE + blk_req(1, 2, 512, True))
seed("fuzz_virtio", "net_restore", net + net_rx + RESTORE + net_in + net_tx + RUN)
seed("fuzz_virtio", "console_restore", con + con_rx + RESTORE + bytes([8, 4]) + b"abc\n" + RUN + con_tx)
seed("fuzz_virtio", "rng_restore_changed", rng + bytes([11, 1, 40, 0, 0xff]) + desc(0, 0, 0x9000, 64, F_WRITE)
     + offer(0, 0) + kick(0) + RUN)
# virtio-fs (queue 1 carries requests; the share holds "hello", "dir/inner"
# and "up" -> ".."): FUSE requests written into RAM, each a readable
# descriptor and a writable one for the reply, offered and run.
def fuse_msg(opcode, node, unique, args=b""):
    return struct.pack("<IIQQIIIHH", 40 + len(args), opcode, unique, node, 0, 0, 0, 0, 0) + args


def fs_req(slot, msg, reply_len=512):
    req, rep, d = 0x8000 + 0x400 * slot, 0xc000 + 0x400 * slot, 2 * slot
    return (ram(req, msg) + desc(1, d, req, len(msg), F_NEXT, d + 1)
            + desc(1, d + 1, rep, reply_len, F_WRITE) + offer(1, d) + kick(1) + RUN)


fs = bytes([VARIANT["fs"]]) + UP
fs_init = fs_req(0, fuse_msg(26, 0, 1, struct.pack("<IIII", 7, 38, 0x20000, (1 << 13) | (1 << 14)) + bytes(48)))
seed("fuzz_virtio", "fs_init", fs + fs_init)
seed("fuzz_virtio", "fs_lookup_read", fs + fs_init
     + fs_req(1, fuse_msg(1, 1, 2, b"hello\0"))
     + fs_req(2, fuse_msg(14, 2, 3, struct.pack("<II", 0, 0)))
     + fs_req(3, fuse_msg(15, 2, 4, struct.pack("<QQIIQII", 0, 0, 16, 0, 0, 0, 0))))
seed("fuzz_virtio", "fs_readdir", fs + fs_init
     + fs_req(1, fuse_msg(27, 1, 2, struct.pack("<II", 0, 0)))
     + fs_req(2, fuse_msg(44, 1, 3, struct.pack("<QQIIQII", 0, 0, 1024, 0, 0, 0, 0)), 1024))
seed("fuzz_virtio", "fs_pause", fs + fs_init + fs_req(1, fuse_msg(1, 1, 2, b"up\0"))[:-2] + PAUSE + RUN)

# Register traffic without the bring-up macro: the driver's own steps,
# config space (MSI-X capability) and the MSI-X table.
manual = bytes([VARIANT["rng"]])
for off, ln, val in ((0x14, 0, 0), (0x14, 0, 3), (0x00, 2, 1), (0x08, 2, 1), (0x0c, 2, 1),
                     (0x14, 0, 0xb), (0x16, 1, 0), (0x18, 1, 16), (0x20, 3, 0x1000),
                     (0x28, 3, 0x1400), (0x30, 3, 0x1800), (0x1a, 1, 1), (0x1c, 1, 1),
                     (0x4010, 2, 0xfee00000), (0x4018, 2, 0x41), (0x401c, 2, 0),
                     (0x14, 0, 0xf)):
    manual += bytes([0]) + struct.pack("<HBQ", off, ln, val)
manual += bytes([2, 0x40, 1]) + struct.pack("<I", 0x8000) + bytes([3, 0x34, 0])
manual += bytes([1, 0, 0x10, 0]) + bytes([1, 0x12, 0x60, 0]) + RUN
seed("fuzz_virtio", "rng_manual", manual + desc(0, 0, 0x9000, 8, F_WRITE) + offer(0, 0) + kick(0) + RUN)

# --- port I/O (fuzz_pio) ------------------------------------------------------
# ops: 0 port wr (index, log2 len, u32), 1 port rd, 2/3 BAR wr/rd, 4 run,
#      5 COM1 input, 6 host events, 7 config cycle (slot, reg, log2 len, u32, wr)
PORTS = [0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x60, 0x64, 0x70, 0x71] + \
    list(range(0x600, 0x610)) + list(range(0xcf8, 0xd00))


def pw(port, val, ln=0):
    return bytes([0, PORTS.index(port), ln]) + struct.pack("<I", val)


def pr(port, ln=0):
    return bytes([1, PORTS.index(port), ln])


def cfgc(slot, reg, val=0, ln=2, wr=False):
    return bytes([7, slot, reg, ln]) + struct.pack("<I", val) + bytes([1 if wr else 0])


# Linux's 8250 probe and a line of output, then input through the console.
uart = pw(0x3fb, 0x80) + pw(0x3f8, 0x01) + pw(0x3f9, 0) + pw(0x3fb, 0x03) + pw(0x3fa, 0xc7)
uart += pw(0x3fc, 0x0b) + pw(0x3f9, 0x0f) + pr(0x3fa) + pr(0x3fd) + pw(0x3f8, ord("k"))
uart += pw(0x3fc, 0x1b) + pw(0x3f8, 0x55) + pr(0x3f8) + pw(0x3fc, 0x0b)
uart += bytes([5, 6]) + b"hello\n" + bytes([4]) + pr(0x3fd) + pr(0x3f8) + pr(0x3fa) + pr(0x3fe)
seed("fuzz_pio", "serial", uart)
kbd = pw(0x64, 0xaa) + pr(0x60) + pw(0x64, 0x20) + pr(0x60) + pw(0x64, 0x60) + pw(0x60, 0x47)
kbd += pw(0x64, 0xd4) + pw(0x60, 0xf4) + pr(0x60) + pw(0x60, 0xff) + pr(0x64) + pr(0x60)
kbd += bytes([6, 1]) + pr(0x60) + pr(0x60) + pw(0x64, 0xfe)
seed("fuzz_pio", "i8042", kbd)
rtc = b"".join(pw(0x70, r) + pr(0x71) for r in (0x0a, 0x0b, 0x00, 0x02, 0x04, 0x0c, 0x0d, 0x32))
rtc += pw(0x70, 0x0b) + pw(0x71, 0x82) + pw(0x70, 0x00) + pw(0x71, 0x30) + pw(0x70, 0x0b) + pw(0x71, 0x02)
seed("fuzz_pio", "rtc", rtc)
pm = pr(0x600, 1) + pw(0x602, 0x0100, 1) + pr(0x608, 2) + pr(0x608, 2) + bytes([6, 2])
pm += pr(0x600, 1) + pw(0x600, 0x0100, 1) + pw(0x604, 0x0001, 1) + pr(0x604, 1)
pm += pw(0x604, 0x2000 | (5 << 10), 1)
seed("fuzz_pio", "acpi_pm", pm)
pci = b"".join(cfgc(s, 0) for s in range(4)) + cfgc(1, 0x10, 0xffffffff, wr=True) + cfgc(1, 0x10)
pci += cfgc(1, 0x04, 0x6, 1, True) + cfgc(1, 0x34, ln=0)
for reg in range(0x40, 0x100, 4):
    pci += cfgc(1, reg)
pci += cfgc(1, 0x40, 0xc0000000, wr=True)  # MSI-X control: enable + function mask (if there)
pci += bytes([2]) + struct.pack("<HBQ", 0x4000, 3, 0xfee00000) + bytes([3]) + struct.pack("<HB", 0x6000, 2)
pci += pw(0xcf8, 0x80000800) + pr(0xcfc, 1) + pr(0xcfe, 1) + pr(0xcfd, 0) + pw(0xcf8, 0x81000000)
pci += pr(0xcfc, 2) + pw(0xcf9, 0x06)
seed("fuzz_pio", "pci", pci)

# --- kernel images (fuzz_loader) ---------------------------------------------
def bzimage(version=0x020f, relocatable=1, pref=0x1000000, init_size=0x20000, pm=b"\x90" * 512):
    setup_sects = 1
    img = bytearray(512 * (setup_sects + 1))
    img[0x1f1] = setup_sects
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200] = 0xeb          # jmp short over the header
    img[0x201] = 0x66          # to 0x268: header through init_size/handover
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 0x01          # LOADED_HIGH
    struct.pack_into("<I", img, 0x214, 0x100000)
    struct.pack_into("<I", img, 0x1f4, len(pm) // 16)   # syssize
    struct.pack_into("<I", img, 0x22c, 0x7fffffff)       # initrd_addr_max
    struct.pack_into("<I", img, 0x230, 0x200000)         # kernel_alignment
    img[0x234] = relocatable
    img[0x235] = 21
    struct.pack_into("<H", img, 0x236, 0x1 | 0x2)         # XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    struct.pack_into("<I", img, 0x238, 2048)             # cmdline_size
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    return bytes(img) + pm


def pvh_elf(entry=0x1000000, paddr=0x1000000, code=b"\xf4" * 64, memsz=0x2000, with_note=True):
    ehdr_len, phdr_len = 64, 56
    note = b""
    if with_note:
        name = b"Xen\x00"
        desc_ = struct.pack("<I", entry)
        note = struct.pack("<III", 4, len(desc_), 18) + name + desc_   # XEN_ELFNOTE_PHYS32_ENTRY
    phnum = 2 if with_note else 1
    data_off = ehdr_len + phnum * phdr_len
    note_off = data_off + len(code)
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehdr_len, 0, 0, ehdr_len,
                        phdr_len, phnum, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 7, data_off, paddr, paddr, len(code), memsz, 0x1000)
    if with_note:
        ph += struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return ehdr + ph + code + note


def loader_input(kernel, initrd=b"", flags=0x01):
    return bytes([flags]) + struct.pack("<I", len(kernel))[:3] + kernel + initrd


def bzimage_payload(payload):
    """A bzImage whose protected-mode part holds (payload) at offset 64, with the
    size trailer the kernel build appends (gzip's ISIZE is that already)."""
    pm = bytes(64) + payload + bytes(64)
    img = bytearray(bzimage(pm=pm + bytes(-len(pm) % 16)))
    struct.pack_into("<I", img, 0x248, 64)
    struct.pack_into("<I", img, 0x24c, len(payload))
    return bytes(img)


def xz_payload(data):
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32) + struct.pack("<I", len(data))


def zstd_payload(data):
    # Debian's python3 has no zstd module: the zstd program (tests/deps.sh).
    z = subprocess.run(["zstd", "-q", "-c", "-19"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return z + struct.pack("<I", len(data))


INITRD = b"070701" + bytes(104) + b"TRAILER!!!\x00"
seed("fuzz_loader", "bzimage", loader_input(bzimage(), INITRD))
seed("fuzz_loader", "bzimage_noinitrd", loader_input(bzimage(), b"", 0x20 | 0x02))
seed("fuzz_loader", "bzimage_fixed", loader_input(bzimage(relocatable=0), INITRD, 0x40))
seed("fuzz_loader", "bzimage_2_06", loader_input(bzimage(version=0x0206, pref=0), INITRD, 0x00))
seed("fuzz_loader", "pvh_elf", loader_input(pvh_elf(), INITRD))
seed("fuzz_loader", "pvh_elf_bss", loader_input(pvh_elf(memsz=0x100000), b"", 0x21))
seed("fuzz_loader", "elf_no_note", loader_input(pvh_elf(with_note=False), INITRD))
seed("fuzz_loader", "bzimage_xz_pvh", loader_input(bzimage_payload(xz_payload(pvh_elf())), INITRD))
seed("fuzz_loader", "bzimage_gzip_pvh", loader_input(bzimage_payload(gzip.compress(pvh_elf(), mtime=0)), INITRD))
seed("fuzz_loader", "bzimage_zstd_pvh", loader_input(bzimage_payload(zstd_payload(pvh_elf())), INITRD))
seed("fuzz_loader", "bzimage_xz_no_note",
     loader_input(bzimage_payload(xz_payload(pvh_elf(with_note=False))), INITRD))
seed("fuzz_loader", "elf_below_base", loader_input(pvh_elf(entry=0x1000, paddr=0x1000), INITRD))

# --- split rings (fuzz_queue) -------------------------------------------------
# byte 0: log2 size | 0x10 EVENT_IDX | 0x20 INDIRECT; bytes 1-2: start index;
# then the descriptor table, the avail ring (flags, idx, ring, used_event)
# and the 32 KiB area at 0x8000 that buffers and indirect tables live in.
def ring_seed(log2, flags, descs, heads, area=b""):
    size = 1 << log2
    table = b"".join(struct.pack("<QIHH", *d) for d in descs).ljust(16 * size, b"\0")
    avail = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    avail = avail.ljust(4 + 2 * size, b"\0") + struct.pack("<H", 0)
    return bytes([log2 | flags, 0, 0]) + table + avail + area


seed("fuzz_queue", "one_chain", ring_seed(2, 0, [(0x8000, 16, F_NEXT, 1), (0x8100, 512, F_NEXT | F_WRITE, 2),
                                                 (0x8400, 1, F_WRITE, 0)], [0]))
seed("fuzz_queue", "two_chains_event_idx", ring_seed(3, 0x10, [(0x8000, 64, 0, 0), (0x8100, 64, F_WRITE, 0)], [0, 1]))
seed("fuzz_queue", "indirect", ring_seed(2, 0x20, [(0x8000, 32, 4, 0)], [0],
                                         struct.pack("<QIHH", 0x8100, 16, F_NEXT, 1) + struct.pack("<QIHH", 0x8200, 8, F_WRITE, 0)))
# A descriptor chained to itself with no bytes: no length total ever grows, so
# only the hop bound ends the walk (the sabotage stage's queue-no-loop-bound
# must time out on this seed, not on one the fuzzer may or may not find).
seed("fuzz_queue", "zero_length_loop", ring_seed(1, 0, [(0x8000, 0, F_NEXT, 0)], [0]))

# --- FUSE requests (fuzz_fs) ----------------------------------------------------
# byte 0: bit 0 read-only share, bit 1 no INIT first, bit 2 the direct READ path
# with its data split as bits 3-7 say (fuzz_fs.c); then per request a u16
# length (bit 15: set the header's len to the true length) and the request.
# The share holds "file" (16 bytes), "dir/inner", "root" (a symlink to /) and
# "fifo"; node 1 is the root, new nodes count from 2, handles from 0.
FUSE = dict(LOOKUP=1, FORGET=2, GETATTR=3, SETATTR=4, READLINK=5, SYMLINK=6, MKNOD=8, MKDIR=9,
            UNLINK=10, RMDIR=11, RENAME=12, LINK=13, OPEN=14, READ=15, WRITE=16, STATFS=17,
            RELEASE=18, FSYNC=20, SETXATTR=21, GETXATTR=22, LISTXATTR=23, REMOVEXATTR=24,
            FLUSH=25, OPENDIR=27, READDIR=28, RELEASEDIR=29, ACCESS=34, CREATE=35,
            BATCH_FORGET=42, FALLOCATE=43, READDIRPLUS=44, RENAME2=45, LSEEK=46,
            SETUPMAPPING=48, REMOVEMAPPING=49)


def fuse(op, node=1, args=b""):
    body = struct.pack("<IIQQIIIHH", 0, FUSE[op], 7, node, 0, 0, 0, 0, 0) + args
    return struct.pack("<H", 0x8000 | len(body)) + body


def fuse_seq(flags, *reqs):
    return bytes([flags]) + b"".join(reqs)


def z(name):
    return name.encode() + b"\0"


READ_IN = "<QQIIQII"  # fh, offset, size, read_flags, lock_owner, flags, padding
seed("fuzz_fs", "lookup_read", fuse_seq(0, fuse("LOOKUP", 1, z("file")), fuse("GETATTR", 2, bytes(16)),
                                        fuse("OPEN", 2, struct.pack("<II", 0, 0)),
                                        fuse("READ", 2, struct.pack(READ_IN, 0, 4, 8, 0, 0, 0, 0)),
                                        fuse("RELEASE", 2, struct.pack("<QIIQ", 0, 0, 0, 0)),
                                        fuse("FORGET", 2, struct.pack("<Q", 1))))
# The same through the direct READ path (bit 2), the data split into
# 1-byte, then 132-byte segments (bits 3-7: 0 and 1).
for pattern in (0, 1):
    seed("fuzz_fs", f"read_direct_{pattern}",
         fuse_seq(4 | pattern << 3, fuse("LOOKUP", 1, z("file")),
                  fuse("OPEN", 2, struct.pack("<II", 0, 0)),
                  fuse("READ", 2, struct.pack(READ_IN, 0, 1, 15, 0, 0, 0, 0)),
                  fuse("GETATTR", 2, bytes(16))))
seed("fuzz_fs", "create_write", fuse_seq(0, fuse("CREATE", 1, struct.pack("<IIII", 0o1, 0o644, 0, 0) + z("new")),
                                         fuse("WRITE", 2, struct.pack("<QQIIQII", 0, 0, 5, 0, 0, 0, 0) + b"hello"),
                                         fuse("FSYNC", 2, struct.pack("<QII", 0, 1, 0)),
                                         fuse("FALLOCATE", 2, struct.pack("<QQQII", 0, 0, 4096, 0, 0)),
                                         fuse("LSEEK", 2, struct.pack("<QQII", 0, 0, 3, 0)),
                                         fuse("SETATTR", 2, struct.pack("<IIQQQQQQIIIIIIII", 1 | 8, 0, 0, 2, 0,
                                                                        0, 0, 0, 0, 0, 0, 0o600, 0, 0, 0, 0))))
seed("fuzz_fs", "dirs", fuse_seq(0, fuse("MKDIR", 1, struct.pack("<II", 0o755, 0) + z("d2")),
                                 fuse("LOOKUP", 1, z("dir")), fuse("OPENDIR", 3, struct.pack("<II", 0, 0)),
                                 fuse("READDIRPLUS", 3, struct.pack(READ_IN, 0, 0, 4096, 0, 0, 0, 0)),
                                 fuse("READDIR", 3, struct.pack(READ_IN, 0, 0, 4096, 0, 0, 0, 0)),
                                 fuse("RENAME2", 1, struct.pack("<QII", 3, 0, 0) + z("file") + z("moved")),
                                 fuse("RMDIR", 1, z("d2"))))
seed("fuzz_fs", "links", fuse_seq(0, fuse("LOOKUP", 1, z("root")), fuse("READLINK", 2),
                                  fuse("LOOKUP", 2, z("etc")), fuse("SYMLINK", 1, z("s") + z("/etc/passwd")),
                                  fuse("LOOKUP", 1, z("file")), fuse("LINK", 1, struct.pack("<Q", 4) + z("hard")),
                                  fuse("UNLINK", 1, z("hard")),
                                  fuse("MKNOD", 1, struct.pack("<IIII", 0o10644, 0, 0, 0) + z("p"))))
seed("fuzz_fs", "xattr_statfs", fuse_seq(0, fuse("LOOKUP", 1, z("file")),
                                         fuse("SETXATTR", 2, struct.pack("<II", 3, 0) + z("user.k") + b"val"),
                                         fuse("GETXATTR", 2, struct.pack("<II", 64, 0) + z("user.k")),
                                         fuse("LISTXATTR", 2, struct.pack("<II", 0, 0)),
                                         fuse("REMOVEXATTR", 2, z("user.k")), fuse("STATFS", 1),
                                         fuse("ACCESS", 2, struct.pack("<II", 4, 0)),
                                         fuse("BATCH_FORGET", 0, struct.pack("<II", 1, 0) + struct.pack("<QQ", 2, 1))))
# The DAX window (4 MiB in fuzz_fs): "file" mapped by its node at 2 MiB,
# then through a handle at 0 read-write, then both ranges removed at once.
SETUPMAPPING_IN = "<QQQQQ"  # fh, foffset, len, flags, moffset
seed("fuzz_fs", "dax", fuse_seq(0, fuse("LOOKUP", 1, z("file")),
                                fuse("SETUPMAPPING", 2, struct.pack(SETUPMAPPING_IN, 2**64 - 1, 0, 2 << 20, 2,
                                                                    2 << 20)),
                                fuse("OPEN", 2, struct.pack("<II", 2, 0)),
                                fuse("SETUPMAPPING", 2, struct.pack(SETUPMAPPING_IN, 0, 0, 2 << 20, 3, 0)),
                                fuse("REMOVEMAPPING", 1, struct.pack("<I", 2) + struct.pack("<QQQQ", 0, 2 << 20,
                                                                                             2 << 20, 2 << 20))))
seed("fuzz_fs", "read_only", fuse_seq(1, fuse("LOOKUP", 1, z("file")), fuse("OPEN", 2, struct.pack("<II", 2, 0)),
                                      fuse("UNLINK", 1, z("file")), fuse("LOOKUP", 1, z("fifo")),
                                      fuse("OPEN", 3, struct.pack("<II", 0, 0))))

for target, files in corpora.items():
    d = os.path.join(ROOT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
print(" ".join("%s:%d" % (t, len(f)) for t, f in sorted(corpora.items())))
