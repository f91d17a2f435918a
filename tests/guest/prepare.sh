#!/bin/bash
# Prepare (and cache) the guest images used by kiln's boot tests:
#   $KILN_GUEST_DIR/generic/{vmlinuz,vmlinux,version,package,modules/lib/modules/<ver>}
#   $KILN_GUEST_DIR/initramfs-generic.cpio.gz      (the L2 test guest)
#   ... and the same for the cloud kernel with --cloud.
#   $KILN_GUEST_DIR/trixie-{generic,cloud}/... with --trixie: Debian 13's kernels
#   (zstd-compressed), without an initramfs of their own (tests boot them with
#   the generic one; their modules are not needed for that).
# Kernels are Debian's packaged ones, resolved through apt (never a fixed version),
# fetched with `apt-get download` and unpacked with `dpkg-deb -x` (not installed).
# Debian 12's come from the host's own apt sources; Debian 13's from deb.debian.org
# through package lists kept in $KILN_GUEST_DIR/.apt-SUITE (apt_suite_opts).
# A second run with unchanged inputs only checks stamps.
set -euo pipefail

KILN_LOG_TAG=prepare # used by die() in common.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
. "$HERE/common.sh"

# Modules the L2 guest carries (closed over modules.dep); busybox modprobe loads them.
GUEST_MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	virtio_blk virtio_net virtio_console virtio-rng failover net_failover fuse virtiofs
	ext4 crc32c_generic pvpanic pvpanic_pci)

usage() {
	cat <<EOF
usage: $0 [--cloud] [--trixie]
Build or refresh the cached guest kernels and initramfs in \$KILN_GUEST_DIR
(now: $KILN_GUEST_DIR). --cloud also prepares Debian's cloud kernel; --trixie
Debian 13's generic and cloud kernels (no initramfs of their own).
EOF
}

