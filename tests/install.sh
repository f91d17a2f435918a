#!/usr/bin/env bash
# What `meson install` installs, checked without installing on this machine:
#   tests/install.sh BUILD_DIR
# installs BUILD_DIR into a temporary DESTDIR and checks (one result each):
#   files       kiln, kiln(1), the bash completion, kiln@.service, the example config
#   man         kiln(1) renders with no groff warning (groff -man -ww)
#   man-options every option of `kiln --help`, `kiln ctl --help` and `kiln exec --help`
#               is in kiln(1) (the page cannot fall behind the code unnoticed)
#   completion  the completion parses and offers every `kiln run` option of --help
#   unit        kiln@.service passes `systemd-analyze verify` with no message
#   unit-exec   its ExecStart names the installed kiln and options kiln accepts
#   example     the example config is a valid config (kiln run --config ... --print-config)
# Ends with "install: N passed, N failed" (tests/check.sh counts it).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:?usage: tests/install.sh BUILD_DIR}
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1: $2"; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

if ! DESTDIR=$dest meson install -C "$build" --no-rebuild >"$dest.log" 2>&1; then
	cat "$dest.log"
	bad install "meson install failed"
	echo "install: $passed passed, $((failed + 6)) failed"
	exit 1
fi
rm -f "$dest.log"
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
	'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest$prefix
kiln=$root/bin/kiln
man=$root/share/man/man1/kiln.1
comp=$root/share/bash-completion/completions/kiln
unit=$root/lib/systemd/system/kiln@.service
example=$root/share/doc/kiln/examples/vm.json
docs=$root/share/doc/kiln

missing=()
for f in "$kiln" "$man" "$comp" "$unit" "$example" "$docs"/{README,api,boot,exec,security,service}.md; do
	[[ -s $f ]] || missing+=("${f#"$dest"}")
done
((${#missing[@]} == 0)) && ok files || bad files "not installed: ${missing[*]}"

warn=$(groff -man -ww -z "$man" 2>&1)
[[ -z $warn ]] && ok man || bad man "groff: $(head -n 3 <<<"$warn" | tr '\n' '|')"

# The options of every --help, and whether the rendered page has each.
page=$(MANWIDTH=200 man -l "$man" 2>/dev/null | col -b)
options() { "$kiln" "$@" --help 2>&1 | grep -oE -- '(^|[ ,])--[a-z][a-z-]*|(^| )-[a-z]\b' | tr -d ' ,' | sort -u; }
absent=()
for o in $(options run) $(options ctl) $(options exec); do
	grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" <<<"$page" || absent+=("$o")
done
((${#absent[@]} == 0)) && ok man-options || bad man-options "not in kiln(1): ${absent[*]}"

if ! bash -n "$comp"; then
	bad completion "does not parse"
else
	absent=()
	for o in $(options run | grep -- '^--'); do
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$comp" || absent+=("$o")
	done
	((${#absent[@]} == 0)) && ok completion || bad completion "kiln run options it does not offer: ${absent[*]}"
fi

# systemd-analyze checks that ExecStart's binary exists: point it at the
# installed one for the check.
if command -v systemd-analyze >/dev/null; then
	vdir=$dest/verify
	mkdir -p "$vdir"
	sed "s|$prefix/bin/kiln|$kiln|" "$unit" >"$vdir/kiln@.service"
	msg=$(systemd-analyze verify --man=no "$vdir/kiln@.service" 2>&1)
	rc=$?
	((rc == 0)) && [[ -z $msg ]] && ok unit || bad unit "systemd-analyze verify (status $rc): $(head -n 3 <<<"$msg" | tr '\n' '|')"
else
	bad unit "systemd-analyze not found (tests/deps.sh installs systemd)"
fi

exec_line=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a argv <<<"$exec_line"
if [[ ${argv[0]} != "$prefix/bin/kiln" ]]; then
	bad unit-exec "ExecStart runs ${argv[0]}, not $prefix/bin/kiln"
else
	# The same arguments with %i filled in and a config that exists: kiln
	# must accept them (--print-config stops before anything is opened).
	cp "$example" "$dest/vm1.json"
	args=("${argv[@]:1}")
	args=("${args[@]//\/etc\/kiln\/%i.json/$dest/vm1.json}")
	args=("${args[@]//%i/vm1}")
	if out=$("$kiln" "${args[@]}" --print-config 2>&1); then
		ok unit-exec
	else
		bad unit-exec "kiln refuses the unit's arguments: $out"
	fi
fi

if out=$("$kiln" run --config "$example" --print-config 2>&1) &&
	python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c["disks"] and c["boot"]["kernel"]' "$out" 2>/dev/null; then
	ok example
else
	bad example "kiln run --config vm.json --print-config: $(head -c 300 <<<"$out")"
fi

# kiln ctl's usage errors: status 2 and one line each (the whole usage is --help's).
ctl_bad=()
for args in "" "--bogus vm.info" "--socket" "--timeout x vm.info" "vm.info {not json"; do
	# shellcheck disable=SC2086 # the words of each case
	out=$(KILN_SOCKET=/nonexistent/kiln.sock "$kiln" ctl $args 2>&1 </dev/null) && st=0 || st=$?
	lines=$(printf '%s\n' "$out" | grep -c .)
	((st == 2 && lines == 1)) || ctl_bad+=("'kiln ctl $args': status $st, $lines lines: $(head -c 200 <<<"$out")")
done
if ((${#ctl_bad[@]})); then
	bad ctl-usage "$(printf '%s | ' "${ctl_bad[@]}")"
else
	ok ctl-usage
fi

echo "install: $passed passed, $failed failed"
((failed == 0))
