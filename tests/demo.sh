#!/usr/bin/env bash
# Install, build, prepare the default guest (Debian's kernel + a busybox
# initramfs) and boot it with kiln, the guest console on this terminal.
# Returns kiln's exit status. Extra arguments go to `kiln run`.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/deps.sh
tests/build.sh build
tests/guest/prepare.sh
guest=${KILN_GUEST_DIR:-$HOME/.cache/kiln/guest}
exec tests/harness/kvm-run --timeout 600 -- build/kiln run \
	--kernel "$guest/generic/vmlinuz" \
	--initrd "$guest/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1" \
	--cpus 2 --memory 256M "$@"
