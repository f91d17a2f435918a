# shellcheck shell=bash
# Sourced by tests/integration/run.sh and bench/inner.sh: the guest kernel's own
# reports of the nested environment's state corruption (docs/testing.md), read
# from a console log. Both are faults in code and state that only the guest
# kernel and KVM touch once the guest runs, never a VMM or its devices.

# guest_kernel_fault LOG: prints which of them LOG holds, and succeeds, or fails:
#   syscall-entry-fault  the guest kernel faulted on the first instruction
#                        (swapgs) of its own syscall entry ("entry_SYSCALL_64+0x0");
#   entry-area-fault     it panicked on a fault in interrupt context whose address
#                        is in its CPU entry area (0xfffffe0000000000 up to
#                        0xfffffe7fffffffff with 4-level paging: the per-CPU GDT,
#                        TSS and entry stack, touched only by the kernel's entry
#                        code), i.e. its entry code ran off that stack ("Faults on
#                        the CPU entry area").
guest_kernel_fault() {
	if grep -aq 'RIP: 0010:entry_SYSCALL_64+0x0/' "$1"; then
		echo syscall-entry-fault
	elif grep -aq 'Kernel panic - not syncing: Fatal exception in interrupt' "$1" &&
		grep -aqE '(^|[] ])CR2: fffffe[0-7][0-9a-f]{9}( |$)' "$1"; then
		echo entry-area-fault
	else
		return 1
	fi
}
