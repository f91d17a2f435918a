#!/usr/bin/env bash
# Install what kiln needs to build and test, on Debian 12, as root.
# Idempotent: installs only packages that are missing.
set -euo pipefail

packages=(
	build-essential meson ninja-build pkg-config   # build
	libfdt-dev libaio-dev libjson-c-dev libseccomp-dev libcap-ng-dev # runtime libraries
	libcriterion-dev                               # unit tests
	qemu-system-x86 busybox-static cpio xz-utils   # nested-KVM harness, guests
	zstd lz4                                       # guest kernels (the cloud bzImage is LZ4)
	kmod python3 iproute2 git                      # guests' modules; test scripts; taps; sabotage copies
	e2fsprogs                                      # t_52's O_DIRECT disk on brd (mkfs.ext2)
	acpica-tools                                   # ACPI table checks (iasl, acpiexec)
	clang libclang-rt-14-dev                       # libFuzzer targets
	strace iperf3                                  # benchmark (bench/run.sh): QEMU's exits, host end of the net test
	gdb                                            # hang reports: where a kiln that did not finish was (tests/integration/lib.sh)
	procps                                         # pgrep (t_54 finds the jailed kiln under its outer process)
	qemu-utils                                     # qemu-img: t_30 makes a qcow2 image kiln must refuse
	groff-base man-db bsdextrautils systemd        # tests/install.sh: kiln(1) renders, the unit verifies
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages: ${missing[*]} (run as root or install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
