/* SPDX-License-Identifier: MIT */
/*
 * A hostile driver for kiln's integration tests (t_56), run as root inside
 * the L2 test guest. It unbinds the guest kernel's driver from one PCI
 * function, programs the device itself through its BAR and attacks it.
 * A virtio device: impossible avail indexes, descriptor loops, chains and
 * indirect tables pointing at the rings and outside RAM, the same buffer
 * re-offered without end, feature and status games, bad queue
 * configurations, resets in the middle of I/O and random register writes;
 * virtio-fs also gets malformed FUSE requests and lookups that try to leave
 * its share. pvpanic: reads and writes over its whole BAR and its
 * configuration space, none of them the panic event. At the end the device
 * is reset and handed back to the kernel's driver.
 *
 *   hostile KIND BDF [forever|panic]
 *     KIND: blk | net | console | rng | fs | pvpanic; BDF: 0000:00:03.0
 *     forever (rng, fs): only re-offer one large chain, with no end (t_56's
 *       SIGTERM check)
 *     panic (pvpanic): only write the panic event, which ends the VM
 *
 * fs expects t_56's share: "hello" (a file whose text starts with
 * "hello"), "big.bin" (at least 1 MiB), "up" (a symlink to ".."), and
 * beside the share, outside it, "kiln-canary", which nothing may reach.
 *
 * Ring memory is the program's own locked pages; their guest-physical
 * addresses come from /proc/self/pagemap (root sees PFNs). Everything the
 * device may write is one of those pages, so kiln never writes into the
 * guest kernel's memory at the program's request: a driver can always
 * hurt its own guest, which is no test of the hypervisor. The MSI-X
 * function stays disabled (the unbound driver turned it off), so no
 * interrupt with a random message is ever delivered to the guest.
 *
 * Output: "KILN-HOSTILE KIND PHASE done ..." per phase on stdout, and
 * "KILN-HOSTILE-CHECK KIND what ok|BAD ..." for what kiln must have done
 * (a malformed ring marks the device DEVICE_NEEDS_RESET, an out-of-range
 * block request fails, FEATURES_OK with unoffered features does not stick,
 * a malformed FUSE request is refused and no lookup leaves the share, the
 * pvpanic BAR reads as specified and no write ends the VM).
 * Exit status 0 when the device came back to its driver; the checks are
 * judged by the test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define NPAGES 64
#define MAXQ 4
#define QSIZE_CAP 256
#define PHASE_MS 1500
#define OUTSIDE_RAM (1ULL << 46)
#define F_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET

static const char *kind;
static char bdf[64];
static char driver[64]; /* the driver unbound, bound again at the end */
static volatile uint8_t *bar;
static uint64_t bar_len, bar_phys;
static uint32_t c_off, n_off, n_mult, i_off, d_off, d_len;
static unsigned nq;
static unsigned long checks_bad;
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

struct page {
	uint8_t *va;
	uint64_t pa;
};
static struct page pg[NPAGES];

struct queue {
	uint16_t size, noff;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_pa, avail_pa, used_pa;
	uint16_t avail_idx;
};
static struct queue qs[MAXQ];

/* ---- small helpers ---------------------------------------------------- */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("KILN-HOSTILE %s error: ", kind ? kind : "?");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible junk, seeded per run. */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

static void check(const char *what, bool ok, const char *fmt, ...)
{
	char buf[200] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!ok)
		checks_bad++;
	printf("KILN-HOSTILE-CHECK %s %s %s %s\n", kind, what, ok ? "ok" : "BAD", buf);
	fflush(stdout);
}

static int sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int rc = n < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* ---- MMIO ----------------------------------------------------------------- */

static inline void mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static uint8_t r8(uint64_t o) { return *(volatile uint8_t *)(bar + o); }
static uint16_t r16(uint64_t o) { return *(volatile uint16_t *)(bar + o); }
static uint32_t r32(uint64_t o) { return *(volatile uint32_t *)(bar + o); }
static void w8(uint64_t o, uint8_t v) { *(volatile uint8_t *)(bar + o) = v; }
static void w16(uint64_t o, uint16_t v) { *(volatile uint16_t *)(bar + o) = v; }
static void w32(uint64_t o, uint32_t v) { *(volatile uint32_t *)(bar + o) = v; }
static void w64(uint64_t o, uint64_t v)
{
	w32(o, (uint32_t)v);
	w32(o + 4, (uint32_t)(v >> 32));
}

static uint64_t mmio_read(uint64_t o, unsigned width)
{
	switch (width) {
	case 1: return r8(o);
	case 2: return r16(o);
	case 4: return r32(o);
	default: return *(volatile uint64_t *)(bar + o);
	}
}

/* One access of (width) bytes (8: a single 64-bit store, not two). */
static void mmio_write(uint64_t o, unsigned width, uint64_t v)
{
	switch (width) {
	case 1: w8(o, (uint8_t)v); break;
	case 2: w16(o, (uint16_t)v); break;
	case 4: w32(o, (uint32_t)v); break;
	default: *(volatile uint64_t *)(bar + o) = v; break;
	}
}

#define CC(f) (c_off + VIRTIO_PCI_COMMON_##f)

static uint8_t status(void) { return r8(CC(STATUS)); }
static void set_status(uint8_t s) { w8(CC(STATUS), s); }

/* Reset and wait until the device says it is done (§4.1.4.3.2). */
static bool reset(void)
{
	set_status(0);
	uint64_t end = now_ms() + 2000;
	while (now_ms() < end) {
		if (status() == 0)
			return true;
		sleep_ms(1);
	}
	check("reset-completes", false, "status 0x%02x 2 s after a reset", status());
	return false;
}

/* Wait up to (ms) for DEVICE_NEEDS_RESET; true when it came. */
static bool wait_needs_reset(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	do {
		if (status() & F_NEEDS_RESET)
			return true;
		sleep_ms(2);
	} while (now_ms() < end);
	return false;
}

/* ---- memory ------------------------------------------------------------- */

static uint64_t virt_to_phys(void *va)
{
	static int fd = -1;
	uint64_t ent;
	if (fd < 0 && (fd = open("/proc/self/pagemap", O_RDONLY)) < 0)
		die("open pagemap: %s", strerror(errno));
	if (pread(fd, &ent, 8, (off_t)((uintptr_t)va / PAGE) * 8) != 8)
		die("read pagemap: %s", strerror(errno));
	if (!(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1)))
		die("page %p not present or no PFN (not root?)", va);
	return (ent & ((1ULL << 55) - 1)) * PAGE;
}

static void alloc_pages(void)
{
	/* Locked pages may still be moved by compaction, which would leave
	 * the device writing to a page that is no longer ours. */
	sysfs_write("/proc/sys/vm/compact_unevictable_allowed", "0");
	uint8_t *m = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
	if (m == MAP_FAILED || mlock(m, NPAGES * PAGE))
		die("locked memory: %s", strerror(errno));
	for (unsigned i = 0; i < NPAGES; i++) {
		pg[i].va = m + i * PAGE;
		pg[i].va[0] = 1; /* populated and ours */
		pg[i].pa = virt_to_phys(pg[i].va);
	}
}

/* Buffer pages come after the 3 * MAXQ ring pages. */
static struct page *buf_page(unsigned i) { return &pg[3 * MAXQ + i]; }

/* ---- device discovery ------------------------------------------------------ */

