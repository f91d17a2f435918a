#!/bin/bash
# Build (and cache) the benchmark's L2 guest initramfs:
#   $KILN_GUEST_DIR/bench-initramfs.cpio.gz       busybox, tests/guest/init, bench/scenarios,
#                                                virtio modules, fio + iperf3 from Debian
#   $KILN_GUEST_DIR/bench-boot-initramfs.cpio.gz  the same without fio/iperf3 (boot, exits,
#                                                memory: a small image, so the VMM's share of
#                                                boot time is not drowned in unpacking)
# fio and iperf3 are fetched with `apt-get download` (never installed) together with the
# library packages they depend on, unpacked with `dpkg-deb -x`; the shared libraries the
# binaries really need (ldd on the extracted binaries) and the dynamic loader are copied in.
# Inputs are hashed into a .stamp next to each image: an unchanged second run only checks.
set -euo pipefail
KILN_LOG_TAG=bench-prepare
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=SCRIPTDIR/../tests/guest/common.sh
. "$REPO/tests/guest/common.sh"

GUEST_MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	virtio_blk virtio_net failover net_failover)
# The file-system phases (scenarios fs.sh, fsroot.sh) mount a host share: kiln's
# virtio-fs or QEMU's 9p. Both images have them (the round trip boots the small one).
FS_MODULES=(fuse virtiofs 9pnet 9pnet_virtio 9p)
TOOLS=(fio iperf3)
DEB_DIR=$KILN_GUEST_DIR/bench-debs

# tool_packages: the tools plus every library package in their dependency closure
# (perl, python and friends are not libraries the binaries load). zlib1g is a library
# without the lib prefix: a warm machine has it installed, a fresh minimal one does not.
tool_packages() {
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances --no-pre-depends "${TOOLS[@]}" 2>/dev/null |
		grep -v '^[ <]' | sort -u |
		grep -E "^($(IFS='|'; echo "${TOOLS[*]}")|lib.*|zlib1g)$" | grep -vE '^lib.*(perl|python)'
}

# fetch_debs: download the packages once into $DEB_DIR (its .list records what is there).
fetch_debs() {
	local pkgs
	pkgs=$(tool_packages) || true
	if [[ -z $pkgs ]]; then
		apt_update_once
		pkgs=$(tool_packages) || die "apt-cache depends ${TOOLS[*]} failed"
	fi
	mkdir -p "$DEB_DIR"
	if [[ -f $DEB_DIR/.list && $(<"$DEB_DIR/.list") == "$pkgs" ]] && compgen -G "$DEB_DIR/fio_*.deb" >/dev/null; then
		return 0
	fi
	log "bench: downloading $(wc -w <<<"$pkgs") packages (fio, iperf3 and their libraries)"
	rm -f "$DEB_DIR"/*.deb
	# shellcheck disable=SC2086
	(cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root $pkgs >&2) ||
		die "apt-get download failed"
	printf '%s\n' "$pkgs" >"$DEB_DIR/.list"
}

# stage_tools ROOT: unpack the debs, copy the tool binaries, their libraries and ld.so.
stage_tools() {
	local root=$1 x lib t bin libpath
	x=$(mktemp -d "$KILN_GUEST_DIR/.benchx.XXXXXX")
	for d in "$DEB_DIR"/*.deb; do dpkg-deb -x "$d" "$x" || die "dpkg-deb -x $d failed"; done
	# ceph/: librados finds libceph-common there through its RUNPATH, which points at the
	# host's /usr/lib (a warm machine has it through qemu-block-extra, a fresh one not).
	libpath=$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu/ceph
	mkdir -p "$root/lib/x86_64-linux-gnu" "$root/lib64"
	for t in "${TOOLS[@]}"; do
		bin=$x/usr/bin/$t
		[[ -x $bin ]] || die "$t: no /usr/bin/$t in its package"
		install -m 0755 "$bin" "$root/bin/$t"
		if LD_LIBRARY_PATH=$libpath ldd "$bin" | grep -q 'not found'; then
			LD_LIBRARY_PATH=$libpath ldd "$bin" >&2
			die "$t: unresolved shared libraries"
		fi
		# "libX.so.N => /path (0x...)" and the loader's own line "/lib64/ld-linux... (0x...)"
		while read -r lib; do
			[[ -n $lib ]] || continue
			if [[ $lib == */ld-linux* ]]; then
				cp -L "$lib" "$root/lib64/${lib##*/}"
			else
				cp -L "$lib" "$root/lib/x86_64-linux-gnu/${lib##*/}"
			fi
		done < <(LD_LIBRARY_PATH=$libpath ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	done
	strip --strip-unneeded "$root/lib/x86_64-linux-gnu/"* "$root/bin/fio" "$root/bin/iperf3" 2>/dev/null || true
	rm -rf "$x"
}

inputs_hash() {
	{
		printf 'kernel=%s modules=%s fs=%s\n' "$(<"$KILN_GUEST_DIR/generic/package")" \
			"${GUEST_MODULES[*]}" "${FS_MODULES[*]}"
		cat "$DEB_DIR/.list" 2>/dev/null || true
		for f in "$HERE/prepare.sh" "$REPO/tests/guest/common.sh" "$REPO/tests/guest/init" \
			"$(busybox_path)" "$HERE"/scenarios/*.sh; do
			printf '%s\n' "${f##*/}"
			cat "$f"
		done
	} | hash_stdin
}

build() {
	local with_tools=$1 out=$2 hash root kver
	hash=$(inputs_hash)
	[[ -s $out && -f $out.stamp && $(<"$out.stamp") == "$hash" ]] && return 0
	log "bench: building ${out##*/}"
	kver=$(<"$KILN_GUEST_DIR/generic/version")
	root=$(mktemp -d "$KILN_GUEST_DIR/.bench.XXXXXX")
	stage_busybox "$root"
	install -m 0755 "$REPO/tests/guest/init" "$root/init"
	mkdir -p "$root/scenarios"
	install -m 0755 "$HERE"/scenarios/*.sh "$root/scenarios/"
	stage_modules "$root" "$KILN_GUEST_DIR/generic/modules/lib/modules/$kver" "$kver" \
		"${GUEST_MODULES[@]}" "${FS_MODULES[@]}"
	((with_tools)) && stage_tools "$root"
	pack_initramfs "$root" "$out"
	printf '%s\n' "$hash" >"$out.stamp"
	rm -rf "$root"
}

main() {
	need_cmds apt-get:apt dpkg-deb:dpkg cpio:cpio ldd:libc-bin strip:binutils iperf3:iperf3
	"$REPO/tests/guest/prepare.sh" || die "tests/guest/prepare.sh failed"
	exec 9>"$KILN_GUEST_DIR/.bench-lock"
	flock 9 || die "cannot lock $KILN_GUEST_DIR/.bench-lock"
	fetch_debs
	build 0 "$KILN_GUEST_DIR/bench-boot-initramfs.cpio.gz"
	build 1 "$KILN_GUEST_DIR/bench-initramfs.cpio.gz"
}

main "$@"
