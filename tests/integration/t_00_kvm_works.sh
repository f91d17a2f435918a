#!/bin/bash
# timeout: 60
# /dev/kvm opens and KVM_GET_API_VERSION returns 12, then KVM_CREATE_VM works: the
# floor every other integration test stands on.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -c /dev/kvm ]] || fail "/dev/kvm is missing (not running under tests/harness/kvm-run?)"
command -v cc >/dev/null || fail "no C compiler (cc) to build the KVM probe"
cat >"$TMPDIR/probe.c" <<'C'
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("open /dev/kvm");
		return 1;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("KVM_GET_API_VERSION %d\n", api);
	if (api != KVM_API_VERSION)
		return 1;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return 1;
	}
	printf("KVM_CREATE_VM ok\n");
	close(vm);
	return 0;
}
C
cc -O2 -Wall -o "$TMPDIR/probe" "$TMPDIR/probe.c" || fail "cannot compile the KVM probe"
"$TMPDIR/probe" >"$TMPDIR/out" 2>&1 || {
	cat "$TMPDIR/out" >&2
	fail "KVM probe failed"
}
expect_line "$TMPDIR/out" '^KVM_GET_API_VERSION 12$'
expect_line "$TMPDIR/out" '^KVM_CREATE_VM ok$'
