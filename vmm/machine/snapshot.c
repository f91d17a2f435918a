/* SPDX-License-Identifier: MIT */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../arch/arch.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem_digest.h"
#include "../base/snapfile.h"
#include "../base/state.h"
#include "snapshot_memory.h"
#include "vcpu.h"
#include "vm.h"

#define MACHINE_KIND "machine"
#define MACHINE_VERSION 1
#define BACKING_KIND "backing"
#define BACKING_VERSION 1
#define STATE_MAX (64u << 20)      /* a state file is KiBs; refuse absurd ones */
#define VCPU_SAVE_MS 5000

struct snapshot {
	struct file_snapshot file;    /* DIR/state */
	struct snapfile sf;
	int mem_fd;
	unsigned vcpus;
	uint64_t ram_bytes;
	char *config;
	char *dir;
	bool unchecked;           /* snapshot_skip_memory_check */
	struct mem_digest sums;   /* the memory file's checksum; no sums: a
				   * snapshot of an older kiln, without one */
};

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- saving ------------------------------------------------------------ */

struct vcpu_saves {
	struct state_buf buf[CFG_MAX_VCPUS];
};

static int save_vcpu(struct vcpu *v, void *arg, struct err *e)
{
	struct vcpu_saves *s = arg;
	return arch_vcpu_save(v, &s->buf[v->id], e);
}

/* DIR/(name): (data, len), or guest RAM (ram) as a sparse file of (size)
 * with its checksum into (sums); then on disk. */
static int write_file(int dirfd, const char *name, const void *data, size_t len,
		      uint64_t size, const struct ram_source *ram, uint64_t *written,
		      struct mem_digest *sums, struct err *e)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0400);
	if (fd < 0)
		return err_set(e, -errno, "%s: cannot create: %s", name, strerror(errno));
	int rc = 0;
	if (ram) {
		if (ftruncate(fd, (off_t)size) < 0)
			rc = err_set(e, -errno, "%s: cannot size it: %s", name, strerror(errno));
		else
			rc = snapshot_write_memory(ram, fd, sums, written, e);
	} else {
		rc = fd_pwrite_exact(fd, data, len, 0);
		if (rc)
			err_set(e, rc, "%s: cannot write: %s", name, strerror(-rc));
	}
	if (!rc && fdatasync(fd) < 0)
		rc = err_set(e, -errno, "%s: fdatasync: %s", name, strerror(errno));
	close(fd);
	return rc;
}

static int sync_parent(const char *dir, struct err *e)
{
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", dir);
	const char *p = file_parent(parent);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", p, strerror(errno));
	int rc = fsync(fd) < 0 ? err_set(e, -errno, "%s: fsync: %s", p, strerror(errno)) : 0;
	close(fd);
	return rc;
}

static void save_machine(const struct vm *vm, struct state_buf *out)
{
	state_begin(out, MACHINE_KIND, MACHINE_VERSION);
	state_put_u32(out, vm->nr_vcpus);
	state_put_u64(out, vm->mem.ram_bytes);
	state_put_u32(out, vm->mem.nr_regions);
	for (unsigned r = 0; r < vm->mem.nr_regions; r++) {
		state_put_u64(out, vm->mem.regions[r].gpa);
		state_put_u64(out, vm->mem.regions[r].size);
	}
}

/* Which host file (device, inode), its size and last modification (ns):
 * a disk's image as the snapshot saw it. */
struct backing_id {
	uint64_t dev, ino, size, mtime_ns;
};

static int backing_id_of(int fd, struct backing_id *id)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*id = (struct backing_id){ (uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
				   (uint64_t)st.st_mtim.tv_sec * 1000000000u +
					   (uint64_t)st.st_mtim.tv_nsec };
	return 0;
}

/* The section "backing.ID" of a device with a backing file: the file's
 * identity, kept apart from the device's own state (which a restore over
 * a copy must reproduce byte for byte). Nothing for other devices. */
static void save_backing(struct device *d, struct state_buf *out)
{
	struct backing_id id;
	int fd = d->ops->backing_fd ? d->ops->backing_fd(d) : -1;
	if (fd < 0 || backing_id_of(fd, &id))
		return;
	state_begin(out, BACKING_KIND, BACKING_VERSION);
	state_put_u64(out, id.dev);
	state_put_u64(out, id.ino);
	state_put_u64(out, id.size);
	state_put_u64(out, id.mtime_ns);
}

