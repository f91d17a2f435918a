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

# fuzz_api parses requests with the real config code, whose device kinds
# (vmm/machine/kinds.c) carry their create functions: it links the whole
# core, as kiln does (without main).
core=$(ls vmm/base/*.c vmm/devices/*.c vmm/machine/*.c vmm/arch/x86_64/*.c virtio/*.c \
	virtio/backend/*.c loader/*.c api/*.c | grep -v '^api/main\.c$' | tr '\n' ' ')
declare -A sources=(
	[fuzz_queue]="tests/fuzz/fuzz_queue.c virtio/queue.c virtio/queue_chain.c tests/fakes/vq_driver.c vmm/base/memory.c vmm/base/err.c vmm/base/log.c"
	[fuzz_api]="tests/fuzz/fuzz_api.c $core"
)
declare -A libs=([fuzz_queue]="" [fuzz_api]="-ljson-c -laio -lfdt -lseccomp -lcap-ng -lpthread")
# Inputs long enough to reach every field: fuzz_queue's largest queue (256)
# takes 3 header bytes + a 4096-byte descriptor table + a 518-byte avail ring
# + the 32 KiB buffer area; fuzz_api's requests are JSON lines.
declare -A max_len=([fuzz_queue]=37385 [fuzz_api]=16384)

passed=0
failed=0
for t in "${targets[@]}"; do
	# One object per source, compiled in parallel, then one link.
	objs=$out/$t.obj
	rm -rf "$objs"
	mkdir -p "$objs"
	# shellcheck disable=SC2086
	if ! printf '%s\n' ${sources[$t]} | xargs -P "$(nproc)" -I{} sh -c \
		'src=$0 dir=$1; shift; exec clang "$@" -fsanitize=fuzzer-no-link -c "$src" -o "$dir/$(echo "$src" | tr / _).o"' \
		{} "$objs" "${cflags[@]/-fsanitize=fuzzer,/-fsanitize=}" -I/usr/include/json-c 2>"$out/$t.build.log" ||
		! clang "${cflags[@]}" "$objs"/*.o ${libs[$t]} -o "$out/$t" 2>>"$out/$t.build.log"; then
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
