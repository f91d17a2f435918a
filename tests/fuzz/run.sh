#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run them, up to nproc at a
# time, each for KILN_FUZZ_RUNS executions (default 1000000, the issue's
# count per target and CI run) bounded by KILN_FUZZ_SECONDS (default 840)
# of its own time: at the rates in docs/testing.md the slowest targets
# (fuzz_virtio, fuzz_server, fuzz_api late in a run) need 250-700 s for
# 10^6, the others 20-170 s. -1 runs: only the time bound. A target passes
# when libFuzzer finds no crash, leak, sanitizer report or slow input
# (-timeout) and ends on its own within an outer bound. Each result line
# says how many executions the target reached, a "note:" line when that is
# short of KILN_FUZZ_RUNS; the run ends with "fuzz executions: N of M
# targets reached KILN_FUZZ_RUNS (names)" and "fuzz: N passed, N failed".
# Each target starts from its committed seeds (tests/fuzz/corpus/TARGET,
# read as a second corpus directory) plus what earlier runs found
# (build-fuzz/TARGET.corpus, where new inputs go); the JSON targets use the
# dictionary tests/fuzz/dict/json.dict. tests/fuzz/seeds.py writes the seeds.
#   tests/fuzz/run.sh [TARGET...]   build and run every target (or the named ones)
#   tests/fuzz/run.sh --count       print how many targets there are
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# Longest first (at the rates in docs/testing.md), so that the two or more
# running at a time end together instead of one target running alone at the
# end.
targets=(fuzz_server fuzz_virtio fuzz_api fuzz_pio fuzz_config fuzz_loader fuzz_fs fuzz_queue)
if [[ ${1:-} == --count ]]; then
	echo "${#targets[@]}"
	exit 0
