#!/usr/bin/env python3
"""Read or damage a kiln snapshot's state file (docs/snapshot.md, vmm/base/snapfile.c).

  snapfile.py sections STATE      one line per section: NAME DATA_OFFSET DATA_LENGTH
  snapfile.py flip STATE OFFSET   invert the byte at OFFSET
  snapfile.py version STATE N     set the header's format version to N (checksum kept)
  snapfile.py host STATE TEXT     say the snapshot was taken on host TEXT, with a valid
                                  header checksum (a snapshot from another machine)
  snapfile.py flip-data MEMORY    invert a byte in the middle of the memory file's
                                  largest data extent, in place; print its offset
"""
import os
import struct
import sys
import zlib


def sections(data):
    if data[:8] != b"KILNSNAP":
        raise SystemExit("not a kiln snapshot")
    fmt, nr = struct.unpack_from("<II", data, 8)
    pos = 16
    for _ in range(2):  # kiln version, host identity
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2 + n
    pos += 4  # header checksum
    out = []
    for _ in range(nr):
        (n,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2:pos + 2 + n].decode()
        pos += 2 + n
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        out.append((name, pos, length))
        pos += length + 4
    if pos != len(data):
        raise SystemExit(f"{len(data) - pos} bytes after the last section")
    return out


def data_extents(fd):
    size, pos, out = os.fstat(fd).st_size, 0, []
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: holes to the end
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, end))
        pos = end
    return out


def flip_data(path):
    fd = os.open(path, os.O_RDWR)
    start, end = max(data_extents(fd), key=lambda x: x[1] - x[0])
    off = (start + end) // 2
    b = os.pread(fd, 1, off)
    os.pwrite(fd, bytes([b[0] ^ 0xFF]), off)
    os.close(fd)
    print(off)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "flip-data":
        flip_data(path)
        return
    data = bytearray(open(path, "rb").read())
    if cmd == "sections":
        for name, off, length in sections(data):
            print(name, off, length)
    elif cmd == "flip":
        off = int(sys.argv[3])
        data[off] ^= 0xFF
        open(path, "wb").write(data)
    elif cmd == "host":
        pos = 16
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2 + n  # the kiln version
        (n,) = struct.unpack_from("<H", data, pos)
        host = sys.argv[3].encode()
        head = bytes(data[:pos]) + struct.pack("<H", len(host)) + host
        rest = bytes(data[pos + 2 + n + 4:])  # after the old host and checksum
        open(path, "wb").write(head + struct.pack("<I", zlib.crc32(head)) + rest)
    elif cmd == "version":
        struct.pack_into("<I", data, 8, int(sys.argv[3]))
        open(path, "wb").write(data)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
