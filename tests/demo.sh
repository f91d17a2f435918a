#!/usr/bin/env bash
# Install, build, prepare the default guest (Debian's kernel + a busybox
# initramfs) and boot it with kiln, the guest console on this terminal.
# Returns kiln's exit status. Extra arguments go to `kiln run`.
#
# On a terminal with native KVM the guest offers a shell (exit it, or type
# `reboot -f`, to end the VM; Ctrl-A x quits kiln). Otherwise (no terminal,
# or no usable /dev/kvm so the VM runs inside a nested-KVM L1) the guest runs
# the short `demo` scenario and reboots by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== demo: %s\n' "$*"; }
say "1/4 packages (what building and booting needs; tests/deps.sh --demo)"
tests/deps.sh --demo
say "2/4 building kiln into build-demo (without the unit tests)"
tests/build.sh build-demo -Dtests=disabled
say "3/4 the guest: Debian 12's kernel and a busybox initramfs (tests/guest/prepare.sh)"
tests/guest/prepare.sh
guest=${KILN_GUEST_DIR:-$HOME/.cache/kiln/guest}
cmdline="console=ttyS0 quiet panic=-1"
harness=(tests/harness/kvm-run --timeout 600)
if [[ -t 0 ]] && tests/harness/kvm-run --native-check 2>/dev/null; then
	harness+=(--interactive)
else
	cmdline+=" kiln.scenario=demo"
fi
say "4/4 booting it (${harness[*]})"
exec "${harness[@]}" -- build-demo/kiln run \
	--kernel "$guest/generic/vmlinuz" \
	--initrd "$guest/initramfs-generic.cpio.gz" \
	--cmdline "$cmdline" \
	--cpus 2 --memory 256M "$@"
