/* SPDX-License-Identifier: MIT */
/*
 * The snapshot memory file's lease (vmm/machine/memory_lease.c) on real
 * files: guest RAM mapped privately from a file with data and a hole,
 * another process truncating and overwriting the file while kiln holds
 * the lease (it waits for the detach; the guest's RAM keeps every byte and
 * no access faults afterwards), the path without a lease (detached at
 * once), and a file that changed size.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/log.h"
#include "vmm/base/memory.h"
#include "vmm/machine/memory_lease.h"

#define MIB (1ULL << 20)
#define SIZE (8 * MIB)
#define DATA (4 * MIB) /* the first 4 MiB hold bytes, the rest is a hole */

static char dir[] = "/var/tmp/kiln-lease-XXXXXX";
static char path[64];
static struct guest_mem gm;
static int fd = -1;

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 12));
}

static void setup(void)
{
	log_set_level(LOG_ERROR);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/memory", dir);
	int w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(w, 0);
	uint8_t *buf = malloc(DATA);
	for (uint64_t i = 0; i < DATA; i++)
		buf[i] = pattern(i);
	cr_assert_eq(write(w, buf, DATA), (ssize_t)DATA);
	free(buf);
	cr_assert_eq(ftruncate(w, SIZE), 0);
	close(w);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	struct gm_range layout = { 0, SIZE };
	struct err e = {0};
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_alloc_file(&gm, &layout, 1, fd, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	gm_free(&gm);
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(dir);
}

TestSuite(memory_lease, .init = setup, .fini = teardown);

/* What the guest wrote before the file changed: a page of the data part
 * and a page of the hole. */
static void guest_writes(void)
{
	uint8_t *ram = gm_ptr(&gm, 0, SIZE);
	memset(ram + MIB, 0xab, 4096);
	memset(ram + 6 * MIB, 0xcd, 4096);
}

static void check_ram(void)
{
	const uint8_t *ram = gm_ptr(&gm, 0, SIZE);
	for (uint64_t i = 0; i < SIZE; i++) {
		uint8_t want = i < DATA ? pattern(i) : 0;
		if (i >= MIB && i < MIB + 4096)
			want = 0xab;
		if (i >= 6 * MIB && i < 6 * MIB + 4096)
			want = 0xcd;
		if (ram[i] != want)
			cr_assert_fail("guest RAM at 0x%llx: 0x%02x, not 0x%02x",
				 (unsigned long long)i, ram[i], want);
	}
}

/* A child that overwrites the start of the file and truncates it to zero:
 * its open waits while the lease holds. */
static pid_t change_file(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int w = open(path, O_WRONLY);
		if (w < 0 || pwrite(w, "garbage!", 8, 0) != 8 || ftruncate(w, 0))
			_exit(1);
		_exit(0);
	}
	return pid;
}

Test(memory_lease, writer_waits_for_the_detach)
{
	struct memory_lease ml;
	struct err e = {0};
	cr_assert_eq(memory_lease_take(&ml, fd, SIZE, &gm, &e), 0, "%s", e.msg);
	cr_assert(memory_lease_held(&ml), "a root test process can lease its own file");
	uint64_t now = memory_lease_now_ms(), long_ago = now - ml.break_ms - 1;
	cr_assert_geq(ml.break_ms, 1000, "lease-break-time: %llu ms",
		      (unsigned long long)ml.break_ms);
	/* Nobody wants to write: a long read is as good as a short one. */
	cr_assert_not(memory_lease_outlived(&ml, long_ago));
	guest_writes();
	pid_t child = change_file();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	struct timespec ten = { 10, 0 };
	cr_assert_eq(sigtimedwait(&set, NULL, &ten), SIGIO, "no lease break: %s", strerror(errno));
	int status;
	cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "the writer waits for the lease");
	/* A writer waits: a read begun just now is still the file's, one that
	 * took longer than lease-break-time may not be. */
	cr_assert_not(memory_lease_outlived(&ml, memory_lease_now_ms()));
	cr_assert(memory_lease_outlived(&ml, long_ago));
	cr_assert_eq(memory_lease_detach(&ml, &gm, &e), 0, "%s", e.msg);
	cr_assert_not(memory_lease_held(&ml));
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
	/* The file is empty now: every page read here would fault if it
	 * were still the file's. */
	check_ram();
	memory_lease_fini(&ml);
}

Test(memory_lease, no_lease_detaches_at_once)
{
	/* A writer holding the file open: no read lease can be had. */
	int w = open(path, O_WRONLY);
	cr_assert_geq(w, 0);
	struct memory_lease ml;
	struct err e = {0};
	cr_assert_eq(memory_lease_take(&ml, fd, SIZE, &gm, &e), 0, "%s", e.msg);
	cr_assert_not(memory_lease_held(&ml), "detached at once");
	cr_assert_eq(pwrite(w, "garbage!", 8, 0), 8);
	cr_assert_eq(ftruncate(w, 0), 0);
	close(w);
	const uint8_t *ram = gm_ptr(&gm, 0, SIZE);
	for (uint64_t i = 0; i < SIZE; i++)
		if (ram[i] != (i < DATA ? pattern(i) : 0))
			cr_assert_fail("guest RAM at 0x%llx changed with the file", (unsigned long long)i);
	memory_lease_fini(&ml);
}

Test(memory_lease, size_changed)
{
	struct memory_lease ml;
	struct err e = {0};
	cr_assert_eq(memory_lease_take(&ml, fd, SIZE + 4096, &gm, &e), -EINVAL);
	cr_assert(strstr(e.msg, "changed size"), "%s", e.msg);
	cr_assert_not(memory_lease_held(&ml));
	memory_lease_fini(&ml);
}
