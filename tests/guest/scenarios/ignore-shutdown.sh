# t_57: a guest that ignores a shutdown request. The kernel sends
# ctrl-alt-del's SIGINT to cad_pid (init by default, which would reboot):
# point it at a process that ignores SIGINT, and leave the power button to
# nobody (no acpid). Then wait to be stopped.
(trap '' INT; exec sleep 100000) &
echo $! >/proc/sys/kernel/cad_pid
echo "KILN-CAD-PID $(cat /proc/sys/kernel/cad_pid)"
echo "KILN-TTY-READY hold"
while :; do sleep 60; done
