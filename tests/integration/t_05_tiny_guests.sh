#!/bin/bash
# timeout: 90
# no-retry: the triple fault below is on purpose, not the environment's
# Hand-assembled PVH guests (tests/integration/mkguest.py) check VMM behaviour
# without Linux: serial output + i8042 reset → exit 0; triple fault → exit 1
# with a register dump; SIGTERM while the guest halts → orderly exit 143; a
# jump to an address with no memory (KVM cannot emulate the fetch: internal
# error) → exit 1 with a register dump.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(dirname "${BASH_SOURCE[0]}")

py=$PY
"$py" "$here/mkguest.py" hello-reset "$TMPDIR/hello-reset.elf" triple-fault \
	"$TMPDIR/triple-fault.elf" halt "$TMPDIR/halt.elf" reset "$TMPDIR/reset.elf" \
	jump-unmapped "$TMPDIR/jump-unmapped.elf"

# 1. Output on COM1 reaches stdout; the reset line ends kiln with status 0.
rc=0
boot_guest "$TMPDIR/hello.log" --kernel "$TMPDIR/hello-reset.elf" --memory 16M || rc=$?
expect_line "$TMPDIR/hello.log" '^KILN-TINY-HELLO'
((rc == 0)) || { show_tail "$TMPDIR/hello.log"; fail "hello-reset: kiln exited $rc, expected 0"; }

# 2. A triple fault is a guest error: status 1 and the registers in the log.
rc=0
boot_guest "$TMPDIR/tf.log" --kernel "$TMPDIR/triple-fault.elf" --memory 16M || rc=$?
((rc == 1)) || { show_tail "$TMPDIR/tf.log"; fail "triple-fault: kiln exited $rc, expected 1"; }
expect_line "$TMPDIR/tf.log" 'triple fault'
expect_line "$TMPDIR/tf.log" 'rip=[0-9a-f]{16}'

# 3. SIGTERM stops a VM whose guest never wakes up, promptly, with 128+15.
"$KILN" run --kernel "$TMPDIR/halt.elf" --memory 16M --cpus 2 </dev/null >"$TMPDIR/halt.log" 2>&1 &
pid=$!
sleep 1
kill -0 "$pid" 2>/dev/null || { show_tail "$TMPDIR/halt.log"; fail "halt guest: kiln ended by itself"; }
start=$(date +%s%N)
kill -TERM "$pid"
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || fail "kiln did not exit within 10 s of SIGTERM"
wait "$pid" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
((rc == 143)) || { show_tail "$TMPDIR/halt.log"; fail "SIGTERM: kiln exited $rc, expected 143"; }
echo "SIGTERM to exit: ${ms} ms"

# 4. The cheapest lifecycle: a guest that resets at once.
rc=0
boot_guest "$TMPDIR/reset.log" --kernel "$TMPDIR/reset.elf" --memory 16M || rc=$?
((rc == 0)) || { show_tail "$TMPDIR/reset.log"; fail "reset guest: kiln exited $rc"; }

# 5. KVM gives up on the guest (KVM_EXIT_INTERNAL_ERROR: the guest jumped to
# 0x40000000, where there is no memory, and KVM cannot fetch the instruction
# there to emulate it): a guest error, status 1, the error and the registers in
# the log, rip at the address the guest jumped to. The console goes to a file of
# its own: on stdout it would race the vCPU's error lines on stderr (the loop
# thread writes the console out, the vCPU thread logs at once), and a line could
# be cut in two by them.
rc=0
boot_guest "$TMPDIR/internal.log" --kernel "$TMPDIR/jump-unmapped.elf" --memory 16M \
	--serial "file=$TMPDIR/internal-console.log" || rc=$?
((rc == 1)) || { show_tail "$TMPDIR/internal.log"; fail "jump-unmapped: kiln exited $rc, expected 1"; }
expect_line "$TMPDIR/internal-console.log" '^KILN-TINY-JUMP'
expect_line "$TMPDIR/internal.log" '^kiln: error: vCPU 0: KVM internal error, suberror 1$'
expect_line "$TMPDIR/internal.log" '^kiln: error: vCPU 0 registers:$'
expect_line "$TMPDIR/internal.log" '^kiln: error: +rip=0000000040000000 rsp=[0-9a-f]{16} rflags=[0-9a-f]{16}$'
expect_line "$TMPDIR/internal.log" '^kiln: error: +cr0=[0-9a-f]{16} cr2=[0-9a-f]{16} cr3=[0-9a-f]{16} cr4=[0-9a-f]{16} efer=[0-9a-f]{16}$'
expect_line "$TMPDIR/internal.log" '^kiln: error: +cs +sel=0010 base=0{16} limit=ffffffff type=b p=1 dpl=0 db=1 l=0 g=1$'