/* BAR (bar_no) of the function, mapped: bar, bar_len, bar_phys. */
static void map_bar(int bar_no)
{
	char path[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	FILE *f = fopen(path, "r");
	unsigned long long start = 0, end = 0, flags;
	for (int i = 0; f && i <= bar_no; i++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			die("%s unreadable", path);
	if (f)
		fclose(f);
	bar_phys = start;
	bar_len = end - start + 1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf, bar_no);
	int fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	bar = mmap(NULL, bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
}

static void find_caps(void)
{
	char path[256];
	uint8_t cfg[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, cfg, sizeof(cfg), 0) != sizeof(cfg))
		die("%s: %s", path, strerror(errno));
	/* Memory decoding and bus mastering on (the unbound driver turned
	 * bus mastering off). */
	uint16_t cmd = (uint16_t)(cfg[4] | cfg[5] << 8) | 0x6;
	if (pwrite(fd, &cmd, 2, 4) != 2)
		die("enable the device: %s", strerror(errno));
	close(fd);
	int bar_no = -1;
	for (unsigned p = cfg[0x34] & ~3u, n = 0; p && n < 48; p = cfg[p + 1] & ~3u, n++) {
		if (p > 256 - 20 || cfg[p] != 0x09)
			continue;
		uint8_t type = cfg[p + 3], b = cfg[p + 4];
		uint32_t off, len;
		memcpy(&off, &cfg[p + 8], 4);
		memcpy(&len, &cfg[p + 12], 4);
		if (type == VIRTIO_PCI_CAP_PCI_CFG)
			continue;
		if (bar_no >= 0 && b != bar_no)
			die("capabilities in more than one BAR");
		bar_no = b;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG: c_off = off; break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			n_off = off;
			memcpy(&n_mult, &cfg[p + 16], 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG: i_off = off; break;
		case VIRTIO_PCI_CAP_DEVICE_CFG: d_off = off; d_len = len; break;
		}
	}
	if (bar_no < 0)
		die("no virtio capabilities");
	map_bar(bar_no);
}

static void unbind(void)
{
	char path[256], link[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return; /* no driver bound */
	link[n] = 0;
	snprintf(driver, sizeof(driver), "%.63s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	int rc = sysfs_write(path, bdf);
	if (rc)
		die("unbind %s: %s", bdf, strerror(-rc));
}

/* Bind the driver unbound at the start (none: virtio-pci). */
static void rebind(void)
{
	char path[256];
	const char *drv = driver[0] ? driver : "virtio-pci";
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", drv);
	int rc = sysfs_write(path, bdf);
	check("rebind", rc == 0, "%s bind: %s", drv, rc ? strerror(-rc) : "bound");
}

/* ---- a well-behaved bring-up ------------------------------------------------ */

static uint64_t device_features(void)
{
	w32(CC(DFSELECT), 0);
	uint64_t lo = r32(CC(DF));
	w32(CC(DFSELECT), 1);
	return lo | (uint64_t)r32(CC(DF)) << 32;
}

static void set_features(uint64_t f)
{
	w32(CC(GFSELECT), 0);
	w32(CC(GF), (uint32_t)f);
	w32(CC(GFSELECT), 1);
	w32(CC(GF), (uint32_t)(f >> 32));
}

static void queue_setup(unsigned q)
{
	struct queue *v = &qs[q];
	w16(CC(Q_SELECT), (uint16_t)q);
	uint16_t max = r16(CC(Q_SIZE));
	v->size = max > QSIZE_CAP ? QSIZE_CAP : max;
	v->desc = (struct vring_desc *)pg[3 * q].va;
	v->avail = (struct vring_avail *)pg[3 * q + 1].va;
	v->used = (struct vring_used *)pg[3 * q + 2].va;
	v->desc_pa = pg[3 * q].pa;
	v->avail_pa = pg[3 * q + 1].pa;
	v->used_pa = pg[3 * q + 2].pa;
	memset(v->desc, 0, PAGE);
	memset(v->avail, 0, PAGE);
	memset(v->used, 0, PAGE);
	v->avail_idx = 0;
	w16(CC(Q_SIZE), v->size);
	w16(CC(Q_MSIX), VIRTIO_MSI_NO_VECTOR);
	w64(CC(Q_DESCLO), v->desc_pa);
	w64(CC(Q_AVAILLO), v->avail_pa);
	w64(CC(Q_USEDLO), v->used_pa);
	v->noff = r16(CC(Q_NOFF));
	w16(CC(Q_ENABLE), 1);
}

/* Reset, negotiate (features & mask), set up every queue, DRIVER_OK. */
static bool bringup(uint64_t mask)
{
	if (!reset())
		return false;
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	set_features(device_features() & mask);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(status() & VIRTIO_CONFIG_S_FEATURES_OK))
		die("FEATURES_OK refused for the offered features");
	nq = r16(CC(NUMQ));
	if (nq > MAXQ)
		nq = MAXQ;
	for (unsigned q = 0; q < nq; q++)
		queue_setup(q);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return true;
}

static void set_desc(struct queue *v, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	v->desc[i] = (struct vring_desc){ addr, len, flags, next };
}

static void offer(struct queue *v, uint16_t head)
{
	v->avail->ring[v->avail_idx % v->size] = head;
	mb();
	v->avail_idx++;
	__atomic_store_n(&v->avail->idx, v->avail_idx, __ATOMIC_RELEASE);
}

static void kick(unsigned q)
{
	mb();
	w16(n_off + (uint64_t)qs[q].noff * n_mult, (uint16_t)q);
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n(&qs[q].used->idx, __ATOMIC_ACQUIRE);
}

/* Queues the device pops as soon as it is kicked (rx queues wait for input). */
static bool kick_driven(unsigned q)
{
	if (!strcmp(kind, "fs"))
		return true; /* hiprio and the request queue alike */
	if (!strcmp(kind, "net") || !strcmp(kind, "console"))
		return q == 1;
	return q == 0;
}

/* virtio-fs (§5.11): queue 0 is hiprio (FORGETs), 1 the one request queue. */
#define FS_HIPRIO_Q 0
#define FS_REQUEST_Q 1

static uint64_t fuse_unique;

/* A FUSE request at (buf): its header, then (arg); returns its length. */
static size_t fuse_build(uint8_t *buf, uint32_t opcode, uint64_t nodeid,
			 const void *arg, size_t arg_len)
{
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + arg_len), .opcode = opcode,
				    .unique = ++fuse_unique, .nodeid = nodeid };
	memcpy(buf, &h, sizeof(h));
	if (arg_len)
		memcpy(buf + sizeof(h), arg, arg_len);
	return sizeof(h) + arg_len;
}

/*
 * A request the device accepts on queue (q), built at descriptor (d) and
 * up from buffer page (b): returns the head.
 */
static uint16_t good_request(unsigned q, unsigned d, unsigned b)
{
	struct queue *v = &qs[q];
	struct page *p = buf_page(b);
	if (!strcmp(kind, "blk")) {
		struct virtio_blk_outhdr *h = (void *)p->va;
		*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 8 };
		set_desc(v, d, p->pa, sizeof(*h), VRING_DESC_F_NEXT, d + 1);
		set_desc(v, d + 1, buf_page(b + 1)->pa, 512,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d + 2);
		set_desc(v, d + 2, p->pa + 64, 1, VRING_DESC_F_WRITE, 0);
	} else if (!strcmp(kind, "fs")) {
		/* GETATTR of the root, then room for the reply. */
		struct fuse_getattr_in in = { 0 };
		size_t n = fuse_build(p->va, FUSE_GETATTR, FUSE_ROOT_ID, &in, sizeof(in));
		set_desc(v, d, p->pa, (uint32_t)n, VRING_DESC_F_NEXT, d + 1);
		set_desc(v, d + 1, buf_page(b + 1)->pa, PAGE, VRING_DESC_F_WRITE, 0);
	} else if (kick_driven(q) && strcmp(kind, "rng")) {
		/* net / console transmit: a header (net) and a frame or text. */
		memset(p->va, 0, 256);
		if (!strcmp(kind, "net")) {
			memset(p->va + 12, 0xff, 6);          /* broadcast */
			memcpy(p->va + 18, "\x02\0\0\0\0\x56", 6); /* local MAC */
			p->va[30] = 0x88, p->va[31] = 0xb5;   /* local experimental */
			set_desc(v, d, p->pa, 12 + 60, 0, 0);
		} else {
			memcpy(p->va, "hostile\n", 8);
			set_desc(v, d, p->pa, 8, 0, 0);
		}
	} else {
		/* rng, and receive queues: one writable page. */
		set_desc(v, d, p->pa, PAGE, VRING_DESC_F_WRITE, 0);
	}
	return (uint16_t)d;
}

static void phase_done(const char *phase, const char *fmt, ...)
{
	char buf[160] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("KILN-HOSTILE %s %s done %s\n", kind, phase, buf);
	fflush(stdout);
}

/* ---- virtio-fs: FUSE requests, one at a time ------------------------------ */

/* Buffer pages of the requests and their replies. */
#define FS_REQ 10
#define FS_REP 11

struct seg {
	uint64_t pa;
	uint32_t len;
	bool write;
};

/*
 * Offer (n) segments as one chain at descriptor 0 of queue (q), kick, and
 * wait for its used entry: its length, -1 when none came within 3 s, -2
 * when the device went NEEDS_RESET instead.
 */
static long fs_chain(unsigned q, const struct seg *s, unsigned n)
{
	struct queue *v = &qs[q];
	for (unsigned i = 0; i < n; i++)
		set_desc(v, i, s[i].pa, s[i].len,
			 (s[i].write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)(i + 1));
	uint16_t before = used_idx(q);
	offer(v, 0);
	kick(q);
	uint64_t end = now_ms() + 3000;
	while (used_idx(q) == before) {
		if (status() & F_NEEDS_RESET)
			return -2;
		if (now_ms() > end)
			return -1;
		sleep_ms(1);
	}
	return (long)v->used->ring[before % v->size].len;
}

static uint8_t *fs_req(void) { return buf_page(FS_REQ)->va; }
static struct fuse_out_header *reply_hdr(void) { return (void *)buf_page(FS_REP)->va; }
static void *reply_payload(void) { return buf_page(FS_REP)->va + sizeof(struct fuse_out_header); }

/* The request of (req_len) bytes in FS_REQ, then (cap) bytes of FS_REP
 * for the reply (0: no writable part), the reply page filled with junk
 * first. The used length, or < 0 as fs_chain. */
static long fuse_send(unsigned q, size_t req_len, uint32_t cap)
{
	memset(buf_page(FS_REP)->va, 0x5a, PAGE);
	struct seg s[] = { { buf_page(FS_REQ)->pa, (uint32_t)req_len, false },
			   { buf_page(FS_REP)->pa, cap, true } };
	return fs_chain(q, s, cap ? 2 : 1);
}

static long fuse_call(unsigned q, uint32_t opcode, uint64_t nodeid, const void *arg,
		      size_t arg_len, uint32_t cap)
{
	return fuse_send(q, fuse_build(fs_req(), opcode, nodeid, arg, arg_len), cap);
}

