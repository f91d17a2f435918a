#!/usr/bin/env bash
# Install what kiln needs to build and test, on Debian 12, as root.
# Idempotent: installs only packages that are missing. --demo: only what
# tests/demo.sh needs (no test toolchain: LLVM, ACPICA, criterion...).
set -euo pipefail

packages=(
	build-essential meson ninja-build pkg-config   # build
	libfdt-dev libaio-dev liburing-dev libjson-c-dev libseccomp-dev libcap-ng-dev # runtime libraries
	liblzma-dev liblz4-dev zlib1g-dev libzstd-dev nettle-dev # a bzImage's kernel decompressed on the host, cached
	libcriterion-dev                               # unit tests
	qemu-system-x86 busybox-static cpio xz-utils   # nested-KVM harness, guests
	zstd lz4                                       # guest kernels (the cloud bzImage is LZ4); t_10's zstd kernel
	kmod python3 iproute2 git                      # guests' modules; test scripts; taps; sabotage copies
	e2fsprogs                                      # t_52's O_DIRECT disk on brd (mkfs.ext2); t_80's ext4 disk (mkfs.ext4, e2fsck, debugfs)
	acpica-tools                                   # ACPI table checks (iasl, acpiexec)
	clang libclang-rt-14-dev                       # libFuzzer targets
	strace iperf3                                  # benchmark (bench/run.sh): QEMU's exits, host end of the net test
	gnuplot-nox                                    # bench/plot.py: the cost curves (docs/curve-*.svg)
	gdb                                            # hang reports: where a kiln that did not finish was (tests/integration/lib.sh)
	procps                                         # pgrep (t_54 finds the jailed kiln under its outer process)
	qemu-utils                                     # qemu-img: t_30 makes a qcow2 image kiln must refuse
	groff-base man-db bsdextrautils systemd        # tests/install.sh: kiln(1) renders, the unit verifies
	debhelper lintian debootstrap                  # tests/package.sh: the .deb, linted, in a clean root
)

# --demo: only what building kiln and booting the demo guest needs (tests/demo.sh),
# QEMU only when there is no usable /dev/kvm (the demo then runs in a nested L1).
if [[ ${1:-} == --demo ]]; then
	packages=(
		build-essential meson ninja-build pkg-config python3
		libfdt-dev libaio-dev liburing-dev libjson-c-dev libseccomp-dev libcap-ng-dev
		liblzma-dev liblz4-dev zlib1g-dev libzstd-dev nettle-dev
		busybox-static cpio xz-utils zstd lz4 kmod
	)
	"$(dirname "$0")/harness/kvm-run" --native-check 2>/dev/null || packages+=(qemu-system-x86)
fi

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
echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [[ -t 1 ]]; then # apt's own progress: downloads, then one line per package
	apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=1 "${missing[@]}"
else
	apt-get install -y -q --no-install-recommends "${missing[@]}" | grep -E '^(Need to get|Get:|Setting up)' || true
	# grep's status is not apt's: check what was asked for is there now.
	for p in "${missing[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			{ echo "deps: $p did not install" >&2; exit 1; }
	done
fi