/* One more section from (buf), consumed. */
static int add_section(struct snapfile_writer *w, const char *name,
		       struct state_buf *buf, struct err *e)
{
	int rc = buf->error ? err_set(e, buf->error, "%s: out of memory", name)
			    : snapfile_add(w, name, buf->data, buf->len, e);
	state_fini(buf);
	return rc;
}

/* Every section of the state file into (w). */
static int collect_state(struct vm *vm, const char *config_json,
			 struct snapfile_writer *w, struct err *e)
{
	struct vcpu_saves *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return err_set(e, -ENOMEM, "out of memory");
	struct state_buf buf;
	state_init(&buf);
	save_machine(vm, &buf);
	int rc = add_section(w, "machine", &buf, e);
	if (!rc)
		rc = snapfile_add(w, "config", config_json, strlen(config_json), e);
	if (!rc) {
		state_init(&buf);
		rc = arch_vm_save(vm, &buf, e);
		rc = rc ? (state_fini(&buf), rc) : add_section(w, "vm", &buf, e);
	}
	if (!rc)
		rc = vm_vcpus_do(vm, save_vcpu, vs, VCPU_SAVE_MS, e);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		char name[16];
		snprintf(name, sizeof(name), "vcpu.%u", i);
		if (!rc)
			rc = add_section(w, name, &vs->buf[i], e);
		state_fini(&vs->buf[i]);
	}
	free(vs);
	device_list_foreach(&vm->devices, d) {
		if (rc)
			break;
		char name[SNAPFILE_NAME_MAX + 1];
		snprintf(name, sizeof(name), "device.%s", d->id);
		state_init(&buf);
		if (d->ops->save)
			rc = d->ops->save(d, &buf, e);
		if (rc) {
			state_fini(&buf);
			err_prefix(e, "device %s", d->id);
			break;
		}
		rc = add_section(w, name, &buf, e);
		state_init(&buf);
		save_backing(d, &buf);
		snprintf(name, sizeof(name), "backing.%s", d->id);
		if (!rc && buf.len)
			rc = add_section(w, name, &buf, e);
		else
			state_fini(&buf);
	}
	return rc;
}

int vm_snapshot(struct vm *vm, const char *dir, const char *config_json,
		struct snapshot_stats *st, struct err *e)
{
	uint64_t t0 = now_ms();
	memset(st, 0, sizeof(*st));
	if (!vm_is_paused(vm))
		return err_set(e, -EBUSY, "the VM must be paused");
	struct snapfile_writer w;
	snapfile_writer_init(&w);
	struct mem_digest sums;
	int rc = mem_digest_init(&sums, vm->mem.ram_bytes);
	if (rc)
		err_set(e, rc, "memory: cannot sum %llu bytes: %s",
			(unsigned long long)vm->mem.ram_bytes, strerror(-rc));
	if (!rc)
		rc = collect_state(vm, config_json, &w, e);
	if (rc) {
		snapfile_writer_fini(&w);
		mem_digest_fini(&sums);
		return rc;
	}
	if (mkdir(dir, 0700) < 0) {
		rc = -errno;
		snapfile_writer_fini(&w);
		mem_digest_fini(&sums);
		err_field(e, "path");
		return err_set(e, rc, "%s: %s", dir,
			       rc == -EEXIST ? "exists (a snapshot goes into a new directory)"
					     : strerror(-rc));
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0)
		rc = err_set(e, -errno, "%s: %s", dir, strerror(errno));
	/* A restored VM whose RAM still maps its snapshot's file: the pages
	 * the guest did not write are read from that file, not the mapping. */
	struct ram_source ram = { &vm->mem,
				  memory_lease_held(&vm->lease) ? vm->lease.fd : -1,
				  vm->lease.pagemap_fd };
	uint64_t write_start = memory_lease_now_ms();
	if (!rc)
		rc = write_file(dirfd, "memory", NULL, 0, vm->mem.ram_bytes, &ram,
				&st->written_bytes, &sums, e);
	/* The old file read past the point where the kernel let a writer
	 * go on: what was read may be that writer's. */
	if (!rc && ram.src_fd >= 0 && memory_lease_outlived(&vm->lease, write_start))
		rc = err_set(e, -EAGAIN, "memory: another process opened the restored "
					 "snapshot's memory file to write while kiln read it, for "
					 "longer than the kernel's lease-break-time: not snapshotted");
	/* The memory file's checksum is a section of the state file, which
	 * is complete only now. */
	struct state_buf buf, file;
	state_init(&file);
	if (!rc) {
		state_init(&buf);
		mem_digest_save(&sums, &buf);
		rc = add_section(&w, "memory", &buf, e);
	}
	char host[SNAPFILE_TEXT_MAX + 1];
	arch_host_identity(host, sizeof(host));
	if (!rc)
		rc = snapfile_finish(&w, KILN_VERSION, host, &file, e);
	/* The state last: a directory without it is no snapshot. */
	if (!rc)
		rc = write_file(dirfd, "state", file.data, file.len, 0, NULL, NULL, NULL, e);
	if (!rc && fsync(dirfd) < 0)
		rc = err_set(e, -errno, "%s: fsync: %s", dir, strerror(errno));
	/* And the directory's own entry in its parent. */
	if (!rc)
		rc = sync_parent(dir, e);
	if (rc) {
		if (dirfd >= 0) {
			unlinkat(dirfd, "memory", 0);
			unlinkat(dirfd, "state", 0);
		}
		unlinkat(AT_FDCWD, dir, AT_REMOVEDIR);
	}
	if (dirfd >= 0)
		close(dirfd);
	st->ram_bytes = vm->mem.ram_bytes;
	st->state_bytes = file.len;
	st->ms = now_ms() - t0;
	state_fini(&file);
	snapfile_writer_fini(&w);
	mem_digest_fini(&sums);
	return rc;
}