/* The last request was answered: a reply header as long as the used
 * entry, with the request's unique. */
static bool answered(long len)
{
	const struct fuse_out_header *oh = reply_hdr();
	return len >= (long)sizeof(*oh) && oh->len == (uint32_t)len && oh->unique == fuse_unique;
}

static void expect_answer(const char *what, long len, bool success)
{
	const struct fuse_out_header *oh = reply_hdr();
	bool ok = answered(len) && (success ? oh->error == 0 : oh->error < 0);
	check(what, ok, "used %ld, reply len %u error %d unique %s (want %s)", len, oh->len,
	      oh->error, oh->unique == fuse_unique ? "ours" : "not ours",
	      success ? "success" : "an error");
}
static void expect_ok(const char *what, long len) { expect_answer(what, len, true); }
static void expect_refused(const char *what, long len) { expect_answer(what, len, false); }

/* FORGETs, and requests with nothing to answer to or no room for an
 * answer: a used entry of length 0. */
static void expect_no_reply(const char *what, long len)
{
	check(what, len == 0, "used %ld (want 0: no reply)", len);
}

static bool fuse_init(void)
{
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION,
				   .minor = FUSE_KERNEL_MINOR_VERSION,
				   .max_readahead = 1u << 17 };
	long n = fuse_call(FS_REQUEST_Q, FUSE_INIT, 0, &in, sizeof(in), PAGE);
	return answered(n) && reply_hdr()->error == 0;
}

static long fuse_getattr(uint64_t node)
{
	struct fuse_getattr_in in = { 0 };
	return fuse_call(FS_REQUEST_Q, FUSE_GETATTR, node, &in, sizeof(in), PAGE);
}

/* The node (name) names under (parent), 0 when refused; its mode in (*mode). */
static uint64_t fuse_lookup(uint64_t parent, const char *name, uint32_t *mode)
{
	long n = fuse_call(FS_REQUEST_Q, FUSE_LOOKUP, parent, name, strlen(name) + 1, PAGE);
	const struct fuse_entry_out *e = reply_payload();
	if (!answered(n) || reply_hdr()->error || n < (long)(sizeof(struct fuse_out_header) + sizeof(*e)))
		return 0;
	*mode = e->attr.mode;
	return e->nodeid;
}

/* OPEN or OPENDIR (opcode) of (node): its handle, or UINT64_MAX with the
 * error in (*err). */
static uint64_t fuse_open(uint64_t node, uint32_t opcode, uint32_t flags, int *err)
{
	struct fuse_open_in in = { .flags = flags };
	long n = fuse_call(FS_REQUEST_Q, opcode, node, &in, sizeof(in), PAGE);
	*err = answered(n) ? reply_hdr()->error : -ETIMEDOUT;
	return *err ? UINT64_MAX : ((const struct fuse_open_out *)reply_payload())->fh;
}

static long fuse_read(uint64_t node, uint64_t fh, uint64_t off, uint32_t size, uint32_t cap)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	return fuse_call(FS_REQUEST_Q, FUSE_READ, node, &in, sizeof(in), cap);
}

/* ---- attacks on the rings ------------------------------------------------ */

typedef void (*ring_attack)(struct queue *v, unsigned q);