# apt_suite_opts SUITE: fill APT_OPTS with the options that make apt-get and apt-cache
# use SUITE's package lists from deb.debian.org, kept under $KILN_GUEST_DIR/.apt-SUITE
# (refreshed when a day old), instead of the system's; empty for the host's own.
APT_OPTS=()
apt_suite_opts() {
	APT_OPTS=()
	[[ -n $1 ]] || return 0
	local d=$KILN_GUEST_DIR/.apt-$1
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	printf 'deb http://deb.debian.org/debian %s main\n' "$1" >"$d/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/nonexistent
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
	# A day old: refreshed. Offline (or a mirror without $1), what is cached goes on
	# being used, as for the host's own kernels (prepare_kernel's warning).
	if [[ -z $(find "$d/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null) ]]; then
		log "guest: apt-get update for Debian's $1"
		apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root update -qq >&2 ||
			log "guest: warning: apt-get update for Debian's $1 failed; using what is cached"
	fi
}

# resolve_kernel_pkgs FLAVOUR...: fill RESOLVED[flavour]="<package> <version>", the real
# kernel package behind each flavour's meta package (apt's candidate). One apt-cache call
# per suite: each costs ~0.4 s and the cached path must stay fast. The meta package pins
# its kernel with "Depends: linux-image-X (= VERSION)".
declare -A RESOLVED=()
resolve_kernel_pkgs() {
	local suite f
	for suite in $(for f in "$@"; do echo "${KILN_KERNEL_SUITE[$f]:-host}"; done | sort -u); do
		local these=()
		for f in "$@"; do
			[[ ${KILN_KERNEL_SUITE[$f]:-host} == "$suite" ]] && these+=("$f")
		done
		[[ $suite == host ]] && suite=
		resolve_suite_pkgs "$suite" "${these[@]}"
	done
}
resolve_suite_pkgs() {
	local suite=$1 metas=() f try info
	shift
	apt_suite_opts "$suite"
	for f in "$@"; do metas+=("${KILN_KERNEL_META[$f]}"); done
	for try in 1 2; do
		info=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "${metas[@]}" 2>/dev/null |
			awk '/^Package: / { p = $2 }
			     /^Depends: / && match($0, /linux-image-[^ ,]+ \(= [^)]+\)/) {
				     d = substr($0, RSTART, RLENGTH); gsub(/[(=)]/, "", d); sub(/  +/, " ", d)
				     print p, d }') || true
		[[ -n $info ]] && break
		[[ $try == 1 && -z $suite ]] && apt_update_once
	done
	local meta pkg ver
	while read -r meta pkg ver; do
		for f in "$@"; do
			[[ ${KILN_KERNEL_META[$f]} == "$meta" ]] && RESOLVED[$f]="$pkg $ver"
		done
	done <<<"$info"
}

# le_u32 FILE OFFSET / u8 FILE OFFSET: little-endian integers from a binary file.
le_u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }

is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# extract_vmlinux BZIMAGE OUT: the ELF vmlinux inside a bzImage.
# Debian's generic kernel is XZ-compressed: find the XZ stream magic and decompress from
# there; --single-stream makes xz stop at the end of that stream and ignore what follows
# (the 4-byte decompressed-size trailer). Other compressions (the cloud kernel uses LZ4)
# go through the boot protocol header's payload_offset/payload_length instead.
extract_vmlinux() {
	local bz=$1 out=$2 off
	for off in $(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$bz" | cut -d: -f1); do
		# xz stops reading at the end of its stream, so tail may die of SIGPIPE: only
		# xz's status counts.
		xz -dc --single-stream <(tail -c "+$((off + 1))" "$bz" 2>/dev/null) >"$out.tmp" 2>/dev/null ||
			continue
		if is_elf "$out.tmp"; then
			mv -f "$out.tmp" "$out"
			return 0
		fi
	done
	extract_vmlinux_by_header "$bz" "$out"
}

extract_vmlinux_by_header() {
	local bz=$1 out=$2 sects start len magic want
	sects=$(u8 "$bz" $((0x1f1)))
	((sects)) || sects=4
	# payload_offset is relative to the protected-mode code after the setup sectors.
	start=$(((sects + 1) * 512 + $(le_u32 "$bz" $((0x248)))))
	len=$(le_u32 "$bz" $((0x24c)))
	((len > 4)) || die "$bz: no payload in the boot protocol header (not a bzImage >= 2.08?)"
	# The payload ends with the decompressed size (4 bytes, LE): strip it, check against it.
	want=$(le_u32 "$bz" $((start + len - 4)))
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' \n')
	local dec
	case $magic in
	02214c18) need_cmds lz4:lz4 && dec=(lz4 -dc) ;;
	28b52ffd) dec=(zstd -qdc) ;;
	1f8b08*) dec=(gzip -dc) ;;
	*) die "$bz: unsupported kernel compression (payload magic $magic)" ;;
	esac
	tail -c "+$((start + 1))" "$bz" | head -c "$((len - 4))" | "${dec[@]}" >"$out.tmp" 2>/dev/null || true
	if ! is_elf "$out.tmp" || [[ $(stat -c %s "$out.tmp") != "$want" ]]; then
		rm -f "$out.tmp"
		die "$bz: decompressing the payload (${dec[0]}) did not give a $want-byte ELF vmlinux"
	fi
	mv -f "$out.tmp" "$out"
}

# prepare_kernel FLAVOUR: download and unpack the flavour's kernel unless cached.
prepare_kernel() {
	local flavour=$1 dir=$KILN_GUEST_DIR/$1 want=${RESOLVED[$1]:-} pkg tmp kver
	if [[ -z $want ]]; then
		if [[ -s $dir/package && -s $dir/vmlinuz ]]; then
			log "guest: warning: cannot resolve ${KILN_KERNEL_META[$flavour]} with apt; using cached $(<"$dir/package")"
			return 0
		fi
		die "cannot resolve ${KILN_KERNEL_META[$flavour]} to a kernel package (apt-cache show failed)"
	fi
	if [[ -s $dir/package && $(<"$dir/package") == "$want" && -s $dir/vmlinuz && -s $dir/vmlinux &&
		-s $dir/version && -d $dir/modules ]]; then
		return 0
	fi
	pkg=${want%% *}
	tmp=$(mktemp -d "$KILN_GUEST_DIR/.dl.XXXXXX")
	# shellcheck disable=SC2064  # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	log "guest: downloading $pkg (${want#* })"
	local quiet=-q
	[[ -t 2 ]] && quiet= # a terminal: apt's download progress
	apt_suite_opts "${KILN_KERNEL_SUITE[$flavour]:-}"
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" download $quiet -o APT::Sandbox::User=root "$pkg=${want#* }" >&2) ||
		die "apt-get download $pkg failed"
	log "guest: unpacking $pkg"
	mkdir -p "$tmp/root" "$tmp/new/modules/lib/modules"
	dpkg-deb -x "$tmp"/*.deb "$tmp/root" || die "dpkg-deb -x failed for $pkg"
	local bz
	bz=$(find "$tmp/root/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
	[[ -n $bz ]] || die "$pkg contains no /boot/vmlinuz-*"
	kver=${bz##*/vmlinuz-}
	local src
	for src in "$tmp/root/lib/modules/$kver" "$tmp/root/usr/lib/modules/$kver"; do
		[[ -d $src ]] && break
	done
	[[ -d $src ]] || die "$pkg contains no modules directory for $kver"
	cp "$bz" "$tmp/new/vmlinuz"
	printf '%s\n' "$kver" >"$tmp/new/version"
	mv "$src" "$tmp/new/modules/lib/modules/$kver"
	depmod -b "$tmp/new/modules" "$kver" || die "depmod -b failed for $kver"
	log "guest: extracting vmlinux from $pkg"
	extract_vmlinux "$tmp/new/vmlinuz" "$tmp/new/vmlinux"
	printf '%s\n' "$want" >"$tmp/new/package"
	rm -rf "$dir"
	mv "$tmp/new" "$dir"
	rm -rf "$tmp"
	trap - EXIT
}