/* ---- restoring --------------------------------------------------------- */

static int read_machine(struct snapshot *s, struct err *e)
{
	const struct snapfile_section *sec = snapfile_find(&s->sf, "machine");
	if (!sec)
		return err_set(e, -EINVAL, "section 'machine' is missing");
	struct state_buf in;
	state_from(&in, sec->data, sec->len);
	int rc = state_expect(&in, MACHINE_KIND, MACHINE_VERSION, e);
	s->vcpus = state_get_u32(&in);
	s->ram_bytes = state_get_u64(&in);
	if (!rc)
		rc = state_check(&in, "section 'machine'", e);
	if (!rc && (s->vcpus < 1 || s->vcpus > CFG_MAX_VCPUS || !s->ram_bytes))
		rc = err_set(e, -EINVAL, "section 'machine': %u vCPUs, %llu bytes of RAM",
			     s->vcpus, (unsigned long long)s->ram_bytes);
	return rc;
}

static int open_memory(struct snapshot *s, const char *dir, struct err *e)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/memory", dir);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->mem_fd < 0)
		return err_set(e, -errno, "memory: %s", strerror(errno));
	struct stat st;
	if (fstat(s->mem_fd, &st) < 0)
		return err_set(e, -errno, "memory: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(e, -EINVAL, "memory: not a regular file");
	if ((uint64_t)st.st_size != s->ram_bytes)
		return err_set(e, -EINVAL, "memory: %llu bytes, the guest's RAM is %llu (%s)",
			       (unsigned long long)st.st_size,
			       (unsigned long long)s->ram_bytes,
			       (uint64_t)st.st_size < s->ram_bytes ? "truncated" : "too long");
	return 0;
}

/* The memory file's checksum, when the snapshot has one (a snapshot of an
 * older kiln has not: its memory file goes unchecked, said at restore). */
static int read_sums(struct snapshot *s, struct err *e)
{
	const struct snapfile_section *sec = snapfile_find(&s->sf, "memory");
	if (!sec)
		return 0;
	struct state_buf in;
	state_from(&in, sec->data, sec->len);
	return mem_digest_load(&s->sums, &in, s->ram_bytes, e);
}

void snapshot_skip_memory_check(struct snapshot *s)
{
	s->unchecked = true;
}

