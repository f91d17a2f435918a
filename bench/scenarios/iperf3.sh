# Network benchmark: iperf3 client against the host's server (169.254.80.1, private netns
# of the benchmark) over eth0 = the tap. Guest->host (client sends), then host->guest (-R).
#   KILN-IPERF tx|rx MBYTES MBITS_PER_S   (receiver side figures)
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
t=$(arg bench.rt); t=${t:-10}
p=$(arg bench.streams); p=${p:-1} # parallel streams (-P): the receiver line is their sum
ip link set lo up
ip link set eth0 up && ip addr add 169.254.80.2/24 dev eth0
ok=
for i in $(seq 120); do ping -c 1 -W 1 169.254.80.1 >/dev/null 2>&1 && { ok=1; break; }; sleep 0.5; done
[ -n "$ok" ] || { echo "KILN-ERROR host 169.254.80.1 unreachable"; exit 1; }
rc=0
one() { # DIR [ -R ]
	d=$1; shift
	# The server takes one test at a time and may still be ending the one before
	# (tx, then rx at once): "busy" is asked again, a few times, a second apart.
	for try in 1 2 3 4 5; do
		iperf3 -c 169.254.80.1 -t "$t" -P "$p" -f m "$@" >/tmp/ip.out 2>&1 && break
		grep -q 'server is busy' /tmp/ip.out && [ "$try" -lt 5 ] || { echo "KILN-ERROR iperf3 $d: $(tail -c 300 /tmp/ip.out)"; rc=1; return; }
		echo "KILN-NOTE iperf3 $d: the server was busy; asking again"
		sleep 1
	done
	line=$(awk -v d="$d" '/receiver/ { for (i = 1; i <= NF; i++) { if ($i == "MBytes") mb = $(i-1); if ($i == "Mbits/sec") r = $(i-1) } }
		END { if (mb != "" && r != "") print "KILN-IPERF", d, mb, r }' /tmp/ip.out)
	# iperf3 said it succeeded but its summary has no receiver figures: a
	# failure to see, not a row to drop silently.
	[ -n "$line" ] || { echo "KILN-ERROR iperf3 $d: no receiver line: $(tail -c 400 /tmp/ip.out | tr '\n' '|')"; rc=1; return; }
	echo "$line"
}
echo KILN-BENCH-START
one tx
one rx -R
echo KILN-BENCH-END
exit $rc