fi
(($#)) && targets=("$@")
runs=${KILN_FUZZ_RUNS:-1000000}
secs=${KILN_FUZZ_SECONDS:-840}
jobs=${KILN_FUZZ_JOBS:-$(nproc)}
out=build-fuzz
mkdir -p "$out"
cflags=(-std=gnu11 -D_GNU_SOURCE -DKILN_VERSION=\"fuzz\" -DKILN_HAVE_LIBURING -DKILN_HAVE_LZMA -DKILN_HAVE_LZ4 -DKILN_HAVE_ZLIB -DKILN_HAVE_ZSTD -DKILN_HAVE_NETTLE -g -O1 -I. -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined)

# The whole core, as kiln links it (without main): the config's device
# kinds carry their create functions, so anything that parses a config
# needs it all.
core=$(ls vmm/base/*.c vmm/devices/*.c vmm/machine/*.c vmm/arch/x86_64/*.c virtio/*.c \
	virtio/backend/*.c loader/*.c api/*.c | grep -vE '^api/(main|exec|exec_relay)\.c$' | tr '\n' ' ')
corelibs="-ljson-c -laio -luring -lfdt -lseccomp -lcap-ng -llzma -llz4 -lz -lzstd -lnettle -lpthread"
declare -A sources=(
	[fuzz_queue]="tests/fuzz/fuzz_queue.c virtio/queue.c virtio/queue_chain.c tests/fakes/vq_driver.c vmm/base/memory.c vmm/base/err.c vmm/base/utf8.c vmm/base/log.c vmm/base/term.c"
	[fuzz_api]="tests/fuzz/fuzz_api.c $core"
	[fuzz_virtio]="tests/fuzz/fuzz_virtio.c tests/fakes/vpci_machine.c $core"
	[fuzz_pio]="tests/fuzz/fuzz_pio.c tests/fakes/vpci_machine.c $core"
	[fuzz_loader]="tests/fuzz/fuzz_loader.c $core"
	[fuzz_server]="tests/fuzz/fuzz_server.c $core"
	[fuzz_config]="tests/fuzz/fuzz_config.c $core"
	[fuzz_fs]="tests/fuzz/fuzz_fs.c virtio/backend/fs_share.c virtio/backend/fs_dax.c vmm/base/memory.c vmm/base/state.c vmm/base/err.c vmm/base/utf8.c vmm/base/log.c vmm/base/term.c"
)
declare -A libs=([fuzz_queue]="" [fuzz_api]="$corelibs" [fuzz_virtio]="$corelibs"
	[fuzz_pio]="$corelibs" [fuzz_loader]="$corelibs" [fuzz_server]="$corelibs"
	[fuzz_config]="$corelibs" [fuzz_fs]="")
# Inputs long enough to reach every field: fuzz_queue's largest queue (256)
# takes 3 header bytes + a 4096-byte descriptor table + a 518-byte avail ring
# + the 32 KiB buffer area; fuzz_api's and fuzz_server's requests are JSON
# lines (a config with every device kind fits in 4 KiB; longer inputs only
# cost time); fuzz_virtio and fuzz_pio are operation sequences (a bring-up and a
# few requests fit in 2 KiB); fuzz_loader's images are headers and a few
# segments (the file is split into kernel and initrd); a config file;
# fuzz_fs: FUSE request sequences (a few requests of a few hundred bytes).
declare -A max_len=([fuzz_queue]=37385 [fuzz_api]=4096 [fuzz_virtio]=4096 [fuzz_pio]=2048
	[fuzz_loader]=65536 [fuzz_server]=4096 [fuzz_config]=8192 [fuzz_fs]=4096)
declare -A dicts=([fuzz_api]=json [fuzz_server]=json [fuzz_config]=json)

# Every source once (one object per source, the same flags for all
# targets), compiled in parallel; then one link per target.
objs=$out/obj
mkdir -p "$objs"
declare -A want=()
for t in "${targets[@]}"; do
	if [[ -z ${sources[$t]:-} ]]; then
		echo "run.sh: no fuzz target '$t'" >&2
		exit 2
	fi
	for s in ${sources[$t]}; do want[$s]=1; done
done
obj() { echo "$objs/$(echo "$1" | tr / _).o"; }
rm -f "$objs"/*.o
# shellcheck disable=SC2086
printf '%s\n' "${!want[@]}" | xargs -P "$jobs" -I{} sh -c \
	'src=$0 dir=$1; shift; exec clang "$@" -fsanitize=fuzzer-no-link -c "$src" -o "$dir/$(echo "$src" | tr / _).o"' \
	{} "$objs" "${cflags[@]/-fsanitize=fuzzer,/-fsanitize=}" -I/usr/include/json-c >"$out/compile.log" 2>&1

# run_target T: link and run T; prints its PASS/FAIL lines into $out/T.result.
run_target() {
	local t=$1 o list=() seeds=() dict=() bound=$secs
	for s in ${sources[$t]}; do
		o=$(obj "$s")
		if [[ ! -f $o ]]; then
			echo "FAIL $t: build failed ($s)"
			grep -A5 "$s" "$out/compile.log" | head -n 20
			return 1
		fi
		list+=("$o")
	done
	# shellcheck disable=SC2086
	if ! clang "${cflags[@]}" "${list[@]}" ${libs[$t]} -o "$out/$t" 2>"$out/$t.build.log"; then
		echo "FAIL $t: link failed"
		tail -n 20 "$out/$t.build.log"
		return 1
	fi
	mkdir -p "$out/$t.corpus"
	[[ -d tests/fuzz/corpus/$t ]] && seeds=("tests/fuzz/corpus/$t")
	[[ -n ${dicts[$t]:-} ]] && dict=("-dict=tests/fuzz/dict/${dicts[$t]}.dict")
	# -timeout: one input taking over 10 s is a finding (a guest-driven loop
	# without a budget); the outer timeout catches a target that never stops.
	local t0=$SECONDS
	if timeout -k 10 $((bound + 60)) "$out/$t" -runs="$runs" -max_total_time="$bound" -timeout=10 \
		-max_len="${max_len[$t]}" -artifact_prefix="$out/$t-" -print_final_stats=1 "${dict[@]}" \
		"$out/$t.corpus" "${seeds[@]}" >"$out/$t.log" 2>&1; then
		local n cov rate
		n=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | tail -n1 | grep -o '[0-9]*$')
		cov=$(grep -aoE '#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$out/$t.log" | tail -n1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
		rate=$(grep -ao 'exec/s: [0-9]*' "$out/$t.log" | tail -n1)
		echo "PASS $t (${n:-?} executions in $((SECONDS - t0))s, $rate, $cov)"
		if ((runs > 0 && ${n:-0} < runs)); then
			echo "note: $t reached ${n:-0} of $runs executions: stopped at its bound of ${bound}s"
		fi
		echo "${n:-0}" >"$out/$t.executions"
		return 0
	fi
	echo "FAIL $t"
	grep -aE '(ERROR|SUMMARY): ' "$out/$t.log" | head -n 4
	tail -n 40 "$out/$t.log"
	return 1
}

# ASan without its malloc fill and with a 1 MiB quarantine (defaults:
# fill the first 4 KiB of every allocation, 256 MiB). json-c's tables and
# the devices' structures made the fills, and the page faults and cache
# misses of a quarantine that keeps moving through cold memory, most of
# fuzz_api's and fuzz_server's time (16 MiB -> 1 MiB: fuzz_api +30%,
# fuzz_server +15%, fuzz_queue +20%). Use-after-free is still caught for the
# last 1 MiB freed, what 4 or more inputs of any target free (a pointer
# freed at the start of an input and read at its end is reported).
# malloc_context_size=0 would gain another 10-17% but stops leak reports:
# LeakSanitizer ignores a block whose allocation stack has no caller (as
# with 1). A caller's ASAN_OPTIONS come after, so they win.
export ASAN_OPTIONS=max_malloc_fill_size=0:quarantine_size_mb=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}

# Up to $jobs targets at a time; each prints its result when it ends.
running=0
for t in "${targets[@]}"; do
	if ((running >= jobs)); then
		wait -n
		running=$((running - 1))
	fi
	rm -f "$out/$t.rc" "$out/$t.executions" # no result from an earlier run counts for this one
	(run_target "$t" >"$out/$t.result" 2>&1; echo $? >"$out/$t.rc"; cat "$out/$t.result") &
	running=$((running + 1))
done
wait
passed=0
failed=0
reached=()
for t in "${targets[@]}"; do
	if [[ $(cat "$out/$t.rc" 2>/dev/null) == 0 ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	if ((runs > 0 && $(cat "$out/$t.executions" 2>/dev/null || echo 0) >= runs)); then
		reached+=("$t")
	fi
done
if ((runs > 0)); then
	echo "fuzz executions: ${#reached[@]} of ${#targets[@]} targets reached $runs${reached[*]:+ (${reached[*]})}"
fi
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