int snapshot_check_memory(const struct snapshot *s, const struct guest_mem *gm,
			  struct err *e)
{
	if (s->unchecked) {
		log_info("snapshot %s: memory file not checked (the restore asked not to)", s->dir);
		return 0;
	}
	if (!s->sums.sums) {
		log_warn("snapshot %s has no checksum of its memory file (written by "
			 "kiln %s): restored unchecked", s->dir, s->sf.kiln_version);
		return 0;
	}
	uint64_t t0 = now_ms(), data = 0;
	/* From guest RAM itself: what the guest will see. Still the file's
	 * private mapping, nothing written: its pages are dropped again, and
	 * the restore keeps costing what the guest touches. */
	int rc = mem_digest_verify(&s->sums, s->mem_fd, gm->map_base, gm->file_backed, &data, e);
	if (rc) {
		err_prefix(e, "snapshot %s", s->dir);
		return rc;
	}
	log_info("snapshot %s: memory file checked: %llu MiB of data in %llu ms", s->dir,
		  (unsigned long long)(data >> 20), (unsigned long long)(now_ms() - t0));
	return 0;
}

int snapshot_open(const char *dir, struct snapshot **out, struct err *e)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	s->mem_fd = -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/state", dir);
	int rc = file_read_private(path, STATE_MAX, &s->file, e);
	if (rc)
		err_prefix(e, "state");
	if (!rc) {
		rc = snapfile_parse(s->file.data, s->file.size, &s->sf, e);
		if (rc)
			err_prefix(e, "state");
	}
	char host[SNAPFILE_TEXT_MAX + 1];
	arch_host_identity(host, sizeof(host));
	if (!rc && strcmp(host, s->sf.host))
		rc = err_set(e, -EINVAL, "taken on a %s host, this one is %s",
			     s->sf.host, host);
	if (!rc)
		rc = read_machine(s, e);
	const struct snapfile_section *cfg = rc ? NULL : snapfile_find(&s->sf, "config");
	if (!rc && !cfg)
		rc = err_set(e, -EINVAL, "section 'config' is missing");
	if (!rc && !(s->config = strndup((const char *)cfg->data, cfg->len)))
		rc = err_set(e, -ENOMEM, "out of memory");
	if (!rc)
		rc = open_memory(s, dir, e);
	if (!rc)
		rc = read_sums(s, e);
	if (!rc && !(s->dir = strdup(dir)))
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc) {
		err_prefix(e, "snapshot %s", dir);
		snapshot_close(s);
		return rc;
	}
	if (strcmp(s->sf.kiln_version, KILN_VERSION))
		log_info("snapshot %s was written by kiln %s", dir, s->sf.kiln_version);
	*out = s;
	return 0;
}

const char *snapshot_config(const struct snapshot *s)
{
	return s->config;
}

int snapshot_memory_fd(const struct snapshot *s)
{
	return s->mem_fd;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	snapfile_fini(&s->sf);
	file_snapshot_free(&s->file);
	mem_digest_fini(&s->sums);
	free(s->config);
	free(s->dir);
	free(s);
}

int snapshot_check_shape(const struct snapshot *s, unsigned vcpus,
			 uint64_t ram_bytes, struct err *e)
{
	if (vcpus != s->vcpus) {
		err_field(e, "machine.vcpus");
		return err_set(e, -EINVAL, "%u vCPUs, the snapshot's guest has %u",
			       vcpus, s->vcpus);
	}
	if (ram_bytes != s->ram_bytes) {
		err_field(e, "machine.memory_mib");
		return err_set(e, -EINVAL, "%llu MiB, the snapshot's guest has %llu MiB",
			       (unsigned long long)(ram_bytes >> 20),
			       (unsigned long long)(s->ram_bytes >> 20));
	}
	return 0;
}

/* The section (name) as a reader; -EINVAL naming it when missing. */
static int section(const struct snapshot *s, const char *name, struct state_buf *in,
		   struct err *e)
{
	const struct snapfile_section *sec = snapfile_find(&s->sf, name);
	if (!sec)
		return err_set(e, -EINVAL, "section '%s' is missing", name);
	state_from(in, sec->data, sec->len);
	return 0;
}

/*
 * Say how a device's backing file differs from the one snapshotted: a
 * message, never a refusal (the size is the device's own state, checked
 * there). Another file is the intended case of a clone's own copy, so
 * only noted; the same file written since leaves the guest's page cache
 * describing blocks that are no longer there: a warning.
 */
