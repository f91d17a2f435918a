# bash completion for kiln (installed by `meson install`).
_kiln()
{
	local cur prev words cword
	_init_completion || return
	local cmd=${words[1]-}
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W 'run ctl exec --help --version' -- "$cur"))
		return
	fi
	case $cmd in
	run)
		case $prev in
		--kernel | --initrd | --config | --log-file | --jail | --restore)
			_filedir
			return ;;
		--api-socket | --cgroup)
			_filedir
			return ;;
		--acpi) COMPREPLY=($(compgen -W 'on off' -- "$cur")); return ;;
		--seccomp) COMPREPLY=($(compgen -W 'on log off' -- "$cur")); return ;;
		--on-reboot) COMPREPLY=($(compgen -W 'exit restart' -- "$cur")); return ;;
		--boot-protocol) COMPREPLY=($(compgen -W 'auto pvh bzimage' -- "$cur")); return ;;
		--log-level) COMPREPLY=($(compgen -W 'error warn info debug' -- "$cur")); return ;;
		--serial | --console)
			COMPREPLY=($(compgen -W 'stdio pty none file= socket= fd=' -- "$cur"))
			return ;;
		esac
		COMPREPLY=($(compgen -W '--kernel --initrd --cmdline --cpus --memory --disk
			--net --fs --console --serial --rng --pvpanic --acpi --seccomp
			--on-reboot --boot-protocol --jail --uid --gid --cgroup --cgroup-cpu-max
			--cgroup-memory-max --config --api-socket --api-fd --print-config
			--restore --restore-paused --restore-unchecked
			--verbose --quiet --log-level --log-file --shutdown-timeout
			--help' -- "$cur"))
		;;
	ctl)
		case $prev in
		--socket) _filedir; return ;;
		esac
		COMPREPLY=($(compgen -W '--socket --timeout --subscribe --help
			vm.configure vm.boot vm.pause vm.resume vm.shutdown vm.stop
			vm.info vm.metrics vm.snapshot vm.restore disk.add net.add fs.add events.subscribe
			rpc.discover' -- "$cur"))
		;;
	exec)
		case $prev in
		--kernel | --modules | --rwdir | --rodir | --console-log)
			_filedir
			return ;;
		--seccomp) COMPREPLY=($(compgen -W 'on log off' -- "$cur")); return ;;
		esac
		COMPREPLY=($(compgen -W '--kernel --modules --cpus --memory --rwdir
			--rodir --no-cwd --env --net --user --timeout --console-log
			--seccomp --help' -- "$cur"))
		;;
	esac
}
complete -F _kiln kiln
