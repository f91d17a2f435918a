#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time
# (KILN_FUZZ_SECONDS, default 30). A target passes when libFuzzer finds no
# crash, leak or sanitizer report in that time. Ends with
# "fuzz: N passed, N failed". Corpora live in build-fuzz/ between runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${KILN_FUZZ_SECONDS:-30}
out=build-fuzz
mkdir -p "$out"
cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined)

declare -A sources=(
	[fuzz_queue]="tests/fuzz/fuzz_queue.c virtio/queue.c virtio/queue_chain.c tests/fakes/vq_driver.c vmm/memory.c vmm/err.c vmm/log.c"
	[fuzz_api]="tests/fuzz/fuzz_api.c api/jsonrpc.c api/schema.c api/config.c virtio/backend/chr_core.c virtio/backend/chr_stdio.c virtio/backend/chr_pty.c virtio/backend/chr_file.c virtio/backend/chr_socket.c vmm/term.c vmm/evloop.c vmm/err.c vmm/log.c"
)
declare -A libs=([fuzz_queue]="" [fuzz_api]="-ljson-c -lpthread")

passed=0
failed=0
for t in fuzz_queue fuzz_api; do
	# shellcheck disable=SC2086
	if ! clang "${cflags[@]}" ${sources[$t]} ${libs[$t]} -o "$out/$t" 2>"$out/$t.build.log"; then
		echo "FAIL $t: build failed"
		tail -n 20 "$out/$t.build.log"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$out/$t.corpus"
	if "$out/$t" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
		"$out/$t.corpus" >"$out/$t.log" 2>&1; then
		echo "PASS $t ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') inputs in ${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $t"
		tail -n 40 "$out/$t.log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
