/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the virtio devices behind the real virtio-pci
 * transport: virtio-blk on a real temp file (sync engine, or aio buffered),
 * virtio-net on a SOCK_SEQPACKET socketpair (the unit tests' packet-fd
 * backend), virtio-console on pipes, virtio-rng, virtio-fs on a read-only
 * share (a temp directory: "hello", "dir/inner", "up" -> ".."). The machine is
 * tests/fakes/vpci_machine.c: real guest RAM, event loop, buses and PCI
 * root; MSI-X irqfds are real eventfds, ioeventfds are the transport's own.
 *
 * Input: byte 0 picks the device (mod 7: blk sync, blk sync read-only, blk
 * aio, net, console, rng, fs); then operations, each an
 * opcode byte and its arguments (missing bytes read as 0):
 *
 *   0 BAR write    u16 offset (mod BAR size), u8 log2 len (1-8), u64 value
 *   1 BAR read     u16 offset, u8 log2 len
 *   2 config write u8 offset, u8 log2 len (1-4), u32 value (through 0xCF8/0xCFC)
 *   3 config read  u8 offset, u8 log2 len
 *   4 RAM write    u16 gpa (mod RAM), u8 n, n bytes
 *   5 kick         u8 queue (bit 7: through the BAR's notify region, else
 *                  the queue's ioeventfd as KVM would signal it)
 *   6 run loop     u8 rounds (mod 8, + 1), never blocking (fs: first waits
 *                  for its worker to finish what it was handed, so that
 *                  what an input reaches does not depend on timing)
 *   7 bring-up     u8 mask over the offered feature bits 0-31 (0: all):
 *                  reset, negotiate, queues at fixed rings (Q_* below),
 *                  MSI-X on with vector q + 1 per queue, DRIVER_OK, run loop
 *   8 host input   u8 n, n bytes: a packet to virtio-net's peer, or bytes
 *                  on virtio-console's input pipe (nothing for blk/rng)
 *   9 offer        u8 queue, u8 head: put (head) in queue's avail ring and
 *                  publish it (the ring of the bring-up layout)
 *  10 pause        u8 rounds: quiesce the function as vm.pause does, save
 *                  its state (the snapshot's save half; virtio-fs must refuse), run the loop
 *                  (rounds mod 4) times while held, resume
 *  11 restore      u8 n, n times (u16 offset, u8 value): quiesce, save,
 *                  set those bytes of the blob (offset mod its length), as
 *                  a damaged or hostile snapshot would, restore it into the
 *                  same function (a restore resets a running device
 *                  first), resume. A refused blob must leave the function
 *                  inert but sane; an accepted one must be a state the
 *                  device can run (the operations after it check that)
 *
 * Bounded: at most MAX_OPS operations, every loop run is non-blocking and
 * at most 8 rounds.
 *
 * One machine per device variant lives across inputs (built on first use):
 * creating a device per input spent most of the time in page faults on
 * its large structures (virtio-blk's request table). Each input starts
 * from a power-on state instead: PCI command, BAR 0 and MSI-X control
 * rewritten, every MSI-X entry masked, the device reset through its status
 * register (waited for on the loop, retries included), ISR read, guest RAM zeroed, the
 * backends' host ends drained, the disk file zeroed. What a guest cannot
 * undo with a reset is therefore not reset here either.
 *
 * Build and run: tests/fuzz/run.sh fuzz_virtio.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fakes/vpci_machine.h"
#include "vmm/base/chr.h"
#include "virtio/backend/tap.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "vmm/base/log.h"
#include "vmm/base/state.h"
#include "fuzz_input.h"

#define RAM_LEN 0x10000u
#define BAR_SIZE 0x8000u
#define MAX_OPS 512
#define QSIZE 16
/* Bring-up ring layout: queue q's descriptor table, avail and used rings. */
#define Q_DESC(q) (0x1000u + 0x1000u * (q))
#define Q_AVAIL(q) (Q_DESC(q) + 0x400u)
#define Q_USED(q) (Q_DESC(q) + 0x800u)
#define DISK_LEN (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint8_t ram[RAM_LEN] __attribute__((aligned(4096)));
/* One image per blk variant: each machine holds its image's lock (an
 * exclusive one for a writable disk) for as long as it lives. */
static char disk[3][64];
static char share[64]; /* the fs variant's directory */


struct inst {
	struct vpci_machine m;
	struct virtio_pci *vp;
	uint64_t bar0;
	unsigned slot, msix_cap;
	int peer;          /* net: the host side of the socketpair */
	int con_fds[4];    /* console: in_r, in_w, out_r, out_w */
	struct virtio_fs *fs;
	bool aio;
};

/* Device variants: blk sync, blk sync read-only, blk auto with two queues
 * (io_uring where the kernel allows it: buffered requests stay in its
 * ring), net, console, rng, fs. */
#define NR_VARIANTS 7
static struct inst *insts[NR_VARIANTS];
static struct inst T; /* the one in use (copied back after the input) */

static void bar_io(uint64_t off, unsigned len, uint64_t *v, bool wr)
{
	uint8_t buf[8];
	memcpy(buf, v, 8);
	if (!bus_dispatch(&T.m.mmio, T.bar0 + off, buf, len, wr) && !wr)
		memset(buf, 0xff, len);
	if (!wr)
		memcpy(v, buf, 8);
}

static uint64_t bar_rd(uint64_t off, unsigned len)
{
	uint64_t v = 0;
	bar_io(off, len, &v, false);
	return v;
}

static void bar_wr(uint64_t off, unsigned len, uint64_t v)
{
	bar_io(off, len, &v, true);
}

/* Config space through the ports, as a guest reaches it. */
static uint32_t cfg_io(unsigned off, unsigned len, uint32_t v, bool wr)
{
	uint32_t addr = 0x80000000u | T.slot << 11 | (off & 0xfc);
	uint8_t buf[4];
	bus_dispatch(&T.m.pio, 0xcf8, (uint8_t *)&addr, 4, true);
	memcpy(buf, &v, 4);
	if (!bus_dispatch(&T.m.pio, 0xcfc + (off & 3), buf, len, wr))
		memset(buf, 0xff, 4);
	memcpy(&v, buf, 4);
	return v;
}

static unsigned find_cap(uint8_t id)
{
	unsigned pos = cfg_io(0x34, 1, 0, false) & 0xff, hops = 0;
	while (pos && hops++ < 48) {
		if ((cfg_io(pos, 1, 0, false) & 0xff) == id)
			return pos;
		pos = cfg_io(pos + 1, 1, 0, false) & 0xff;
	}
	return 0;
}

/* What Linux's virtio_pci_modern does, with the given feature mask. */
static void bring_up(uint8_t mask)
{
	bar_wr(0x14, 1, 0);
	vpm_pump(&T.m, 4);
	bar_wr(0x14, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	uint64_t f = 0;
	for (unsigned sel = 0; sel < 2; sel++) {
		bar_wr(0x00, 4, sel);
		f |= bar_rd(0x04, 4) << (32 * sel);
	}
	if (mask) {
		uint64_t keep = ~0xffffffffULL; /* VERSION_1 and the rest */
		for (unsigned b = 0; b < 8; b++)
			if (mask & (1u << b))
				keep |= 0xfULL << 4 * b;
		f &= keep;
	}
	for (unsigned sel = 0; sel < 2; sel++) {
		bar_wr(0x08, 4, sel);
		bar_wr(0x0c, 4, (uint32_t)(f >> (32 * sel)));
	}
	bar_wr(0x14, 1, 0x3 | VIRTIO_CONFIG_S_FEATURES_OK);
	unsigned msix = find_cap(0x11);
	if (msix)
		cfg_io(msix + 2, 2, 0x8000, true); /* MSI-X enable */
	bar_wr(0x10, 2, 0); /* config vector */
	unsigned nq = (unsigned)bar_rd(0x12, 2);
	for (unsigned q = 0; q < nq && q < 2; q++) {
		bar_wr(0x16, 2, q);
		bar_wr(0x18, 2, QSIZE);
		bar_wr(0x1a, 2, q + 1);
		bar_wr(0x20, 8, Q_DESC(q));
		bar_wr(0x28, 8, Q_AVAIL(q));
		bar_wr(0x30, 8, Q_USED(q));
		bar_wr(0x1c, 2, 1);
	}
	/* MSI-X table entries: an address and data per vector, unmasked. */
	for (unsigned v = 0; v < 3; v++) {
		bar_wr(0x4000 + 16 * v, 4, 0xfee00000u);
		bar_wr(0x4000 + 16 * v + 8, 4, 0x30 + v);
		bar_wr(0x4000 + 16 * v + 12, 4, 0);
	}
	bar_wr(0x14, 1, 0x3 | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	vpm_pump(&T.m, 4);
}

static void offer(unsigned q, uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, ram + Q_AVAIL(q) + 2, 2);
	memcpy(ram + Q_AVAIL(q) + 4 + 2 * (idx % QSIZE), &head, 2);
	idx++;
	__atomic_store_n((uint16_t *)(ram + Q_AVAIL(q) + 2), idx, __ATOMIC_RELEASE);
}

static void kick(unsigned q, bool through_bar)
{
	if (through_bar) {
		bar_wr(0x3000 + 4 * (q & 1), 2, q & 1);
		return;
	}
	int fd = vpm_ioevent_fd(&T.m, T.bar0 + 0x3000 + 4 * (q & 1));
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, 8) != 8)
		abort();
}

static void pause_resume(unsigned rounds)
{
	struct device *dev = &T.vp->dev;
	if (dev->ops->quiesce(dev))
		return;
	struct state_buf st;
	state_init(&st);
	struct err e = { 0 };
	/* A quiesced function always saves, but virtio-fs may refuse: a file
	 * its guest holds may have no name below the share (the fuzzer's
	 * own UNLINK of an open file). */
	if (dev->ops->save(dev, &st, &e) && !T.fs)
		abort();
	state_fini(&st);
	for (unsigned i = 0; i < rounds; i++)
		evl_run_once(T.m.loop, 0);
	dev->ops->resume(dev);
}

static void restore_changed(struct input *in)
{
	struct device *dev = &T.vp->dev;
	unsigned n = (unsigned)take(in, 1) % 9;
	struct { uint16_t off; uint8_t val; } change[8];
	for (unsigned i = 0; i < n; i++) {
		change[i].off = (uint16_t)take(in, 2);
		change[i].val = (uint8_t)take(in, 1);
	}
	if (dev->ops->quiesce(dev))
		return;
	struct state_buf st, blob;
	struct err e = { 0 };
	state_init(&st);
	if (dev->ops->save(dev, &st, &e)) {
		if (!T.fs) /* (see pause_resume) */
			abort();
		dev->ops->resume(dev);
		state_fini(&st);
		return;
	}
	for (unsigned i = 0; i < n && st.len; i++)
		st.data[change[i].off % st.len] = change[i].val;
	state_from(&blob, st.data, st.len);
	(void)dev->ops->restore(dev, &blob, &e);
	dev->ops->resume(dev);
	state_fini(&st);
}

static void host_input(unsigned kind, const uint8_t *p, size_t n)
{
	if (kind == 1 && T.peer >= 0)
		(void)!send(T.peer, p, n, MSG_DONTWAIT);
	else if (kind == 2 && n)
		(void)!write(T.con_fds[1], p, n);
}

static int make_device(unsigned variant, struct virtio_device **vdev)
{
	struct err e = { 0 };
	unsigned kind = variant < 3 ? 0 : variant - 2;
	T.peer = -1;
	for (int i = 0; i < 4; i++)
		T.con_fds[i] = -1;
	if (kind == 0) {
		struct blk_config cfg = {
			.path = disk[variant], .readonly = variant == 1, .serial = "fuzz",
			.engine = variant == 2 ? BLK_ENGINE_AUTO : BLK_ENGINE_SYNC,
			.buffered = true,
			.num_queues = variant == 2 ? 2 : 1, /* the harness drives queues 0, 1 */
		};
		struct virtio_blk *blk;
		if (blk_create(&cfg, &T.m.gm, T.m.loop, &blk, &e))
			return -1;
		*vdev = blk_vdev(blk);
	} else if (kind == 1) {
		int sv[2];
		struct net_backend *be;
		struct virtio_net *net;
		struct net_config cfg = { .mac = { 0x52, 0x54, 0, 1, 2, 3 } };
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			return -1;
		T.peer = sv[1];
		if (net_backend_fd(sv[0], "fuzz", &be, &e) ||
		    net_create_backend(&cfg, be, &T.m.gm, T.m.loop, &net, &e))
			return -1;
		*vdev = net_vdev(net);
	} else if (kind == 2) {
		if (pipe2(T.con_fds, O_NONBLOCK | O_CLOEXEC) ||
		    pipe2(T.con_fds + 2, O_NONBLOCK | O_CLOEXEC))
			return -1;
		struct chr_config cfg = { .kind = CHR_FDS, .in_fd = T.con_fds[0],
					  .out_fd = T.con_fds[3] };
		struct virtio_console *con;
		if (virtcon_create(&cfg, &T.m.gm, T.m.loop, NULL, NULL, &con, &e))
			return -1;
		*vdev = virtcon_vdev(con);
	} else if (kind == 3) {
		struct virtio_rng *rng;
		if (rng_create(&T.m.gm, T.m.loop, &rng, &e))
			return -1;
		*vdev = rng_vdev(rng);
	} else {
		struct fs_config cfg = { .path = share, .tag = "fuzz", .readonly = true };
		if (fs_create(&cfg, &T.m.gm, T.m.loop, &T.fs, &e))
			return -1;
		*vdev = fs_vdev(T.fs);
	}
	return 0;
}

/* The fs variant's share: read-only, so no input changes what the next
 * one finds. */
static void make_share(const char *dir)
{
	char p[128];
	snprintf(share, sizeof(share), "%s/kiln-fuzz-share-XXXXXX", dir);
	if (!mkdtemp(share))
		abort();
	snprintf(p, sizeof(p), "%s/hello", share);
	FILE *f = fopen(p, "w");
	if (!f || fputs("hello from fuzz\n", f) < 0 || fclose(f))
		abort();
	snprintf(p, sizeof(p), "%s/dir", share);
	if (mkdir(p, 0755))
		abort();
	snprintf(p, sizeof(p), "%s/dir/inner", share);
	if (!(f = fopen(p, "w")) || fclose(f))
		abort();
	snprintf(p, sizeof(p), "%s/up", share);
	if (symlink("..", p))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	const char *dir = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	for (int i = 0; i < 3; i++) {
		snprintf(disk[i], sizeof(disk[i]), "%s/kiln-fuzz-XXXXXX", dir);
		int fd = mkstemp(disk[i]);
		if (fd < 0 || ftruncate(fd, DISK_LEN))
			abort();
		close(fd);
	}
	make_share(dir);
	return 0;
}

/* The machines themselves live until the process ends. */
__attribute__((destructor)) static void remove_files(void)
{
	char p[128];
	for (int i = 0; i < 3; i++)
		if (disk[i][0])
			unlink(disk[i]);
	if (!share[0])
		return;
	snprintf(p, sizeof(p), "%s/up", share);
	unlink(p);
	snprintf(p, sizeof(p), "%s/hello", share);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dir/inner", share);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dir", share);
	rmdir(p);
	rmdir(share);
}

/* Build variant (v)'s machine, device and function. */
static void inst_create(unsigned v)
{
	struct virtio_pci_platform *plat = calloc(1, sizeof(*plat));
	struct virtio_device *vdev = NULL;
	struct err e = { 0 };
	memset(&T, 0, sizeof(T));
	T.aio = v == 2;
	if (!plat || vpm_init(&T.m, ram, RAM_LEN, plat) || make_device(v, &vdev) ||
	    virtio_pci_create(vdev, "vp0", &T.m.root, plat, &T.vp, &e))
		abort(); /* (virtio_pci_create frees vdev on failure) */
	T.slot = (unsigned)T.vp->pci.slot;
	T.bar0 = pci_device_bar_addr(&T.vp->pci, 0);
	T.msix_cap = find_cap(0x11);
	insts[v] = malloc(sizeof(T));
	if (!insts[v])
		abort();
}

static void drain_fd(int fd)
{
	char buf[4096];
	if (fd < 0)
		return;
	for (int i = 0; i < 64; i++)
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
}

/* Back to power-on as far as the guest can tell (see the top). */
static void power_on(void)
{
	cfg_io(0x04, 2, 0x6, true); /* memory space + bus master */
	cfg_io(0x10, 4, (uint32_t)T.bar0, true);
	if (T.msix_cap)
		cfg_io(T.msix_cap + 2, 2, 0, true);
	for (unsigned v = 0; v < T.vp->nr_vectors; v++) {
		bar_wr(0x4000 + 16 * v, 8, 0);
		bar_wr(0x4000 + 16 * v + 8, 8, (uint64_t)1 << 32); /* masked */
	}
	bar_wr(0x14, 1, 0);
	/* A reset whose device waits for host I/O completes on a later retry
	 * (the transport's reset timer): wait with the loop, 5 s at most. */
	for (unsigned i = 0; bar_rd(0x14, 1); i++) {
		if (i == 5000)
			abort(); /* a reset that never completes */
		evl_run_once(T.m.loop, 1);
	}
	vpm_pump(&T.m, 8);
	bar_rd(0x1000, 1); /* ISR: read clears */
	drain_fd(T.peer);
	drain_fd(T.con_fds[0]);
	drain_fd(T.con_fds[2]);
	memset(ram, 0, sizeof(ram));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (!size)
		return 0;
	unsigned variant = (unsigned)take(&in, 1) % NR_VARIANTS;
	unsigned kind = variant < 3 ? 0 : variant - 2;
	if (!insts[variant])
		inst_create(variant);
	else
		T = *insts[variant];
	if (kind == 0) {
		int fd = open(disk[variant], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, 0) || ftruncate(fd, DISK_LEN))
			abort();
		close(fd);
	}
	power_on();

	for (unsigned n = 0; in.left && n < MAX_OPS; n++) {
		uint8_t op = (uint8_t)take(&in, 1);
		switch (op % 12) {
		case 0: {
			uint64_t off = take(&in, 2) % BAR_SIZE;
			unsigned len = 1u << (take(&in, 1) & 3);
			uint64_t v = take(&in, 8);
			bar_wr(off, len, v);
			break;
		}
		case 1: {
			uint64_t off = take(&in, 2) % BAR_SIZE;
			unsigned len = 1u << (take(&in, 1) & 3);
			bar_rd(off, len);
			break;
		}
		case 2: {
			unsigned off = (unsigned)take(&in, 1);
			unsigned len = 1u << (take(&in, 1) % 3);
			uint32_t v = (uint32_t)take(&in, 4);
			cfg_io(off & ~(len - 1), len, v, true);
			break;
		}
		case 3: {
			unsigned off = (unsigned)take(&in, 1);
			unsigned len = 1u << (take(&in, 1) % 3);
			cfg_io(off & ~(len - 1), len, 0, false);
			break;
		}
		case 4: {
			uint64_t gpa = take(&in, 2) % RAM_LEN;
			size_t n = (size_t)take(&in, 1);
			if (n > in.left)
				n = in.left;
			if (n > RAM_LEN - gpa)
				n = RAM_LEN - gpa;
			memcpy(ram + gpa, in.p, n);
			in.p += n, in.left -= n;
			break;
		}
		case 5: {
			uint8_t q = (uint8_t)take(&in, 1);
			kick(q & 1, q & 0x80);
			break;
		}
		case 6:
			if (T.fs)
				fs_wait_idle(T.fs);
			vpm_pump(&T.m, (unsigned)(take(&in, 1) % 8) + 1);
			break;
		case 7:
			bring_up((uint8_t)take(&in, 1));
			break;
		case 8: {
			size_t n = (size_t)take(&in, 1);
			if (n > in.left)
				n = in.left;
			host_input(kind, in.p, n);
			in.p += n, in.left -= n;
			break;
		}
		case 9: {
			unsigned q = (unsigned)take(&in, 1) & 1;
			offer(q, (uint16_t)(take(&in, 1) % QSIZE));
			break;
		}
		case 10:
			pause_resume((unsigned)take(&in, 1) % 4);
			break;
		case 11:
			restore_changed(&in);
			break;
		}
	}
	vpm_pump(&T.m, 8);
	/* The function is still there and sane. */
	if ((cfg_io(0x00, 2, 0, false) & 0xffff) != 0x1af4)
		abort();
	*insts[variant] = T;
	return 0;
}
