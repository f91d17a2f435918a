#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time
# (KILN_FUZZ_SECONDS, default 30). A target passes when libFuzzer finds no
# crash, leak, sanitizer report or slow input (-timeout) in that time and
# ends on its own within an outer bound. Ends with "fuzz: N passed, N failed".
# Corpora live in build-fuzz/ between runs.
#   tests/fuzz/run.sh [TARGET...]   build and run every target (or the named ones)
#   tests/fuzz/run.sh --count       print how many targets there are
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
targets=(fuzz_queue fuzz_api)
if [[ ${1:-} == --count ]]; then
	echo "${#targets[@]}"
	exit 0
fi
(($#)) && targets=("$@")
secs=${KILN_FUZZ_SECONDS:-30}
out=build-fuzz
mkdir -p "$out"
cflags=(-std=gnu11 -D_GNU_SOURCE -DKILN_VERSION=\"fuzz\" -g -O1 -I. -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined)

declare -A sources=(
	[fuzz_queue]="tests/fuzz/fuzz_queue.c virtio/queue.c virtio/queue_chain.c tests/fakes/vq_driver.c vmm/base/memory.c vmm/base/err.c vmm/base/log.c"
	[fuzz_api]="tests/fuzz/fuzz_api.c api/jsonrpc.c api/openrpc.c api/schema.c api/config.c virtio/backend/chr_core.c virtio/backend/chr_stdio.c virtio/backend/chr_pty.c virtio/backend/chr_file.c virtio/backend/chr_socket.c vmm/machine/config_check.c vmm/base/file.c vmm/base/term.c vmm/base/evloop.c vmm/base/err.c vmm/base/log.c"
)
declare -A libs=([fuzz_queue]="" [fuzz_api]="-ljson-c -lpthread")
# Inputs long enough to reach every field: fuzz_queue's largest queue (256)
# takes 3 header bytes + a 4096-byte descriptor table + a 518-byte avail ring
# + the 32 KiB buffer area; fuzz_api's requests are JSON lines.
declare -A max_len=([fuzz_queue]=37385 [fuzz_api]=16384)

passed=0
failed=0
for t in "${targets[@]}"; do
	# shellcheck disable=SC2086
	if ! clang "${cflags[@]}" ${sources[$t]} ${libs[$t]} -o "$out/$t" 2>"$out/$t.build.log"; then
		echo "FAIL $t: build failed"
		tail -n 20 "$out/$t.build.log"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$out/$t.corpus"
	# -timeout: one input taking over 10 s is a finding (a guest-driven loop
	# without a budget); the outer timeout catches a target that never stops.
	if timeout -k 10 $((secs + 60)) "$out/$t" -max_total_time="$secs" -timeout=10 \
		-max_len="${max_len[$t]}" -artifact_prefix="$out/$t-" -print_final_stats=1 "$out/$t.corpus" \
		>"$out/$t.log" 2>&1; then
		echo "PASS $t ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') inputs in ${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $t"
		grep -aE '(ERROR|SUMMARY): ' "$out/$t.log" | head -n 4
		tail -n 40 "$out/$t.log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