# guest_inputs_hash FLAVOUR: everything the L2 initramfs depends on.
guest_inputs_hash() {
	local flavour=$1 f
	{
		printf 'flavour=%s kernel=%s modules=%s\n' "$flavour" \
			"$(<"$KILN_GUEST_DIR/$flavour/package")" "${GUEST_MODULES[*]}"
		for f in "$HERE/prepare.sh" "$HERE/common.sh" "$HERE/init" "$(busybox_path)" \
			"$HERE/hostile.c" "$HERE"/scenarios/*.sh; do
			printf '%s\n' "${f##*/}"
			cat "$f"
		done
	} | hash_stdin
}

# build_guest_initramfs FLAVOUR: the L2 test guest (busybox, /init, scenarios, modules).
build_guest_initramfs() {
	local flavour=$1 out=$KILN_GUEST_DIR/initramfs-$1.cpio.gz stamp hash kver root
	stamp=$out.stamp
	hash=$(guest_inputs_hash "$flavour")
	[[ -s $out && -f $stamp && $(<"$stamp") == "$hash" ]] && return 0
	log "guest: building initramfs-$flavour.cpio.gz"
	kver=$(<"$KILN_GUEST_DIR/$flavour/version")
	root=$(mktemp -d "$KILN_GUEST_DIR/.initramfs.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$root'" EXIT
	stage_busybox "$root"
	install -m 0755 "$HERE/init" "$root/init"
	mkdir -p "$root/scenarios"
	install -m 0755 "$HERE"/scenarios/*.sh "$root/scenarios/"
	# The hostile virtio driver of t_56 (a static binary: the guest has no libc).
	gcc -static -O2 -Wall -Wextra -Wno-unused-parameter -o "$root/bin/hostile" "$HERE/hostile.c" ||
		die "cannot build tests/guest/hostile.c"
	stage_modules "$root" "$KILN_GUEST_DIR/$flavour/modules/lib/modules/$kver" "$kver" \
		"${GUEST_MODULES[@]}"
	pack_initramfs "$root" "$out"
	printf '%s\n' "$hash" >"$stamp"
	rm -rf "$root"
	trap - EXIT
}

main() {
	local flavours=(generic) arg
	for arg in "$@"; do
		case $arg in
		--cloud) flavours+=(cloud) ;;
		--trixie) flavours+=(trixie-generic trixie-cloud) ;;
		-h | --help)
			usage
			return 0
			;;
		*)
			usage >&2
			die "unknown argument: $arg"
			;;
		esac
	done
	need_cmds apt-get:apt dpkg-deb:dpkg cpio:cpio xz:xz-utils zstd:zstd depmod:kmod \
		gzip:gzip sha256sum:coreutils od:coreutils gcc:gcc
	busybox_path >/dev/null
	mkdir -p "$KILN_GUEST_DIR"
	# One preparer at a time (parallel CI jobs sharing a cache).
	exec 9>"$KILN_GUEST_DIR/.lock"
	flock 9 || die "cannot lock $KILN_GUEST_DIR/.lock"
	resolve_kernel_pkgs "${flavours[@]}"
	local f
	for f in "${flavours[@]}"; do
		prepare_kernel "$f"
		[[ -n ${KILN_KERNEL_SUITE[$f]:-} ]] || build_guest_initramfs "$f"
	done
}

main "$@"