static void a_idx_jump(struct queue *v, unsigned q)
{
	good_request(q, 0, 0);
	v->avail->ring[0] = 0;
	__atomic_store_n(&v->avail->idx, (uint16_t)(v->size + 1), __ATOMIC_RELEASE);
}
static void a_idx_half(struct queue *v, unsigned q)
{
	__atomic_store_n(&v->avail->idx, 0x8000, __ATOMIC_RELEASE);
}
static void a_idx_back(struct queue *v, unsigned q)
{
	__atomic_store_n(&v->avail->idx, 0xffff, __ATOMIC_RELEASE);
}
static void a_head_range(struct queue *v, unsigned q)
{
	v->avail->ring[0] = v->size;
	offer(v, v->size);
}
static void a_head_max(struct queue *v, unsigned q)
{
	offer(v, 0xffff);
}
static void a_self_loop(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 0);
	offer(v, 0);
}
static void a_two_loop(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 1);
	set_desc(v, 1, buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 0);
	offer(v, 0);
}
static void a_long_loop(struct queue *v, unsigned q)
{
	/* Every descriptor, each pointing at the next, the last back at 0. */
	for (unsigned i = 0; i < v->size; i++)
		set_desc(v, i, buf_page(0)->pa, 8, VRING_DESC_F_NEXT,
			 (uint16_t)((i + 1) % v->size));
	offer(v, (uint16_t)(v->size / 2));
}
static void a_next_range(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(0)->pa, 16, VRING_DESC_F_NEXT, (uint16_t)(v->size + 5));
	offer(v, 0);
}
static void a_outside_ram(struct queue *v, unsigned q)
{
	set_desc(v, 0, OUTSIDE_RAM, PAGE, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_wrap(struct queue *v, unsigned q)
{
	set_desc(v, 0, 0xfffffffffffff000ULL, 0x2000, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_huge(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(0)->pa, 0xffffffffu, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_lapic(struct queue *v, unsigned q)
{
	/* The local APIC's page: MMIO, not RAM. */
	set_desc(v, 0, 0xfee00000ULL, 64, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_own_bar(struct queue *v, unsigned q)
{
	/* DMA into the device's own registers. */
	set_desc(v, 0, bar_phys, PAGE, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_read_after_write(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(0)->pa, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(v, 1, buf_page(1)->pa, 16, VRING_DESC_F_NEXT, 2);
	set_desc(v, 2, buf_page(2)->pa, 16, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_over_4g(struct queue *v, unsigned q)
{
	/* Legal-looking segments whose total passes 4 GiB: a chain through
	 * one page, each claiming 3 GiB, fails gm_ptr first; the total check
	 * must hold for the 2nd descriptor even so. */
	set_desc(v, 0, buf_page(0)->pa, 0xc0000000u, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(v, 1, buf_page(0)->pa, 0xc0000000u, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static struct vring_desc *ind_table(void) { return (struct vring_desc *)buf_page(4)->va; }
static void a_ind_loop(struct queue *v, unsigned q)
{
	struct vring_desc *t = ind_table();
	t[0] = (struct vring_desc){ buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 0 };
	set_desc(v, 0, buf_page(4)->pa, 32, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}
static void a_ind_ring(struct queue *v, unsigned q)
{
	/* The indirect table is the descriptor table itself: its entry 0 is
	 * this very indirect descriptor (a nested table). */
	set_desc(v, 0, v->desc_pa, v->size * 16, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}
static void a_ind_outside(struct queue *v, unsigned q)
{
	set_desc(v, 0, OUTSIDE_RAM, 256, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}
static void a_ind_len(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(4)->pa, 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}
static void a_ind_odd(struct queue *v, unsigned q)
{
	set_desc(v, 0, buf_page(4)->pa, 17, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}
static void a_ind_next(struct queue *v, unsigned q)
{
	memset(ind_table(), 0, 64);
	ind_table()[0] = (struct vring_desc){ buf_page(0)->pa, 16, VRING_DESC_F_WRITE, 0 };
	set_desc(v, 0, buf_page(4)->pa, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(v, 1, buf_page(0)->pa, 16, VRING_DESC_F_WRITE, 0);
	offer(v, 0);
}
static void a_ind_next_range(struct queue *v, unsigned q)
{
	struct vring_desc *t = ind_table();
	t[0] = (struct vring_desc){ buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 200 };
	set_desc(v, 0, buf_page(4)->pa, 32, VRING_DESC_F_INDIRECT, 0);
	offer(v, 0);
}

struct ring_attack_def {
	const char *name;
	ring_attack fn;
	bool breaks; /* kiln must set DEVICE_NEEDS_RESET */
};

static const struct ring_attack_def ring_attacks[] = {
	{ "idx-jump", a_idx_jump, true },       { "idx-half", a_idx_half, true },
	{ "idx-back", a_idx_back, true },       { "head-range", a_head_range, true },
	{ "head-max", a_head_max, true },       { "self-loop", a_self_loop, true },
	{ "two-loop", a_two_loop, true },       { "long-loop", a_long_loop, true },
	{ "next-range", a_next_range, true },   { "outside-ram", a_outside_ram, true },
	{ "wrap-2^64", a_wrap, true },          { "huge-len", a_huge, true },
	{ "lapic", a_lapic, true },             { "own-bar", a_own_bar, true },
	{ "read-after-write", a_read_after_write, true },
	{ "over-4g", a_over_4g, true },         { "ind-loop", a_ind_loop, true },
	{ "ind-is-ring", a_ind_ring, true },    { "ind-outside", a_ind_outside, true },
	{ "ind-len", a_ind_len, true },         { "ind-odd", a_ind_odd, true },
	{ "ind-next", a_ind_next, true },       { "ind-next-range", a_ind_next_range, true },
};

/* Each ring attack on every queue, from a fresh bring-up. */
static void phase_rings(void)
{
	unsigned n = 0, broke = 0, expected = 0;
	for (size_t a = 0; a < sizeof(ring_attacks) / sizeof(ring_attacks[0]); a++) {
		for (unsigned q = 0; q < nq; q++) {
			if (!bringup(~0ULL))
				return;
			ring_attacks[a].fn(&qs[q], q);
			kick(q);
			n++;
			if (!kick_driven(q)) {
				sleep_ms(20);
				continue;
			}
			expected++;
			bool nr = wait_needs_reset(500);
			broke += nr;
			if (!nr)
				check("needs-reset", false, "%s on queue %u: status 0x%02x",
				      ring_attacks[a].name, q, status());
		}
	}
	check("needs-reset", broke == expected, "%u of %u malformed rings marked NEEDS_RESET",
	      broke, expected);
	phase_done("rings", "attacks=%u", n);
}

/* Writable buffers that are the rings themselves: the device writes its
 * data over the descriptor table, the available and the used ring. */
static void phase_alias(void)
{
	unsigned n = 0;
	for (unsigned target = 0; target < 3; target++) {
		for (unsigned q = 0; q < nq; q++) {
			if (!bringup(~0ULL))
				return;
			struct queue *v = &qs[q];
			uint64_t pa = target == 0 ? v->desc_pa : target == 1 ? v->avail_pa : v->used_pa;
			uint16_t h = good_request(q, 0, 0);
			/* The data (blk), the reply (fs), the frame (tx) or the
			 * buffer (rx, rng). */
			unsigned d = !strcmp(kind, "blk") || !strcmp(kind, "fs") ? 1u : 0u;
			v->desc[d].addr = pa;
			for (unsigned i = 0; i < 4; i++)
				offer(v, h);
			kick(q);
			sleep_ms(30);
			/* And again, with whatever the rings hold now. */
			v->avail_idx = v->avail->idx;
			offer(v, h);
			kick(q);
			sleep_ms(30);
			n++;
		}
	}
	phase_done("ring-alias", "attacks=%u status=0x%02x", n, status());
}

/* fs: INIT, LOOKUP and OPEN big.bin, then at descriptor 0 of the request
 * queue a READ of 1016 KiB: an indirect table of the request, the reply
 * header and one page 254 times. */
static void fs_big_read(void)
{
	uint32_t mode = 0;
	uint64_t node;
	int err;
	if (!fuse_init())
		die("FUSE_INIT failed");
	if (!(node = fuse_lookup(FUSE_ROOT_ID, "big.bin", &mode)))
		die("LOOKUP big.bin failed");
	uint64_t fh = fuse_open(node, FUSE_OPEN, O_RDONLY, &err);
	if (err)
		die("OPEN big.bin: error %d", err);
	struct fuse_read_in in = { .fh = fh, .size = 254 * PAGE };
	size_t len = fuse_build(buf_page(0)->va, FUSE_READ, node, &in, sizeof(in));
	struct vring_desc *t = ind_table();
	t[0] = (struct vring_desc){ buf_page(0)->pa, (uint32_t)len, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ buf_page(0)->pa + 2048, sizeof(struct fuse_out_header),
				    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2 };
	for (unsigned i = 2; i < 256; i++)
		t[i] = (struct vring_desc){ buf_page(1)->pa, PAGE,
					    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, (uint16_t)(i + 1) };
	t[255].flags = VRING_DESC_F_WRITE;
	set_desc(&qs[FS_REQUEST_Q], 0, buf_page(4)->pa, 256 * 16, VRING_DESC_F_INDIRECT, 0);
}

/* The same buffer offered again and again, the ring kept full, for (ms)
 * (0: without end). (big): an rng/rx chain of 1 MiB, one page 256 times
 * through an indirect table; blk a read of 1016 KiB, fs a READ as large. */
static void reoffer(unsigned q, unsigned ms, bool big)
{
	struct queue *v = &qs[q];
	uint16_t head = good_request(q, 0, 0);
	if (big && !strcmp(kind, "fs")) {
		fs_big_read();
		head = 0;
	} else if (big) {
		struct vring_desc *t = ind_table();
		for (unsigned i = 0; i < 256; i++)
			t[i] = (struct vring_desc){ buf_page(1)->pa, PAGE,
						    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
						    (uint16_t)(i + 1) };
		if (!strcmp(kind, "blk")) {
			/* A 1016 KiB read: header, 254 pages (seg_max), status. */
			struct virtio_blk_outhdr *h = (void *)buf_page(0)->va;
			*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 8 };
			t[0] = (struct vring_desc){ buf_page(0)->pa, sizeof(*h), VRING_DESC_F_NEXT, 1 };
			t[255] = (struct vring_desc){ buf_page(0)->pa + 64, 1, VRING_DESC_F_WRITE, 0 };
		}
		t[255].flags = VRING_DESC_F_WRITE;
		set_desc(v, 0, buf_page(4)->pa, 256 * 16, VRING_DESC_F_INDIRECT, 0);
		head = 0;
	}
	uint64_t end = now_ms() + ms, offered = 0, rounds = 0;
	uint16_t used0 = used_idx(q);
	while (!ms || now_ms() < end) {
		while ((uint16_t)(v->avail_idx - used_idx(q)) < v->size) {
			offer(v, head);
			offered++;
		}
		kick(q);
		if (++rounds % 64 == 0 && (status() & F_NEEDS_RESET))
			break;
		if (ms == 0 && rounds % 4096 == 0) {
			printf("KILN-HOSTILE %s reoffer-forever offered=%llu\n", kind,
			       (unsigned long long)offered);
			fflush(stdout);
		}
	}
	phase_done(big ? "reoffer-1MiB" : "reoffer", "queue=%u offered=%llu used=%u status=0x%02x",
		   q, (unsigned long long)offered, (uint16_t)(used_idx(q) - used0), status());
}

static void phase_reoffer(void)
{
	for (unsigned q = 0; q < nq; q++) {
		if (!bringup(~0ULL))
			return;
		if (!strcmp(kind, "fs") && !fuse_init())
			check("fuse-init", false, "INIT after a bring-up failed");
		/* Console transmit lands in the host's file: keep it short. */
		reoffer(q, !strcmp(kind, "console") && q == 1 ? 300 : PHASE_MS, false);
	}
	/* The same with the largest chains the device serves on a kick. */
	if (!strcmp(kind, "rng") || !strcmp(kind, "blk") || !strcmp(kind, "fs")) {
		if (bringup(~0ULL))
			reoffer(!strcmp(kind, "fs") ? FS_REQUEST_Q : 0, PHASE_MS, true);
	}
}

/* ---- attacks on the transport --------------------------------------------- */

static void phase_features(void)
{
	uint8_t AD = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t dev = device_features();

	/* DRIVER_OK without FEATURES_OK: the queues must never be served. */
	reset();
	set_status(AD);
	nq = r16(CC(NUMQ));
	if (nq > MAXQ)
		nq = MAXQ;
	for (unsigned q = 0; q < nq; q++)
		queue_setup(q);
	set_status(AD | VIRTIO_CONFIG_S_DRIVER_OK);
	for (unsigned q = 0; q < nq; q++) {
		offer(&qs[q], good_request(q, 0, (unsigned)q * 2));
		kick(q);
	}
	bool nr = wait_needs_reset(1000);
	unsigned served = 0;
	for (unsigned q = 0; q < nq; q++)
		served += used_idx(q);
	check("driver-ok-without-features-ok", nr && served == 0,
	      "needs_reset=%d used entries=%u", nr, served);

	/* Features the device never offered. */
	reset();
	set_status(AD);
	set_features(~0ULL);
	set_status(AD | VIRTIO_CONFIG_S_FEATURES_OK);
	check("unoffered-features", !(status() & VIRTIO_CONFIG_S_FEATURES_OK),
	      "status 0x%02x", status());
	/* Without VERSION_1 (a legacy driver to a modern-only device). */
	reset();
	set_status(AD);
	set_features(dev & ~(1ULL << VIRTIO_F_VERSION_1));
	set_status(AD | VIRTIO_CONFIG_S_FEATURES_OK);
	check("no-version-1", !(status() & VIRTIO_CONFIG_S_FEATURES_OK), "status 0x%02x", status());
	/* Features changed after FEATURES_OK must not stick. */
	reset();
	set_status(AD);
	set_features(dev);
	set_status(AD | VIRTIO_CONFIG_S_FEATURES_OK);
	set_features(0);
	w32(CC(GFSELECT), 1);
	uint32_t hi = r32(CC(GF));
	check("features-frozen", hi == (uint32_t)(dev >> 32), "driver features high word 0x%08x", hi);
	/* FEATURES_OK after DRIVER_OK; DRIVER_OK twice; ACK dropped. */
	reset();
	set_status(AD);
	set_features(dev);
	set_status(AD | VIRTIO_CONFIG_S_DRIVER_OK);
	set_status(AD | VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK);
	set_status(VIRTIO_CONFIG_S_DRIVER_OK);
	set_status(0xff);
	set_status(F_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED);
	/* Status bytes at random, resets among them. */
	for (unsigned i = 0; i < 200; i++) {
		uint8_t s = (uint8_t)rnd();
		set_status(i % 7 ? s : 0);
	}
	reset();

	/* Queue configurations no driver may write. */
	static const uint16_t sizes[] = { 0, 3, 1000, 0x8000, 0xffff };
	static const uint64_t addrs[] = { OUTSIDE_RAM, 0xfffffffffffffff0ULL, 1, 0xfee00000ULL };
	unsigned tries = 0;
	for (unsigned q = 0; q < nq + 2; q++) {
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			reset();
			set_status(AD);
			w16(CC(Q_SELECT), (uint16_t)q);
			w16(CC(Q_SIZE), sizes[s]);
			w64(CC(Q_DESCLO), pg[0].pa);
			w64(CC(Q_AVAILLO), pg[1].pa);
			w64(CC(Q_USEDLO), pg[2].pa);
			w16(CC(Q_ENABLE), 1);
			tries++;
			if (q < nq && r16(CC(Q_ENABLE)))
				check("bad-queue-size", false, "queue %u size %u enabled", q, sizes[s]);
		}
		for (unsigned a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
			for (unsigned which = 0; which < 3; which++) {
				reset();
				set_status(AD);
				w16(CC(Q_SELECT), (uint16_t)q);
				w64(CC(Q_DESCLO), which == 0 ? addrs[a] : pg[0].pa);
				w64(CC(Q_AVAILLO), which == 1 ? addrs[a] : pg[1].pa);
				w64(CC(Q_USEDLO), which == 2 ? addrs[a] : pg[2].pa);
				w16(CC(Q_ENABLE), 1);
				tries++;
				if (q < nq && r16(CC(Q_ENABLE)))
					check("bad-queue-address", false, "queue %u ring %u at 0x%llx enabled",
					      q, which, (unsigned long long)addrs[a]);
			}
		}
	}
	/* Enabled, then moved and resized; enable 0; a queue select far out. */
	if (bringup(~0ULL)) {
		w16(CC(Q_SELECT), 0);
		w64(CC(Q_DESCLO), OUTSIDE_RAM);
		w16(CC(Q_SIZE), 1);
		w16(CC(Q_ENABLE), 0);
		w16(CC(Q_SELECT), 0xffff);
		w16(CC(Q_SIZE), 16);
		w64(CC(Q_DESCLO), pg[0].pa);
		w16(CC(Q_ENABLE), 1);
		w16(CC(Q_MSIX), 0x1234);
		w16(CC(MSIX), 0xfffe);
		(void)r16(CC(Q_NOFF));
		offer(&qs[0], good_request(0, 0, 0));
		kick(0);
		sleep_ms(30);
	}
	phase_done("features", "queue-config-tries=%u status=0x%02x", tries, status());
}

/* Reset while requests are in flight, over and over. */
static void phase_reset_race(void)
{
	unsigned n = 0;
	uint64_t end = now_ms() + PHASE_MS;
	while (now_ms() < end) {
		if (!bringup(~0ULL))
			return;
		for (unsigned q = 0; q < nq; q++) {
			struct queue *v = &qs[q];
			uint16_t h = good_request(q, 0, (unsigned)q * 2);
			for (unsigned i = 0; i < v->size; i++)
				offer(v, h);
			kick(q);
		}
		if (n % 2)
			sleep_ms(1);
		set_status(0); /* no wait: the next bring-up's reset waits */
		n++;
	}
	reset();
	phase_done("reset-race", "rounds=%u", n);
}

/* Writes of every width at random places of the BAR. Queue addresses
 * written at random end up outside RAM (see the top comment). */
static void random_write(uint64_t off, unsigned width, uint64_t v)
{
	mmio_write(off, width, v);
	/* A queue address hit at random: its high half goes above 64 TiB at
	 * once, so no ring ever lands on memory that is not ours. */
	uint64_t lo = c_off + VIRTIO_PCI_COMMON_Q_DESCLO;
	if (off + width > lo && off < c_off + VIRTIO_PCI_COMMON_Q_USEDHI + 4) {
		for (uint64_t f = lo; f < lo + 24; f += 8)
			if (off + width > f && off < f + 8)
				w32(f + 4, 0x4000u | (uint32_t)rnd());
	}
}

static void phase_random(void)
{
	unsigned n = 0;
	char path[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	int cfg = open(path, O_RDWR);
	uint8_t cfgspace[256] = { 0 };
	if (cfg >= 0 && pread(cfg, cfgspace, sizeof(cfgspace), 0) != sizeof(cfgspace))
		die("read config space");
	unsigned win = 0; /* the PCI configuration access capability */
	for (unsigned p = cfgspace[0x34] & ~3u, k = 0; p && k < 48; p = cfgspace[p + 1] & ~3u, k++)
		if (p <= 256 - 20 && cfgspace[p] == 0x09 && cfgspace[p + 3] == VIRTIO_PCI_CAP_PCI_CFG)
			win = p;
	if (!bringup(~0ULL))
		return;
	/* virtio-fs's configuration (tag, number of request queues) is
	 * read-only (§5.11.4): the driver mounts by that tag afterwards. */
	uint8_t devcfg[64] = { 0 }, devcfg_after[64] = { 0 };
	unsigned devcfg_len = d_len < sizeof(devcfg) ? d_len : sizeof(devcfg);
	for (unsigned i = 0; i < devcfg_len; i++)
		devcfg[i] = r8(d_off + i);
	uint64_t end = now_ms() + 2 * PHASE_MS;
	while (now_ms() < end) {
		unsigned width = 1u << (rnd() % 4);
		uint64_t r = rnd(), off;
		switch (r % 8) {
		case 0: case 1: case 2: /* common configuration */
			off = c_off + (rnd() % 0x40);
			break;
		case 3: /* device configuration and beyond */
			off = d_off + (rnd() % (d_len + 64));
			break;
		case 4: /* notifications, any queue number */
			off = n_off + (rnd() % 0x100);
			break;
		case 5: /* anywhere: MSI-X table and PBA, holes, ISR */
			off = rnd() % bar_len;
			break;
		case 6:
			(void)r8(i_off);
			off = c_off + VIRTIO_PCI_COMMON_STATUS;
			width = 1;
			break;
		default: /* the config access window, through config space */
			if (cfg >= 0 && win) {
				uint8_t b[16];
				uint32_t v = (uint32_t)rnd();
				b[0] = (uint8_t)(rnd() % 3 ? 0 : rnd()); /* bar */
				uint32_t bo = 0x1000 + (uint32_t)(rnd() % (bar_len + 64));
				uint32_t bl = rnd() % 3 ? 1u << (rnd() % 3) : (uint32_t)rnd();
				if (pwrite(cfg, b, 1, win + 4) != 1 || pwrite(cfg, &bo, 4, win + 8) != 4 ||
				    pwrite(cfg, &bl, 4, win + 12) != 4)
					die("config window write");
				if (rnd() % 2)
					(void)!pwrite(cfg, &v, 4, win + 16);
				else
					(void)!pread(cfg, &v, 4, win + 16);
				n++;
			}
			continue;
		}
		off &= ~(uint64_t)(width - 1);
		if (off + width > bar_len)
			continue;
		if (rnd() % 4 == 0) {
			(void)r32(off & ~3ULL);
		} else {
			random_write(off, width, rnd());
		}
		n++;
		if (n % 97 == 0)
			bringup(~0ULL);
	}
	if (cfg >= 0)
		close(cfg);
	reset();
	if (!strcmp(kind, "fs")) {
		for (unsigned i = 0; i < devcfg_len; i++)
			devcfg_after[i] = r8(d_off + i);
		check("config-read-only", !memcmp(devcfg, devcfg_after, devcfg_len),
		      "device configuration (%u bytes) %s", devcfg_len,
		      memcmp(devcfg, devcfg_after, devcfg_len) ? "changed" : "unchanged");
	}
	phase_done("random", "accesses=%u", n);
}

/* ---- device-specific ---------------------------------------------------- */

/* Block requests kiln must refuse: beyond the end, bad types, headers in
 * the wrong direction. None may write the disk. */
static void phase_blk(void)
{
	uint64_t cap = 0; /* sectors, device config offset 0 */
	if (!bringup(~0ULL))
		return;
	cap = r32(d_off) | (uint64_t)r32(d_off + 4) << 32;
	struct {
		uint32_t type;
		uint64_t sector;
		uint32_t len;
	} reqs[] = {
		{ VIRTIO_BLK_T_IN, cap, 512 },      { VIRTIO_BLK_T_IN, cap - 1, 1024 },
		{ VIRTIO_BLK_T_OUT, cap, 512 },     { VIRTIO_BLK_T_OUT, cap - 1, 4096 },
		{ VIRTIO_BLK_T_OUT, ~0ULL, 512 },   { VIRTIO_BLK_T_IN, ~0ULL >> 9, 512 },
		{ VIRTIO_BLK_T_OUT, (~0ULL >> 9) - 1, 4096 },
		{ VIRTIO_BLK_T_WRITE_ZEROES, cap, 0 },   { VIRTIO_BLK_T_DISCARD, cap - 1, 0 },
		{ 0x7fffffff, 0, 512 },             { VIRTIO_BLK_T_GET_ID, 0, 1 },
	};
	unsigned bad = 0, n = 0;
	struct queue *v = &qs[0];
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct page *p = buf_page(0);
		memset(p->va, 0xee, 128);
		struct virtio_blk_outhdr *h = (void *)p->va;
		*h = (struct virtio_blk_outhdr){ .type = reqs[i].type, .sector = reqs[i].sector };
		bool out = reqs[i].type == VIRTIO_BLK_T_OUT || reqs[i].type == VIRTIO_BLK_T_WRITE_ZEROES ||
			   reqs[i].type == VIRTIO_BLK_T_DISCARD;
		set_desc(v, 0, p->pa, sizeof(*h), VRING_DESC_F_NEXT, 1);
		if (reqs[i].type == VIRTIO_BLK_T_WRITE_ZEROES || reqs[i].type == VIRTIO_BLK_T_DISCARD) {
			/* One segment: sector, num_sectors, flags. */
			struct virtio_blk_discard_write_zeroes *s = (void *)(p->va + 256);
			*s = (struct virtio_blk_discard_write_zeroes){ .sector = reqs[i].sector,
								       .num_sectors = 8 };
			set_desc(v, 1, p->pa + 256, sizeof(*s), VRING_DESC_F_NEXT, 2);
		} else {
			set_desc(v, 1, buf_page(1)->pa, reqs[i].len,
				 (out ? 0 : VRING_DESC_F_WRITE) | VRING_DESC_F_NEXT, 2);
		}
		set_desc(v, 2, p->pa + 64, 1, VRING_DESC_F_WRITE, 0);
		uint16_t before = used_idx(0);
		offer(v, 0);
		kick(0);
		uint64_t end = now_ms() + 2000;
		while (used_idx(0) == before && now_ms() < end && !(status() & F_NEEDS_RESET))
			sleep_ms(1);
		uint8_t st = p->va[64];
		n++;
		/* GET_ID into 1 byte may succeed (truncated id); every other
		 * request here must come back as an error. */
		if (reqs[i].type != VIRTIO_BLK_T_GET_ID && used_idx(0) != before && st == VIRTIO_BLK_S_OK) {
			bad++;
			check("blk-refused", false, "type %u sector %llu len %u completed OK",
			      reqs[i].type, (unsigned long long)reqs[i].sector, reqs[i].len);
		}
		if (status() & F_NEEDS_RESET)
			bringup(~0ULL);
	}
	/* Header in a writable buffer; no status byte; status readable. */
	if (bringup(~0ULL)) {
		set_desc(v, 0, buf_page(0)->pa, 16, VRING_DESC_F_WRITE, 0);
		offer(v, 0);
		set_desc(v, 1, buf_page(0)->pa, 16, 0, 0);
		offer(v, 1);
		set_desc(v, 2, buf_page(0)->pa, 16, VRING_DESC_F_NEXT, 3);
		set_desc(v, 3, buf_page(0)->pa + 64, 1, 0, 0);
		offer(v, 2);
		kick(0);
		sleep_ms(50);
	}
	check("blk-refused", bad == 0, "%u of %u bad requests completed OK (capacity %llu sectors)",
	      bad, n, (unsigned long long)cap);
	phase_done("blk-requests", "requests=%u", n);
}

static void phase_net(void)
{
	/* Frames too short for the header, empty, and 64 KiB + 1 long. */
	if (!bringup(~0ULL))
		return;
	struct queue *v = &qs[1];
	set_desc(v, 0, buf_page(0)->pa, 4, 0, 0);
	offer(v, 0);
	set_desc(v, 1, buf_page(0)->pa, 0, 0, 0);
	offer(v, 1);
	for (unsigned i = 0; i < 17; i++)
		set_desc(v, 2 + i, buf_page(i % 4)->pa, PAGE, VRING_DESC_F_NEXT, (uint16_t)(3 + i));
	set_desc(v, 19, buf_page(0)->pa, 1, 0, 0);
	offer(v, 2);
	kick(1);
	/* Receive buffers smaller than the header, for whatever arrives. */
	struct queue *rx = &qs[0];
	for (unsigned i = 0; i < 8; i++) {
		set_desc(rx, i, buf_page(8)->pa, i, VRING_DESC_F_WRITE, 0);
		offer(rx, (uint16_t)i);
	}
	kick(0);
	sleep_ms(300);
	phase_done("net-frames", "status=0x%02x", status());
}

/* ---- virtio-fs: the FUSE server ------------------------------------------------ */

static unsigned wall_tries, wall_breaches;

/* A lookup that named something it must not: do what a hostile driver
 * would with the node, so the host's own checks (t_56: the canary and the
 * directory around the share) see the breach as well. */
static void wall_breached(uint64_t node, uint32_t mode)
{
	if (S_ISDIR(mode)) {
		struct {
			struct fuse_create_in in;
			char name[20];
		} c = { { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644 }, "escaped-by-guest" };
		fuse_call(FS_REQUEST_Q, FUSE_CREATE, node, &c, sizeof(c), PAGE);
	} else if (S_ISREG(mode)) {
		int err;
		uint64_t fh = fuse_open(node, FUSE_OPEN, O_WRONLY | O_TRUNC, &err);
		struct {
			struct fuse_write_in in;
			char data[8];
		} w = { { .fh = fh, .size = 8 }, { 'e', 's', 'c', 'a', 'p', 'e', 'd', '\n' } };
		if (!err)
			fuse_call(FS_REQUEST_Q, FUSE_WRITE, node, &w, sizeof(w), PAGE);
	}
}

/* LOOKUP of (name) under (parent) must be refused: the share is a wall. */
static void wall(uint64_t parent, const char *name)
{
	long n = fuse_call(FS_REQUEST_Q, FUSE_LOOKUP, parent, name, strlen(name) + 1, PAGE);
	const struct fuse_entry_out *e = reply_payload();
	wall_tries++;
	if (answered(n) && reply_hdr()->error < 0)
		return;
	wall_breaches++;
	check("fuse-wall", false, "LOOKUP '%.40s' under node %llu: used %ld error %d node %llu mode 0%o",
	      name, (unsigned long long)parent, n, reply_hdr()->error,
	      (unsigned long long)e->nodeid, e->attr.mode);
	if (answered(n) && reply_hdr()->error == 0)
		wall_breached(e->nodeid, e->attr.mode);
}

/*
 * FUSE through the request queue (FORGETs through hiprio): INIT games,
 * header lengths that lie, chains too short or without a readable part,
 * names without their NUL, unknown opcodes, nodes and handles never given
 * out, READs larger than their chain, FORGETs of anything with counts past
 * their entries; then lookups that try to leave the share. Every request
 * is answered with an error or not at all, and the device never needs a
 * reset for them: they are the driver's mistakes, not a broken ring.
 */
static void phase_fuse(void)
{
	const uint64_t root = FUSE_ROOT_ID;
	struct fuse_getattr_in ga = { 0 };
	uint8_t *req = fs_req();
	uint64_t req_pa = buf_page(FS_REQ)->pa, rep_pa = buf_page(FS_REP)->pa;
	size_t len;
	long n;
	int err;
	if (!bringup(~0ULL))
		return;
	expect_refused("fuse-before-init", fuse_getattr(root));
	/* A newer major (answered with kiln's, for a retry), a minor from
	 * before virtio-fs, an argument shorter than any version's. */
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION + 1 };
	expect_ok("fuse-init-newer-major", fuse_call(FS_REQUEST_Q, FUSE_INIT, 0, &in, sizeof(in), PAGE));
	in = (struct fuse_init_in){ .major = FUSE_KERNEL_VERSION, .minor = 30 };
	expect_refused("fuse-init-old-minor", fuse_call(FS_REQUEST_Q, FUSE_INIT, 0, &in, sizeof(in), PAGE));
	expect_refused("fuse-init-short", fuse_call(FS_REQUEST_Q, FUSE_INIT, 0, &in, 8, PAGE));
	check("fuse-init", fuse_init(), "INIT %u.%u", FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION);

	/* The header's length against the chain: past it, shorter than a
	 * header, 0, 4 GiB. */
	static const uint32_t bad_lens[] = { 40 + 16 + 64, 20, 0, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		len = fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga));
		((struct fuse_in_header *)req)->len = bad_lens[i];
		expect_refused("fuse-header-len", fuse_send(FS_REQUEST_Q, len, PAGE));
	}
	/* A readable part shorter than a header: nothing to answer to. */
	fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga));
	expect_no_reply("fuse-short-chain", fuse_send(FS_REQUEST_Q, 20, PAGE));
	/* The request in the device-writable part only: never read, never
	 * run (a MKDIR that must not appear). */
	len = fuse_build(req, FUSE_MKDIR, root, "\0\0\0\0\0\0\0\0from-writable-part", 8 + 19);
	((struct fuse_mkdir_in *)(req + sizeof(struct fuse_in_header)))->mode = 0755;
	{
		struct seg s[] = { { req_pa, (uint32_t)len, true }, { rep_pa, PAGE, true } };
		expect_no_reply("fuse-request-in-writable-part", fs_chain(FS_REQUEST_Q, s, 2));
	}
	uint32_t mode = 0;
	check("fuse-request-in-writable-part", !fuse_lookup(root, "from-writable-part", &mode),
	      "the MKDIR it held %s", mode ? "was run" : "was not run");
	/* No writable part, a reply room smaller than a reply header, one
	 * with room for a header only. */
	len = fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga));
	{
		struct seg s[] = { { req_pa, (uint32_t)len, false }, { rep_pa, PAGE, false } };
		expect_no_reply("fuse-no-writable-part", fs_chain(FS_REQUEST_Q, s, 2));
	}
	expect_no_reply("fuse-reply-room-4", fuse_send(FS_REQUEST_Q, len, 4));
	expect_refused("fuse-reply-room-header", fuse_send(FS_REQUEST_Q, fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga)),
							  sizeof(struct fuse_out_header)));
	/* The header split over odd-sized descriptors: a correct request. */
	len = fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga));
	{
		memset(reply_hdr(), 0x5a, PAGE);
		struct seg s[] = { { req_pa, 7, false }, { req_pa + 7, 13, false },
				   { req_pa + 20, 21, false }, { req_pa + 41, (uint32_t)len - 41, false },
				   { rep_pa, 40, true }, { rep_pa + 40, PAGE - 40, true } };
		expect_ok("fuse-split-chain", fs_chain(FS_REQUEST_Q, s, 6));
	}
	/* The reply written over the request itself. */
	len = fuse_build(req, FUSE_GETATTR, root, &ga, sizeof(ga));
	{
		struct seg s[] = { { req_pa, (uint32_t)len, false }, { req_pa, PAGE, true } };
		n = fs_chain(FS_REQUEST_Q, s, 2);
		const struct fuse_out_header *oh = (const void *)req;
		check("fuse-reply-over-request", n >= 16 && oh->len == n && !oh->error && oh->unique == fuse_unique,
		      "used %ld, reply len %u error %d", n, oh->len, oh->error);
	}
	/* Opcodes kiln does not serve. */
	static const uint32_t unknown[] = { 0, FUSE_NOTIFY_REPLY, 1000, CUSE_INIT, 0x7fffffff, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		expect_refused("fuse-unknown-opcode", fuse_call(FS_REQUEST_Q, unknown[i], root, &ga, sizeof(ga), PAGE));
	/* Names whose NUL is past the header's length (but in the chain),
	 * or nowhere. */
	len = fuse_build(req, FUSE_LOOKUP, root, "hello", 5);
	req[len] = 0;
	expect_refused("fuse-name-without-nul", fuse_send(FS_REQUEST_Q, len + 1, PAGE));
	{
		char x[300];
		memset(x, 'x', sizeof(x));
		expect_refused("fuse-name-without-nul",
			       fuse_call(FS_REQUEST_Q, FUSE_LOOKUP, root, x, sizeof(x), PAGE));
	}
	/* Nodes never given out. */
	static const uint64_t never[] = { 0, 2, 0x7fffffff, UINT64_MAX };
	for (unsigned i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		expect_refused("fuse-unknown-node", fuse_getattr(never[i]));
	expect_refused("fuse-unknown-node", fuse_call(FS_REQUEST_Q, FUSE_LOOKUP, 0x12345, "hello", 6, PAGE));

	/* A real file: READs larger than their chain, than INIT offered, at
	 * offsets past 2^63; handles never opened or released; a WRITE whose
	 * data is not all there. */
	uint64_t hello = fuse_lookup(root, "hello", &mode);
	check("fuse-lookup", hello && S_ISREG(mode), "hello: node %llu mode 0%o",
	      (unsigned long long)hello, mode);
	uint64_t fh = fuse_open(hello, FUSE_OPEN, O_RDONLY, &err);
	check("fuse-open", !err, "hello: error %d", err);
	n = fuse_read(hello, fh, 0, 64, PAGE);
	expect_ok("fuse-read", n);
	check("fuse-read", n > 16 + 5 && !memcmp(reply_payload(), "hello", 5), "%ld bytes: '%.5s'", n - 16,
	      (const char *)reply_payload());
	expect_refused("fuse-read-past-chain", fuse_read(hello, fh, 0, 1u << 20, PAGE));
	expect_refused("fuse-read-past-chain", fuse_read(hello, fh, 0, 0xffffffffu, PAGE));
	expect_refused("fuse-read-offset", fuse_read(hello, fh, 1ULL << 63, 64, PAGE));
	expect_refused("fuse-read-offset", fuse_read(hello, fh, UINT64_MAX, 64, PAGE));
	expect_refused("fuse-unknown-handle", fuse_read(hello, fh + 1000, 0, 64, PAGE));
	expect_refused("fuse-unknown-handle", fuse_read(hello, UINT64_MAX, 0, 64, PAGE));
	{
		struct {
			struct fuse_write_in in;
			char data[8];
		} w = { { .fh = fh, .size = 4096 }, { 0 } };
		expect_refused("fuse-write-short", fuse_call(FS_REQUEST_Q, FUSE_WRITE, hello, &w, sizeof(w), PAGE));
	}
	struct fuse_release_in rel = { .fh = fh };
	expect_ok("fuse-release", fuse_call(FS_REQUEST_Q, FUSE_RELEASE, hello, &rel, sizeof(rel), PAGE));
	expect_refused("fuse-released-handle", fuse_read(hello, fh, 0, 64, PAGE));

	/* FORGETs: a node never given out, the root with every reference,
	 * hello more often than it was looked up (with room for a reply it
	 * must not get); BATCH_FORGET counting 2^32 - 1 and 0x10000001 (its
	 * 16-byte entries overflow 32 bits) over two entries, and one shorter
	 * than its own header. None is answered; the root stays. */
	struct fuse_forget_in fg = { .nlookup = 1 };
	expect_no_reply("fuse-forget", fuse_call(FS_HIPRIO_Q, FUSE_FORGET, 0x4242, &fg, sizeof(fg), 0));
	fg.nlookup = UINT64_MAX;
	expect_no_reply("fuse-forget", fuse_call(FS_HIPRIO_Q, FUSE_FORGET, root, &fg, sizeof(fg), 0));
	expect_no_reply("fuse-forget", fuse_call(FS_HIPRIO_Q, FUSE_FORGET, hello, &fg, sizeof(fg), PAGE));
	expect_refused("fuse-forgotten-node", fuse_getattr(hello));
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} bf = { { .count = 0xffffffffu }, { { 0x999, 1 }, { root, UINT64_MAX } } };
	expect_no_reply("fuse-batch-forget", fuse_call(FS_HIPRIO_Q, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), 0));
	bf.in.count = 0x10000001u;
	expect_no_reply("fuse-batch-forget", fuse_call(FS_HIPRIO_Q, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), 0));
	expect_no_reply("fuse-batch-forget", fuse_call(FS_HIPRIO_Q, FUSE_BATCH_FORGET, 0, &bf, 4, 0));
	expect_ok("fuse-root-after-forgets", fuse_getattr(root));

	/* The wall: nothing above the share, beside it, or through its symlink. */
	char long_name[NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	static const char *const names[] = { "..", ".", "/", "", "../kiln-canary", "/etc/passwd",
					     "hello/..", "../share", "kiln-canary", "up/kiln-canary" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		wall(root, names[i]);
	wall(root, long_name);
	uint64_t up = fuse_lookup(root, "up", &mode);
	check("fuse-lookup", up && S_ISLNK(mode), "up: node %llu mode 0%o (a symlink to ..)",
	      (unsigned long long)up, mode);
	if (up) {
		wall(up, "kiln-canary");
		wall(up, "..");
		wall(up, "share");
		fuse_open(up, FUSE_OPEN, O_RDONLY, &err);
		check("fuse-open-symlink", err < 0, "OPEN of up: error %d", err);
		fuse_open(up, FUSE_OPENDIR, O_RDONLY, &err);
		check("fuse-open-symlink", err < 0, "OPENDIR of up: error %d", err);
	}
	check("fuse-wall", wall_breaches == 0, "%u of %u lookups refused",
	      wall_tries - wall_breaches, wall_tries);
	check("fuse-not-fatal", !(status() & F_NEEDS_RESET), "status 0x%02x after %llu requests",
	      status(), (unsigned long long)fuse_unique);
	reset();
	phase_done("fuse", "requests=%llu", (unsigned long long)fuse_unique);
}

/* ---- pvpanic ------------------------------------------------------------------ */

/*
 * pvpanic-pci (1b36:0011): one 4 KiB memory BAR. Byte 0 reads the events
 * the device supports (PVPANIC_EVENTS); a write there reports them: bit 0
 * "panicked" ends the VM with status 3, bit 1 "crash kernel loaded" is
 * logged once. Every other byte reads 0 and ignores writes. So the
 * attacks never write bit 0 to byte 0 while the BAR decodes; `panic` mode
 * does, as its only act.
 */
#define PVPANIC_EVENTS 0x3u

static int cfg_fd = -1;
static unsigned cfg_size;

static uint32_t cfg_read(unsigned off, unsigned width)
{
	uint32_t v = 0;
	if (pread(cfg_fd, &v, width, off) != (ssize_t)width)
		die("config read at 0x%x: %s", off, strerror(errno));
	return v;
}

static void cfg_write(unsigned off, unsigned width, uint32_t v)
{
	if (pwrite(cfg_fd, &v, width, off) != (ssize_t)width)
		die("config write at 0x%x: %s", off, strerror(errno));
}

static void pvp_memory_decoding(bool on)
{
	uint16_t cmd = (uint16_t)cfg_read(4, 2);
	cfg_write(4, 2, on ? cmd | 0x2u : cmd & ~0x2u);
}

static uint64_t pvp_expected(uint64_t off) { return off == 0 ? PVPANIC_EVENTS : 0; }

/* Every 8 bytes of the BAR, then the first 64 bytes at every width and
 * alignment. */
static void pvp_reads(void)
{
	unsigned n = 0, bad = 0;
	uint64_t bad_off = 0, bad_val = 0;
	for (uint64_t off = 0; off < bar_len; off += 8, n++) {
		uint64_t v = mmio_read(off, 8);
		if (v != pvp_expected(off) && !bad++)
			bad_off = off, bad_val = v;
	}
	for (uint64_t off = 0; off < 64; off++) {
		for (unsigned width = 1; width <= 8; width *= 2, n++) {
			uint64_t v = mmio_read(off, width);
			if (v != pvp_expected(off) && !bad++)
				bad_off = off, bad_val = v;
		}
	}
	check("bar-reads", bad == 0, "%u of %u reads unexpected (the first at 0x%llx: 0x%llx)", bad, n,
	      (unsigned long long)bad_off, (unsigned long long)bad_val);
	phase_done("reads", "reads=%u", n);
}

/* Every byte but the first with every bit set; byte 0 with bit 1 (the
 * crash-kernel event, again and again) and every other bit but bit 0;
 * wide writes whose other bytes have bit 0 set; then writes and reads of
 * every width at random offsets for 2 * PHASE_MS, bit 0 of byte 0 clear. */
static void pvp_writes(void)
{
	unsigned n = 0, bad = 0;
	for (uint64_t off = 1; off < bar_len; off++, n++)
		w8(off, 0xff);
	for (unsigned i = 0; i < 16; i++, n++)
		w8(0, 0x2);
	static const struct {
		unsigned width;
		uint64_t v;
	} at0[] = { { 1, 0xfe }, { 2, 0x01fe }, { 4, 0x010101fe }, { 8, ~1ULL }, { 8, 0x0101010101010100ULL } };
	for (unsigned i = 0; i < sizeof(at0) / sizeof(at0[0]); i++, n++)
		mmio_write(0, at0[i].width, at0[i].v);
	uint64_t end = now_ms() + 2 * PHASE_MS;
	while (now_ms() < end) {
		unsigned width = 1u << (rnd() % 4);
		uint64_t off = rnd() % 4 ? rnd() % bar_len : 0;
		if (off + width > bar_len)
			continue;
		if (rnd() % 4 == 0) {
			if (mmio_read(off, width) != pvp_expected(off))
				bad++;
		} else {
			mmio_write(off, width, off ? rnd() : rnd() & ~1ULL);
		}
		if (++n % 256 == 0 && r8(0) != PVPANIC_EVENTS)
			bad++;
	}
	check("bar-writes", bad == 0 && r8(0) == PVPANIC_EVENTS,
	      "%u unexpected reads among %u accesses; byte 0 reads 0x%02x", bad, n, r8(0));
	phase_done("writes", "accesses=%u", n);
}

/* Memory decoding off: the function ignores its BAR (PCI §6.2.2), so even
 * the panic event written there must not end the VM; reads give all ones. */
static void pvp_decode_off(void)
{
	pvp_memory_decoding(false);
	uint8_t off_read = r8(0);
	w8(0, 0x1);
	w32(0, PVPANIC_EVENTS);
	mmio_write(0, 8, ~0ULL);
	sleep_ms(300);
	pvp_memory_decoding(true);
	uint8_t on_read = r8(0);
	check("decode-off", off_read == 0xff && on_read == PVPANIC_EVENTS,
	      "byte 0 reads 0x%02x with memory decoding off, 0x%02x with it on", off_read, on_read);
	phase_done("decode-off", "the panic event written while not decoding");
}

/* The configuration space: every byte, word and dword read, then random
 * writes of every width for PHASE_MS (the command register with them);
 * afterwards the identity is unchanged, BAR 0 cannot be moved, and sizes
 * as 4 KiB. */
static void pvp_config(void)
{
	uint32_t id = cfg_read(0, 4), class = cfg_read(8, 4) >> 8, bar0 = cfg_read(0x10, 4);
	uint16_t cmd = (uint16_t)cfg_read(4, 2);
	unsigned n = 0;
	for (unsigned width = 1; width <= 4; width *= 2)
		for (unsigned off = 0; off + width <= cfg_size; off += width, n++)
			(void)cfg_read(off, width);
	uint64_t end = now_ms() + PHASE_MS;
	while (now_ms() < end) {
		unsigned width = 1u << (rnd() % 3);
		unsigned off = (unsigned)(rnd() % cfg_size) & ~(width - 1);
		cfg_write(off, width, (uint32_t)rnd());
		n++;
	}
	cfg_write(4, 2, cmd | 0x2u);
	uint32_t id2 = cfg_read(0, 4), class2 = cfg_read(8, 4) >> 8;
	cfg_write(0x10, 4, 0x12345000u);
	uint32_t moved = cfg_read(0x10, 4);
	cfg_write(0x10, 4, 0xffffffffu);
	uint32_t size = cfg_read(0x10, 4);
	cfg_write(0x10, 4, bar0);
	check("config", id2 == id && class2 == class && moved == bar0 &&
			(size & ~0xfu) == (uint32_t)~(bar_len - 1) && r8(0) == PVPANIC_EVENTS,
	      "id %08x (was %08x), class %06x (was %06x), BAR 0 %08x after a move to 0x12345000 "
	      "(was %08x), sizes as %08x, byte 0 reads 0x%02x",
	      id2, id, class2, class, moved, bar0, size, r8(0));
	phase_done("config", "accesses=%u of %u bytes", n, cfg_size);
}

static int pvpanic_main(bool panic)
{
	char path[256];
	unbind();
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	struct stat st;
	if ((cfg_fd = open(path, O_RDWR)) < 0 || fstat(cfg_fd, &st))
		die("%s: %s", path, strerror(errno));
	cfg_size = st.st_size > 4096 ? 4096 : (unsigned)st.st_size;
	pvp_memory_decoding(true);
	map_bar(0);
	if (panic) {
		uint8_t events = r8(0);
		check("bar-reads", events == PVPANIC_EVENTS, "byte 0 reads 0x%02x", events);
		printf("KILN-HOSTILE pvpanic panic-write\n");
		fflush(stdout);
		tcdrain(STDOUT_FILENO); /* the line leaves the UART before the VM ends */
		w8(0, 0x1);
		sleep_ms(3000);
		check("panic-ends-vm", false, "the VM still runs 3 s after the panic event");
		return 1;
	}
	pvp_reads();
	pvp_writes();
	pvp_decode_off();
	pvp_config();
	munmap((void *)bar, bar_len);
	close(cfg_fd);
	if (driver[0])
		rebind();
	else
		check("rebind", false, "no driver was bound to %s at the start", bdf);
	printf("KILN-HOSTILE %s end bad-checks=%lu\n", kind, checks_bad);
	return 0;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: hostile blk|net|console|rng|fs|pvpanic BDF [forever|panic]");
	kind = argv[1];
	snprintf(bdf, sizeof(bdf), "%s", argv[2]);
	bool forever = argc > 3 && !strcmp(argv[3], "forever");
	bool panic = argc > 3 && !strcmp(argv[3], "panic");
	setvbuf(stdout, NULL, _IOLBF, 0);
	rnd_state ^= (uint64_t)now_ms() * 0x2545f4914f6cdd1dULL;
	printf("KILN-HOSTILE %s start %s seed 0x%016llx\n", kind, bdf,
	       (unsigned long long)rnd_state);
	if (!strcmp(kind, "pvpanic"))
		return pvpanic_main(panic);
	alloc_pages();
	unbind();
	find_caps();
	nq = r16(CC(NUMQ));
	if (nq > MAXQ)
		nq = MAXQ;
	if (nq == 0)
		die("the device has no queues");
	if (forever) {
		if (!bringup(~0ULL))
			die("bring-up failed");
		printf("KILN-HOSTILE %s reoffer-forever started\n", kind);
		fflush(stdout);
		bool fs = !strcmp(kind, "fs");
		reoffer(fs ? FS_REQUEST_Q : kick_driven(0) ? 0 : 1, 0, fs || !strcmp(kind, "rng"));
		return 0; /* only after NEEDS_RESET */
	}
	phase_rings();
	phase_alias();
	phase_reoffer();
	phase_features();
	phase_reset_race();
	phase_random();
	if (!strcmp(kind, "blk"))
		phase_blk();
	if (!strcmp(kind, "net"))
		phase_net();
	if (!strcmp(kind, "fs"))
		phase_fuse();
	reset();
	/* Hand the device back to the kernel's driver, which resets and
	 * probes it: a device that recovers from all of the above. */
	munmap((void *)bar, bar_len);
	rebind();
	printf("KILN-HOSTILE %s end bad-checks=%lu\n", kind, checks_bad);
	return 0;
}
