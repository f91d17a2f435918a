# virtio-fs check for t_34: two shares, "rw" and "ro" (the latter read-only on
# the host side, mounted read-write here on purpose). Reads a small and a
# large host file, writes files, a directory, a rename and a symlink into
# rw; every change to ro must fail; the symlinks the host put in rw point
# outside the share and resolve in this guest's own tree, never the host's.
modprobe virtiofs
mkdir -p /mnt/rw /mnt/ro
mount -t virtiofs rw /mnt/rw
mount -t virtiofs ro /mnt/ro
echo "KILN-FS-HELLO $(cat /mnt/rw/hello.txt)"
echo "KILN-FS-SHA $(sha256sum /mnt/rw/big.bin | cut -d' ' -f1)"
echo "KILN-FS-LS $(ls /mnt/rw | tr '\n' ' ')"
printf 'written by the guest\n' >/mnt/rw/out.txt
chmod 640 /mnt/rw/out.txt
mkdir /mnt/rw/newdir
echo moved >/mnt/rw/newdir/f
mv /mnt/rw/newdir/f /mnt/rw/newdir/g
ln -s /etc/passwd /mnt/rw/guestlink
dd if=/dev/zero of=/mnt/rw/zeros bs=64k count=64 2>/dev/null
rm /mnt/rw/scratch
# Hundreds of entries, then rm -r: READDIR goes on from where it stopped while
# rm removes what it read (on L1's tmpfs a directory cookie is a position).
mkdir /mnt/rw/many
i=0
while [ $i -lt 400 ]; do
	: >"/mnt/rw/many/a-file-with-a-rather-long-name-$i"
	i=$((i + 1))
done
if rm -r /mnt/rw/many; then echo "KILN-FS-RMR ok"; else echo "KILN-FS-RMR failed"; fi
sync
echo "KILN-FS-WROTE"
for what in write rm mkdir touch; do
	case $what in
	write) cmd='echo x >/mnt/ro/keep' ;;
	rm) cmd='rm /mnt/ro/keep' ;;
	mkdir) cmd='mkdir /mnt/ro/d' ;;
	touch) cmd='touch /mnt/ro/new' ;;
	esac
	if sh -c "$cmd" 2>/dev/null; then echo "KILN-FS-RO $what ALLOWED"; else echo "KILN-FS-RO $what refused"; fi
done
echo "KILN-FS-RO-KEEP $(cat /mnt/ro/keep)"
# The host's symlinks: "up" -> ../outside, "abs" -> the secret's absolute
# host path. In the guest they resolve in the guest's own tree, where no
# secret exists.
if cat /mnt/rw/up/secret 2>/dev/null; then echo "KILN-FS-ESCAPE up"; fi
if cat /mnt/rw/abs 2>/dev/null; then echo "KILN-FS-ESCAPE abs"; fi
if cat /mnt/rw/../outside/secret 2>/dev/null; then echo "KILN-FS-ESCAPE dotdot"; fi
# A hard link from this share to the other share's file: refused (two
# file systems), and the host sees neither the link nor a second name.
if ln /mnt/ro/keep /mnt/rw/hard 2>/dev/null; then echo "KILN-FS-ESCAPE hardlink"; fi
# "sw": the host swaps it between a directory of the share and a symlink to
# a host directory outside the share while this loop looks it up, reads
# and writes through it (t_34 checks that nothing lands outside). In the
# guest the symlink resolves in the guest's own tree, where no secret is.
inside=0 other=0 i=0
while [ $i -lt 300 ]; do
	# Shell built-ins only (no fork per step: quick under nested KVM); the
	# shell's own "can't open" goes to /dev/null with the braces. The
	# dentries are dropped first, so every step looks sw up afresh (kiln's
	# entries are valid for 1 s, and a step takes far less).
	echo 2 >/proc/sys/vm/drop_caches
	got=
	{ read -r got </mnt/rw/sw/secret; } 2>/dev/null || true
	case $got in
	"share copy") inside=$((inside + 1)) ;;
	"") other=$((other + 1)) ;;
	*) echo "KILN-FS-ESCAPE swap: read '$got'" ;;
	esac
	{ echo planted >"/mnt/rw/sw/planted-$i"; } 2>/dev/null || true
	i=$((i + 1))
done
echo "KILN-FS-SWAP-DONE inside=$inside other=$other"
echo "KILN-FS-ESCAPES-DONE"
umount /mnt/rw
umount /mnt/ro
echo "KILN-FS-UNMOUNTED"
