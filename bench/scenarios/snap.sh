# Snapshot benchmark (bench/snap.py): say the guest reached the point a
# snapshot is taken at, then print KILN-ALIVE every 10 ms for as long as it
# runs. A cold boot is timed to KILN-SNAP-READY, a restore of its snapshot
# to the first KILN-ALIVE of the new process: the same point.
echo KILN-SNAP-READY
while :; do
	echo KILN-ALIVE
	sleep 0.01
done
