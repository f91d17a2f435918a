# shellcheck shell=bash
# shellcheck disable=SC2034  # used by the scripts that source this file
# Shared helpers for tests/guest/prepare.sh and tests/harness/kvm-run: logging,
# host packages, kernel-module closure and initramfs assembly.
# Source it; it defines functions only (plus KILN_GUEST_DIR's default).

: "${KILN_GUEST_DIR:=${HOME:-/root}/.cache/kiln/guest}"

# Meta packages per kernel flavour. The meta package is resolved through apt to the
# real versioned package (linux-image-6.1.0-NN-<flavour>), so no version is hard-coded.
declare -A KILN_KERNEL_META=(
	[generic]=linux-image-amd64
	[cloud]=linux-image-cloud-amd64
	[trixie-generic]=linux-image-amd64
	[trixie-cloud]=linux-image-cloud-amd64
)
# The Debian release a flavour comes from when it is not the host's own: its
# package lists are kept apart from the system's (apt_suite_opts), so the host's
# apt configuration is never changed.
declare -A KILN_KERNEL_SUITE=(
	[trixie-generic]=trixie
	[trixie-cloud]=trixie
)

log() { printf '%s\n' "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${KILN_LOG_TAG:-kiln}" "$*" >&2
	exit 1
}

# sha256 of stdin, hex only.
hash_stdin() { sha256sum | cut -d' ' -f1; }

# apt_ready: make sure package lists exist; run `apt-get update` only when they don't.
apt_lists_present() {
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}
apt_update_once() {
	[[ -n "${_KILN_APT_UPDATED:-}" ]] && return 0
	log "guest: apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed"
	_KILN_APT_UPDATED=1
}

# install_pkgs PACKAGE...: apt-get install, with an `apt-get update` only if the
# package lists are missing or the first attempt fails (stale lists).
install_pkgs() {
	local missing=("$@")
	[[ $(id -u) == 0 ]] || die "missing host packages: ${missing[*]}; run as root or install them"
	apt_lists_present || apt_update_once
	log "guest: installing host packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
		apt_update_once
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# need_cmds CMD:PACKAGE...: install the Debian packages providing missing commands.
need_cmds() {
	local spec cmd pkg missing=()
	for spec in "$@"; do
		cmd=${spec%%:*} pkg=${spec#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	install_pkgs "${missing[@]}"
}

# busybox_path: the static busybox binary (an initramfs has no libc).
busybox_path() {
	if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
		install_pkgs busybox-static
	fi
	local bb
	bb=$(dpkg -L busybox-static | grep -m1 '/busybox$') || die "busybox-static installs no busybox binary?"
	[[ -x $bb ]] || die "busybox-static binary $bb is not executable"
	printf '%s\n' "$bb"
}

# module_closure MODDIR NAME...: print the module files (relative to MODDIR, the
# lib/modules/<ver> directory) needed to load NAMEs, dependencies first, in the order
# the names were given. Built-in modules are skipped; unknown ones are an error.
# modules.dep lists each module's full dependency set so that loading it from the end
# backwards works (that is what modprobe does); we keep that order.
module_closure() {
	local moddir=$1
	shift
	[[ -r $moddir/modules.dep ]] || die "no modules.dep in $moddir (depmod not run?)"
	awk -v want="$*" -v builtin_file="$moddir/modules.builtin" '
		function norm(s) { sub(/.*\//, "", s); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", s); gsub(/-/, "_", s); return s }
		function emit(p) { if (!(p in seen)) { seen[p] = 1; print p } }
		{
			p = $1; sub(/:$/, "", p); n = norm(p)
			path[n] = p; d = $0; sub(/^[^:]*:[ ]*/, "", d); deps[n] = d
		}
		END {
			while ((getline line < builtin_file) > 0) builtin[norm(line)] = 1
			nw = split(want, w, " ")
			bad = 0
			for (i = 1; i <= nw; i++) {
				k = norm(w[i])
				if (!(k in path)) {
					if (k in builtin) continue
					print "module not found (neither in modules.dep nor built in): " w[i] > "/dev/stderr"
					bad = 1; continue
				}
				nd = split(deps[k], dl, " ")
				for (j = nd; j >= 1; j--) emit(dl[j])
				emit(path[k])
			}
			exit bad
		}' "$moddir/modules.dep"
}

# stage_busybox ROOT: busybox plus one relative symlink per applet in ROOT/bin
# (done at build time so /init can use plain command names from its first line).
stage_busybox() {
	local root=$1 bb applet
	bb=$(busybox_path)
	mkdir -p "$root/bin" "$root/usr"
	install -m 0755 "$bb" "$root/bin/busybox"
	for applet in $("$bb" --list); do
		[[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
	done
	ln -sfn bin "$root/sbin"
	ln -sfn ../bin "$root/usr/bin"
	ln -sfn ../bin "$root/usr/sbin"
	mkdir -p "$root"/{dev,proc,sys,tmp,run,etc,root}
	# The kernel opens /dev/console for /init before anything is mounted.
	[[ -e $root/dev/console ]] || mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
}

# stage_modules ROOT SRC_MODDIR VERSION NAME...: copy the closure of NAMEs (decompressed
# to plain .ko so busybox insmod/modprobe need no decompressor), run depmod for the
# initramfs tree and write ROOT/etc/modules.load (paths in load order).
stage_modules() {
	local root=$1 src=$2 ver=$3
	shift 3
	local list rel dst out=$root/lib/modules/$ver
	list=$(module_closure "$src" "$@") || die "cannot resolve kernel modules for $ver: $*"
	mkdir -p "$out"
	: >"$root/etc/modules.load"
	while IFS= read -r rel; do
		[[ -n $rel ]] || continue
		dst=$out/${rel%.xz}
		dst=${dst%.zst}
		dst=${dst%.gz}
		mkdir -p "${dst%/*}"
		case $rel in
		*.ko) cp "$src/$rel" "$dst" ;;
		*.ko.xz) xz -dc "$src/$rel" >"$dst" ;;
		*.ko.zst) zstd -qdc "$src/$rel" >"$dst" ;;
		*.ko.gz) gzip -dc "$src/$rel" >"$dst" ;;
		*) die "unexpected module file name: $rel" ;;
		esac
		printf '/lib/modules/%s/%s\n' "$ver" "${dst#"$out"/}" >>"$root/etc/modules.load"
	done <<<"$list"
	local f
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[[ -e $src/$f ]] && cp "$src/$f" "$out/"
	done
	depmod -b "$root" "$ver" || die "depmod failed for the initramfs tree ($ver)"
}

# pack_initramfs ROOT OUT: newc cpio, gzip; atomic replace of OUT.
pack_initramfs() {
	local root=$1 out=$2
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -6 -n >"$out.tmp" ||
		die "packing initramfs $out failed"
	mv -f "$out.tmp" "$out"
}