static void check_backing(struct device *d, const struct snapshot *s)
{
	char name[SNAPFILE_NAME_MAX + 1];
	struct backing_id saved, cur;
	struct state_buf in;
	snprintf(name, sizeof(name), "backing.%s", d->id);
	int fd = d->ops->backing_fd ? d->ops->backing_fd(d) : -1;
	if (!snapfile_find(&s->sf, name))
		return; /* a device without a file, then as now */
	/* The section's checksum held (snapshot_open); a record this kiln
	 * cannot read (another version) only costs the comparison. */
	struct err why = { 0 };
	int rc = section(s, name, &in, &why);
	rc = rc ? rc : state_expect(&in, BACKING_KIND, BACKING_VERSION, &why);
	if (!rc) {
		saved.dev = state_get_u64(&in);
		saved.ino = state_get_u64(&in);
		saved.size = state_get_u64(&in);
		saved.mtime_ns = state_get_u64(&in);
		rc = state_check(&in, name, &why);
	}
	if (rc) {
		log_warn("device %s: its file is not compared with the snapshot's: %s", d->id,
			 why.msg);
		return;
	}
	if (fd < 0 || backing_id_of(fd, &cur))
		return;
	if (saved.dev != cur.dev || saved.ino != cur.ino) {
		log_info("device %s: its file is not the one snapshotted (a copy?): the guest "
			 "expects the blocks it had then", d->id);
	} else if (saved.mtime_ns != cur.mtime_ns || saved.size != cur.size) {
		time_t t = (time_t)(cur.mtime_ns / 1000000000u);
		struct tm tm;
		char when[32] = "?";
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		log_warn("device %s: its file was written after the snapshot (modified %s): "
			 "the guest's cached view of it may no longer match", d->id, when);
	}
}

static int apply_devices(struct vm *vm, const struct snapshot *s, struct err *e)
{
	int rc = 0;
	device_list_foreach(&vm->devices, d) {
		char name[SNAPFILE_NAME_MAX + 1];
		snprintf(name, sizeof(name), "device.%s", d->id);
		struct state_buf in;
		if (!snapfile_find(&s->sf, name))
			return err_set(e, -EINVAL,
				       "device %s: not in the snapshot (a restored VM has the "
				       "devices it was saved with; a flag with one's id changes it)",
				       d->id);
		rc = section(s, name, &in, e);
		/* The file as it was left, before the restore: restoring a
		 * queue kicks it, and a write the guest had queued when it was
		 * paused goes to the file at once (io_uring's worker), which
		 * would read as a write by someone else. */
		if (!rc)
			check_backing(d, s);
		if (!rc && d->ops->restore)
			rc = d->ops->restore(d, &in, e);
		else if (!rc && in.len)
			rc = err_set(e, -EINVAL, "it has state, this kiln's %s keeps none",
				     d->kind);
		if (rc) {
			err_prefix(e, "device %s", d->id);
			return rc;
		}
	}
	/* And no device of the snapshot is missing from this VM. */
	for (unsigned i = 0; i < s->sf.nr; i++) {
		const char *n = s->sf.sections[i].name;
		if (!strncmp(n, "device.", 7) && !device_list_find(&vm->devices, n + 7))
			return err_set(e, -EINVAL, "device %s: in the snapshot, not in this VM's config",
				       n + 7);
	}
	return 0;
}

int snapshot_apply(struct vm *vm, const struct snapshot *s, struct err *e)
{
	struct state_buf in;
	int rc = section(s, "vm", &in, e);
	if (!rc)
		rc = arch_vm_restore(vm, &in, e);
	if (rc)
		err_prefix(e, "section 'vm'");
	if (!rc)
		rc = apply_devices(vm, s, e);
	for (unsigned i = 0; !rc && i < vm->nr_vcpus; i++) {
		char name[16];
		snprintf(name, sizeof(name), "vcpu.%u", i);
		rc = section(s, name, &in, e);
		if (!rc)
			rc = arch_vcpu_restore(vm->vcpus[i], &in, e);
		if (rc)
			err_prefix(e, "section '%s'", name);
	}
	if (rc)
		err_prefix(e, "restore");
	return rc;
}
