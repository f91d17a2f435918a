#!/bin/bash
# The layering rule of docs/architecture.md, checked on every #include "...":
#   base      vmm/base                     -> base
#   devices   vmm/devices, virtio, loader  -> base and their own folder
#   machine   vmm/machine, vmm/arch        -> base, devices, machine
#   api       api                          -> base, machine, api
# (An include's target is resolved relative to the including file.) One check per
# layer; ends with "layers: N passed, N failed" and exits 1 when a layer breaks it.
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
	done < <(git ls-files 'vmm/*.[ch]' 'virtio/*.[ch]' 'loader/*.[ch]' 'api/*.[ch]'; git ls-files --others --exclude-standard 'vmm/*.[ch]' 'virtio/*.[ch]' 'loader/*.[ch]' 'api/*.[ch]')
	if ((${#bad[@]})); then
		failed=$((failed + 1))
		echo "FAIL layer $layer:"
		printf '  %s\n' "${bad[@]}"
	else
		passed=$((passed + 1))
		echo "ok layer $layer"
	fi
done
echo "layers: $passed passed, $failed failed"
((failed == 0))
