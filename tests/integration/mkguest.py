#!/usr/bin/env python3
"""Write tiny hand-assembled guests as ELF files with a PVH entry note.

kiln boots them like any ELF vmlinux: vCPU 0 starts in 32-bit protected mode
at the entry, paging off. Each guest is a few bytes of machine code, so a
test can check one VMM behaviour in milliseconds, with exact exit counts.

usage: mkguest.py NAME OUTPUT [NAME OUTPUT ...]   (NAME: see GUESTS below)
(several at once: starting Python inside a nested L1 costs seconds)
"""
import struct
import sys

LOAD_ADDR = 0x100000

def out_byte(port, value):
    """mov al, value; out port, al (port < 0x100) or via dx."""
    if port < 0x100:
        return bytes([0xB0, value, 0xE6, port])
    return bytes([0x66, 0xBA]) + struct.pack("<H", port) + bytes([0xB0, value, 0xEE])

def serial_print(text):
    return b"".join(out_byte(0x3F8, c) for c in text.encode())

RESET = out_byte(0x64, 0xFE)          # i8042 pulse reset line
HALT_LOOP = bytes([0xF4, 0xEB, 0xFD])  # hlt; jmp back to hlt
UD2 = bytes([0x0F, 0x0B])             # invalid opcode, no IDT: triple fault
UNMAPPED = 0x40000000                 # 1 GiB: above the tiny guests' RAM, no memory slot

def jmp_abs(addr):
    """mov eax, addr; jmp eax (32-bit protected mode, flat CS)."""
    return bytes([0xB8]) + struct.pack("<I", addr) + bytes([0xFF, 0xE0])

GUESTS = {
    # Prints a line on COM1, then pulses the reset line: kiln exits 0.
    "hello-reset": serial_print("KILN-TINY-HELLO\n") + RESET + HALT_LOOP,
    # Faults with no IDT: a triple fault, kiln must exit 1 with a dump.
    "triple-fault": UD2,
    # Halts with interrupts off: never wakes; kiln must be stopped by signal.
    "halt": bytes([0xFA]) + HALT_LOOP,
    # Resets at once: the cheapest whole VM lifecycle.
    "reset": RESET + HALT_LOOP,
    # Jumps to a guest-physical address with no memory behind it: KVM must
    # fetch the next instruction from there to emulate it and cannot, so it
    # gives up (KVM_EXIT_INTERNAL_ERROR, emulation failure): kiln must exit 1
    # with a register dump showing where the guest went.
    "jump-unmapped": serial_print("KILN-TINY-JUMP\n") + jmp_abs(UNMAPPED) + HALT_LOOP,
}

def pvh_note(entry):
    name = b"Xen\0"
    desc = struct.pack("<I", entry)
    # namesz, descsz, type 18 = XEN_ELFNOTE_PHYS32_ENTRY
    return struct.pack("<III", len(name), len(desc), 18) + name + desc

def elf(code, entry):
    ehsize, phentsize, phnum = 64, 56, 2
    note = pvh_note(entry)
    note_off = ehsize + phnum * phentsize
    code_off = (note_off + len(note) + 15) & ~15
    header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        b"\x7fELF\x02\x01\x01" + b"\0" * 9,  # 64-bit, little-endian, v1
        2, 62, 1,                            # ET_EXEC, EM_X86_64, EV_CURRENT
        entry, ehsize, 0, 0,                 # e_entry, e_phoff, e_shoff, flags
        ehsize, phentsize, phnum, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, code_off, LOAD_ADDR, LOAD_ADDR,
                       len(code), len(code), 16)        # PT_LOAD, R+X
    notes = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0,
                        len(note), len(note), 4)        # PT_NOTE
    image = bytearray(header + load + notes + note)
    image += b"\0" * (code_off - len(image))
    return bytes(image + code)

def main():
    args = sys.argv[1:]
    if not args or len(args) % 2 or any(n not in GUESTS for n in args[::2]):
        sys.exit("usage: mkguest.py {%s} OUTPUT [NAME OUTPUT ...]" % ",".join(GUESTS))
    for name, path in zip(args[::2], args[1::2]):
        with open(path, "wb") as f:
            f.write(elf(GUESTS[name], LOAD_ADDR))

if __name__ == "__main__":
    main()
