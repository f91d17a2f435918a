# Terminal input for t_60 (tests/integration/pty_drive.py types into kiln's
# terminal). kiln.tty=DEV on the kernel command line picks the mode:
#   ttyS0 (default): read one line from the serial console, print it back as
#     "KILN-TTY-READ ttyS0 <line>".
#   hvc0: write "KILN-HVC-HELLO" to hvc0, read one line from hvc0, print it
#     back as "KILN-TTY-READ hvc0 <line>"; then wait 2 s for a line on the
#     serial console too: "KILN-TTY-ALSO-TTYS0 <line>" if one came (it must
#     not: with --console stdio the UART yields the terminal to hvc0).
#   hold: print the ready marker and wait until the VMM is stopped.
# "KILN-TTY-READY <mode>" means: the device is open, echo is off, type now.
# No line within 120 s prints "KILN-TTY-NOINPUT <dev>" and fails.
set -e
mode=ttyS0
for arg in $(cat /proc/cmdline); do
	case $arg in
	kiln.tty=*) mode=${arg#kiln.tty=} ;;
	esac
done

case $mode in
ttyS0)
	# stdin is /dev/console, i.e. ttyS0 with console=ttyS0.
	stty -echo
	echo "KILN-TTY-READY ttyS0"
	if read -t 120 -r line; then
		echo "KILN-TTY-READ ttyS0 $line"
	else
		echo "KILN-TTY-NOINPUT ttyS0"
		exit 1
	fi
	;;
hvc0)
	[ -c /dev/hvc0 ] || { echo "KILN-ERROR no /dev/hvc0"; exit 1; }
	# Keep hvc0 open throughout: the tty layer drops input that arrives
	# while nobody has the tty open.
	exec 3<>/dev/hvc0
	stty -echo <&3
	stty -echo
	echo "KILN-HVC-HELLO" >&3
	echo "KILN-TTY-READY hvc0"
	if read -t 120 -r line <&3; then
		echo "KILN-TTY-READ hvc0 $line"
	else
		echo "KILN-TTY-NOINPUT hvc0"
		exit 1
	fi
	if read -t 2 -r other; then
		echo "KILN-TTY-ALSO-TTYS0 $other"
		exit 1
	fi
	exec 3<&-
	;;
hold)
	echo "KILN-TTY-READY hold"
	while :; do sleep 60; done
	;;
*)
	echo "KILN-ERROR unknown kiln.tty=$mode"
	exit 1
	;;
esac
