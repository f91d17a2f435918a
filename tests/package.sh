#!/usr/bin/env bash
# The Debian package, built and tried as a user would (issue 16 item 6):
#   tests/package.sh [--cache DIR]
# One result each:
#   build    dpkg-buildpackage -us -uc -b on a copy of the tree (debian/)
#   lintian  no error tag (E:) on the .changes; every tag is printed
#   install  apt-get install ./kiln_*.deb in a clean Debian 12 root (debootstrap
#            --variant=minbase; with --cache DIR the root's tarball is kept as
#            DIR/bookworm-minbase.tar and reused for 7 days; tests/fresh-debian.sh's
#            DIR/bookworm-minbase-git.tar is taken when it is there)
#   version  `kiln --version` in that root says the package's version
#   man      `man -w kiln` in that root finds kiln(1)
# Ends with "package: N passed, N failed". Needs root (chroot, mounts); installs
# debhelper, lintian and debootstrap on this machine when missing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo=$PWD
cache=
while (($#)); do
	case $1 in
	--cache) cache=${2:?--cache DIR}; shift 2 ;;
	*) echo "usage: tests/package.sh [--cache DIR]" >&2; exit 2 ;;
	esac
done
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1: $2"; }
finish() {
	echo "package: $passed passed, $failed failed"
	((failed == 0))
	exit
}
((EUID == 0)) || { echo "package: needs root"; failed=5; finish; }
need=()
for p in debhelper lintian debootstrap dpkg-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if ((${#need[@]})); then
	echo "package: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
		{ bad build "cannot install ${need[*]}"; failed=$((failed + 4)); finish; }
fi
work=$(mktemp -d /var/tmp/kiln-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
version=$(dpkg-parsechangelog -l debian/changelog -S Version)

# ---- build: the tracked files (as committed or edited), nothing built here --------
mkdir "$work/kiln"
git ls-files -z | tar -C "$repo" --null -T - -cf - 2>/dev/null | tar -C "$work/kiln" -xf -
if (cd "$work/kiln" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok build
else
	tail -n 30 "$work/build.log"
	bad build "dpkg-buildpackage failed"
	failed=$((failed + 4))
	finish
fi
deb=$(ls "$work"/kiln_"$version"_*.deb)
changes=$(ls "$work"/kiln_"$version"_*.changes)

# ---- lintian ------------------------------------------------------------------------
tags=$(lintian --tag-display-limit 0 "$changes" 2>&1 | grep -v 'running with root privileges')
[[ -n $tags ]] && sed 's/^/  lintian: /' <<<"$tags"
if grep -q '^E: ' <<<"$tags"; then
	bad lintian "$(grep -c '^E: ' <<<"$tags") error tag(s)"
else
	ok lintian
fi

# ---- a clean root ---------------------------------------------------------------------
root=$work/root
mkdir "$root"
tarball=
if [[ -n $cache ]]; then
	mkdir -p "$cache"
	for t in "$cache/bookworm-minbase.tar" "$cache/bookworm-minbase-git.tar"; do
		[[ -s $t && -n $(find "$t" -mtime -7) ]] && { tarball=$t; break; }
	done
fi
mirror=$(sed -n 's/^deb \(http[^ ]*\) bookworm main.*/\1/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
if [[ -n $tarball ]]; then
	tar -C "$root" -xf "$tarball"
elif debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	[[ -n $cache ]] && tar -C "$root" -cf "$cache/bookworm-minbase.tar" .
else
	tail -n 20 "$work/debootstrap.log"
	bad install "debootstrap failed"
	failed=$((failed + 2))
	finish
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
# In a private mount namespace: /proc, /sys and /dev for apt and dpkg, gone
# with the namespace however this ends.
in_root() {
	unshare -m --propagation private bash -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" &&
			mount --rbind /dev "$root/dev" || exit 125
		chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			DEBIAN_FRONTEND=noninteractive "$@"' _ "$root" "$@"
}
if in_root bash -c "apt-get update -q && apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb") man-db" \
	>"$work/install.log" 2>&1; then
	ok install
else
	tail -n 20 "$work/install.log"
	bad install "apt-get install of the .deb failed in a clean root"
	failed=$((failed + 2))
	finish
fi
out=$(in_root kiln --version 2>&1)
[[ $out == "kiln ${version%%-*}" ]] && ok version || bad version "kiln --version said '$out', expected 'kiln ${version%%-*}'"
out=$(in_root man -w kiln 2>&1)
[[ $out == /usr/share/man/man1/kiln.1.gz ]] && ok man || bad man "man -w kiln said '$out'"
finish
