#!/bin/bash
# The layering rule of docs/architecture.md, checked on every #include "...":
#   base      vmm/base                     -> base
#   devices   vmm/devices, virtio, loader  -> base and their own folder
#   machine   vmm/machine, vmm/arch        -> base, devices, machine
#   api       api                          -> base, machine, api
# (An include's target is resolved relative to the including file.) One check per
# layer, and one more for the rule's other half: the core (vmm/, virtio/, loader/)
# names no CLI flag in its code, only config paths (struct err.field; api/errmap.c
# turns them into flags), so no string literal there holds "--" and a letter at the
# start of a word (comments may). Ends with "layers: N passed, N failed" and exits 1
# when a check fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# layer_of PATH: the layer a source path belongs to.
layer_of() {
	case $1 in
	vmm/base/*) echo base ;;
	vmm/devices/*) echo devices-legacy ;;
	virtio/*) echo devices-virtio ;;
	loader/*) echo devices-loader ;;
	vmm/machine/* | vmm/arch/*) echo machine ;;
	api/*) echo api ;;
	*) echo other ;;
	esac
}

# allowed FROM TO: may a file of layer FROM include one of layer TO?
allowed() {
	local from=$1 to=$2
	[[ $from == "$to" || $to == base ]] && return 0
	case $from in
	machine) [[ $to == devices-* ]] ;;
	api) [[ $to == machine ]] ;;
	*) return 1 ;;
	esac
}

# sources: the C files of the layers, committed or not.
sources() {
	git ls-files "$@"
	git ls-files --others --exclude-standard "$@"
}

passed=0 failed=0
for layer in base devices-legacy devices-virtio devices-loader machine api; do
	bad=()
	while IFS= read -r f; do
		[[ $(layer_of "$f") == "$layer" ]] || continue
		while IFS= read -r inc; do
			target=$(realpath -m --relative-to=. "$(dirname "$f")/$inc")
			to=$(layer_of "$target")
			allowed "$layer" "$to" || bad+=("$f includes $target ($to)")
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done < <(sources 'vmm/*.[ch]' 'virtio/*.[ch]' 'loader/*.[ch]' 'api/*.[ch]')
	if ((${#bad[@]})); then
		failed=$((failed + 1))
		echo "FAIL layer $layer:"
		printf '  %s\n' "${bad[@]}"
	else
		passed=$((passed + 1))
		echo "ok layer $layer"
	fi
done

# The string literals of the core that name a flag, as FILE:LINE: "literal".
# Comments and character constants are skipped whole, so a "--" in a comment
# or '"' in code does not count; "--n" in code (a decrement) is no literal.
flag_literals() {
	perl -0777 -ne '
		my $text = $_;
		while ($text =~ m{("(?:\\.|[^"\\\n])*")|/\*.*?\*/|//[^\n]*|\x27(?:\\.|[^\x27\\\n])*\x27}gs) {
			next unless defined $1;
			my ($lit, $at) = ($1, $-[0]);
			next unless $lit =~ /(?<![-\w])--[A-Za-z]/;
			my $line = 1 + (substr($text, 0, $at) =~ tr/\n//);
			print "$ARGV:$line: $lit\n";
		}' "$@"
}

mapfile -t core < <(sources 'vmm/*.[ch]' 'virtio/*.[ch]' 'loader/*.[ch]')
found=$(flag_literals "${core[@]}") # a perl failure stops the script (set -e)
if [[ -n $found ]]; then
	failed=$((failed + 1))
	echo "FAIL core names no CLI flag (say the config path: err_field):"
	sed 's/^/  /' <<<"$found"
else
	passed=$((passed + 1))
	echo "ok core names no CLI flag"
fi
echo "layers: $passed passed, $failed failed"
((failed == 0))
