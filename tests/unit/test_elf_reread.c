/* SPDX-License-Identifier: MIT */
/*
 * The ELF loader must copy exactly what it validated, even when the image
 * bytes change between validation and copy (issue 13: a kernel file
 * rewritten during the load, seen through a live mapping, wrote past the
 * end of guest RAM).
 *
 * The change is made deterministic with userfaultfd: the image is a
 * 4-page region whose pages are supplied on first touch by a handler
 * thread. The loader touches the program headers (page 1), then the PVH
 * note (page 2). While the loader waits for page 2, the handler drops
 * page 1; a loader that reads the headers a second time faults on it
 * again and is then handed headers whose p_filesz reaches 4 KiB past the
 * end of guest RAM, where a PROT_NONE guard page waits. A loader that
 * copies from what it validated never sees them.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loader/kernel.h"

#define PAGE 4096ul
#define RAM_BYTES (4ul << 20)
#define BASE 0x100000ull
#define SEG_LEN 16ull
#define SEG_GPA (RAM_BYTES - SEG_LEN) /* the segment ends where RAM ends */

enum { PG_EHDR, PG_PHDR, PG_NOTE, PG_DATA, NR_PAGES };

struct reread {
	int uffd;
	uint8_t *img;                        /* the uffd-backed image */
	uint8_t *good[NR_PAGES], *bad_phdrs; /* page contents to hand out */
	unsigned phdr_faults;
	char error[128]; /* the handler thread cannot assert: it reports here */
	atomic_bool stop;
	pthread_t thread;
};

static uint8_t *page_alloc(void)
{
	uint8_t *p = aligned_alloc(PAGE, PAGE);
	cr_assert_not_null(p);
	memset(p, 0, PAGE);
	return p;
}

/* Program headers: PT_LOAD of (filesz) bytes to SEG_GPA, PT_NOTE on page 2. */
static void phdrs(uint8_t *pg, uint64_t filesz, uint64_t note_len)
{
	Elf64_Phdr ph[2] = {
	    {.p_type = PT_LOAD,
	     .p_offset = PG_DATA * PAGE,
	     .p_paddr = SEG_GPA,
	     .p_filesz = filesz,
	     .p_memsz = SEG_LEN},
	    {.p_type = PT_NOTE, .p_offset = PG_NOTE * PAGE, .p_filesz = note_len},
	};
	memcpy(pg, ph, sizeof(ph));
}

static void build_pages(struct reread *r)
{
	for (unsigned i = 0; i < NR_PAGES; i++)
		r->good[i] = page_alloc();
	r->bad_phdrs = page_alloc();

	Elf64_Ehdr eh = {
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_phoff = PG_PHDR * PAGE,
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = 2,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(r->good[PG_EHDR], &eh, sizeof(eh));

	/* XEN_ELFNOTE_PHYS32_ENTRY with a 4-byte entry inside the segment. */
	uint32_t note[5] = {4, 4, 18, 0, (uint32_t)SEG_GPA};
	memcpy(&note[3], "Xen", 4);
	memcpy(r->good[PG_NOTE], note, sizeof(note));

	phdrs(r->good[PG_PHDR], SEG_LEN, sizeof(note));
	phdrs(r->bad_phdrs, PAGE, sizeof(note)); /* 4080 bytes too many */
	memset(r->good[PG_DATA], 0xa5, PAGE);
}

/* Supply one page; while the loader waits for the note, drop the headers. */
static void serve(struct reread *r, uint64_t addr)
{
	unsigned pg = (unsigned)((addr - (uintptr_t)r->img) / PAGE);
	if (pg >= NR_PAGES) {
		snprintf(r->error, sizeof(r->error), "fault outside the image");
		return;
	}
	const uint8_t *src = r->good[pg];
	if (pg == PG_PHDR && r->phdr_faults++ > 0)
		src = r->bad_phdrs;
	if (pg == PG_NOTE &&
	    madvise(r->img + PG_PHDR * PAGE, PAGE, MADV_DONTNEED) < 0)
		snprintf(r->error, sizeof(r->error), "madvise: %s",
			 strerror(errno));
	struct uffdio_copy cp = {
	    .dst = (uintptr_t)r->img + pg * PAGE,
	    .src = (uintptr_t)src,
	    .len = PAGE,
	};
	if (ioctl(r->uffd, UFFDIO_COPY, &cp) < 0)
		snprintf(r->error, sizeof(r->error), "UFFDIO_COPY: %s",
			 strerror(errno));
}

static void *handler(void *opaque)
{
	struct reread *r = opaque;
	while (!atomic_load(&r->stop)) {
		struct pollfd p = {.fd = r->uffd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		struct uffd_msg msg;
		if (read(r->uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			serve(r, msg.arg.pagefault.address & ~(PAGE - 1));
	}
	return NULL;
}

static void reread_start(struct reread *r)
{
	memset(r, 0, sizeof(*r));
	build_pages(r);
	r->img = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(r->img, MAP_FAILED);
	/* User-mode faults only: allowed without privilege on current kernels. */
	r->uffd = (int)syscall(SYS_userfaultfd,
			       O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	cr_assert_geq(r->uffd, 0, "userfaultfd: %s", strerror(errno));
	struct uffdio_api api = {.api = UFFD_API};
	cr_assert_eq(ioctl(r->uffd, UFFDIO_API, &api), 0, "UFFDIO_API: %s",
		     strerror(errno));
	struct uffdio_register reg = {
	    .range = {.start = (uintptr_t)r->img, .len = NR_PAGES * PAGE},
	    .mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	cr_assert_eq(ioctl(r->uffd, UFFDIO_REGISTER, &reg), 0,
		     "UFFDIO_REGISTER: %s", strerror(errno));
	cr_assert_eq(pthread_create(&r->thread, NULL, handler, r), 0);
}

static void reread_stop(struct reread *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->uffd);
	munmap(r->img, NR_PAGES * PAGE);
	for (unsigned i = 0; i < NR_PAGES; i++)
		free(r->good[i]);
	free(r->bad_phdrs);
}

Test(elf_reread, copy_uses_the_validated_headers, .timeout = 30)
{
	/* Guest RAM followed by a guard page: one byte past it faults. */
	uint8_t *ram = mmap(NULL, RAM_BYTES + PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	cr_assert_eq(mprotect(ram + RAM_BYTES, PAGE, PROT_NONE), 0);
	struct guest_mem gm = {0};
	struct err e = {0};
	cr_assert_eq(gm_add_region(&gm, 0, ram, RAM_BYTES, &e), 0, "%s", e.msg);

	struct reread r;
	reread_start(&r);
	struct kernel_info ki;
	int rc = kernel_load(&gm, BASE, r.img, NR_PAGES * PAGE, &ki, &e);
	reread_stop(&r);

	cr_assert_eq(r.error[0], '\0', "fault handler: %s", r.error);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(ki.entry, SEG_GPA);
	cr_assert_eq(ki.load_end, RAM_BYTES);
	for (uint64_t i = 0; i < SEG_LEN; i++)
		cr_assert_eq(ram[SEG_GPA + i], 0xa5, "segment byte %llu",
			     (unsigned long long)i);
	/* The headers were read once: the drop of page 1 went unnoticed. */
	cr_assert_eq(r.phdr_faults, 1, "program headers read %u times",
		     r.phdr_faults);
	munmap(ram, RAM_BYTES + PAGE);
}
