/* SPDX-License-Identifier: MIT */
/*
 * A hostile virtio driver for kiln's integration tests (t_56), run as root
 * inside the L2 test guest. It unbinds the guest kernel's virtio-pci driver
 * from one device, programs the device itself through its BAR and attacks
 * it: impossible avail indexes, descriptor loops, chains and indirect
 * tables pointing at the rings and outside RAM, the same buffer re-offered
 * without end, feature and status games, bad queue configurations, resets
 * in the middle of I/O and random register writes. At the end the device
 * is reset and handed back to the kernel's driver.
 *
 *   hostile KIND BDF [forever]
 *     KIND: blk | net | console | rng; BDF: 0000:00:03.0
 *     forever: only re-offer one buffer, with no end (t_56's SIGTERM check)
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
 * block request fails, FEATURES_OK with unoffered features does not stick).
 * Exit status 0 when the device came back to its driver; the checks are
 * judged by the test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	bar = mmap(NULL, bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
}

static void unbind(void)
{
	char path[256], link[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return; /* no driver bound */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	int rc = sysfs_write(path, bdf);
	if (rc)
		die("unbind %s: %s", bdf, strerror(-rc));
}

static void rebind(void)
{
	int rc = sysfs_write("/sys/bus/pci/drivers/virtio-pci/bind", bdf);
	check("rebind", rc == 0, "virtio-pci bind: %s", rc ? strerror(-rc) : "bound");
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
	if (!strcmp(kind, "net") || !strcmp(kind, "console"))
		return q == 1;
	return q == 0;
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
			/* The data (blk), the frame (tx) or the buffer (rx, rng). */
			unsigned d = !strcmp(kind, "blk") ? 1u : 0u;
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

/* The same buffer offered again and again, the ring kept full, for (ms)
 * (0: without end). (big): an rng/rx chain of 1 MiB, one page 256 times
 * through an indirect table. */
static void reoffer(unsigned q, unsigned ms, bool big)
{
	struct queue *v = &qs[q];
	uint16_t head = good_request(q, 0, 0);
	if (big) {
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
		/* Console transmit lands in the host's file: keep it short. */
		reoffer(q, !strcmp(kind, "console") && q == 1 ? 300 : PHASE_MS, false);
	}
	/* The same with the largest chains the device serves on a kick. */
	if (!strcmp(kind, "rng") || !strcmp(kind, "blk")) {
		if (bringup(~0ULL))
			reoffer(0, PHASE_MS, true);
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
	switch (width) {
	case 1: w8(off, (uint8_t)v); break;
	case 2: w16(off, (uint16_t)v); break;
	case 4: w32(off, (uint32_t)v); break;
	default: *(volatile uint64_t *)(bar + off) = v; break;
	}
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

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: hostile blk|net|console|rng BDF [forever]");
	kind = argv[1];
	snprintf(bdf, sizeof(bdf), "%s", argv[2]);
	bool forever = argc > 3 && !strcmp(argv[3], "forever");
	setvbuf(stdout, NULL, _IOLBF, 0);
	rnd_state ^= (uint64_t)now_ms() * 0x2545f4914f6cdd1dULL;
	printf("KILN-HOSTILE %s start %s seed 0x%016llx\n", kind, bdf,
	       (unsigned long long)rnd_state);
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
		reoffer(kick_driven(0) ? 0 : 1, 0, !strcmp(kind, "rng"));
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
	reset();
	/* Hand the device back to the kernel's driver, which resets and
	 * probes it: a device that recovers from all of the above. */
	munmap((void *)bar, bar_len);
	rebind();
	printf("KILN-HOSTILE %s end bad-checks=%lu\n", kind, checks_bad);
	return 0;
}
