# Round trip of a command on the host's files (inner.sh's rt phase), the way CI
# tools run one: mount the host's / shared read-only (tag "root": kiln's
# virtio-fs or QEMU's 9p, bench.fs=virtiofs|9p), run true in it, power off.
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mkdir -p /newroot
if [ "$(arg bench.fs)" = 9p ]; then
	modprobe -q 9pnet_virtio
	modprobe -q 9p
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro root /newroot
else
	modprobe -q virtiofs
	mount -t virtiofs -o ro root /newroot
fi
chroot /newroot /bin/true
echo poweroff >/run/kiln-end
