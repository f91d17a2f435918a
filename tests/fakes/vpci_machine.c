/* SPDX-License-Identifier: MIT */
#include "tests/fakes/vpci_machine.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

static int p_alloc(void *o, unsigned *gsi, int *fd, struct err *e)
{
	struct vpci_machine *m = o;
	*gsi = m->next_gsi++;
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return *fd < 0 ? err_set(e, -errno, "eventfd") : 0;
}

static void p_route(void *o, unsigned gsi, bool valid, uint64_t a, uint32_t d)
{
	struct vpci_machine *m = o;
	m->routes++;
}

static int p_ioevent(void *o, uint64_t addr, uint32_t len, int fd, struct err *e)
{
	struct vpci_machine *m = o;
	if (m->nr_ioevents == VPM_MAX_IOEVENTS)
		return err_set(e, -ENOSPC, "too many ioeventfds");
	m->ioevent_addr[m->nr_ioevents] = addr;
	m->ioevent_fd[m->nr_ioevents++] = fd;
	return 0;
}

static int p_map(void *o, uint64_t gpa, void *hva, uint64_t size, struct err *e)
{
	struct vpci_machine *m = o;
	m->mapped_gpa = gpa;
	m->mapped_hva = hva;
	m->mapped_size = size;
	return 0;
}

const struct virtio_pci_platform vpm_platform_ops = {
	.vector_alloc = p_alloc, .vector_route = p_route, .ioeventfd = p_ioevent,
	.map_memory = p_map,
};

int vpm_init(struct vpci_machine *m, void *ram, uint64_t ram_len,
	     struct virtio_pci_platform *plat)
{
	memset(m, 0, sizeof(*m));
	*plat = vpm_platform_ops;
	plat->opaque = m;
	int rc = gm_add_region(&m->gm, 0, ram, ram_len, NULL);
	if (rc)
		return rc;
	rc = evl_create(&m->loop, NULL);
	if (rc)
		return rc;
	const struct pci_window win = { 0xc0000000, 0x10000000, 0xc000, 0x4000 };
	rc = pci_root_init(&m->root, &m->mmio, &m->pio, &win, NULL);
	if (!rc)
		rc = pci_root_register_ports(&m->root, &m->pio, NULL);
	if (rc) {
		evl_destroy(m->loop);
		m->loop = NULL;
	}
	return rc;
}

void vpm_fini(struct vpci_machine *m)
{
	pci_root_fini(&m->root);
	bus_fini(&m->mmio);
	bus_fini(&m->pio);
	evl_destroy(m->loop);
	m->loop = NULL;
}

unsigned vpm_pump(struct vpci_machine *m, unsigned max)
{
	unsigned n = 0;
	while (n < max && evl_run_once(m->loop, 0) > 0)
		n++;
	return n;
}

int vpm_ioevent_fd(const struct vpci_machine *m, uint64_t addr)
{
	for (unsigned i = 0; i < m->nr_ioevents; i++)
		if (m->ioevent_addr[i] == addr)
			return m->ioevent_fd[i];
	return -1;
}
