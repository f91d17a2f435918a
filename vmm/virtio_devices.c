/* SPDX-License-Identifier: MIT */
/* Build the virtio devices named in the config (disks, console, rng). */
#include <errno.h>

#include "devices.h"
#include "vm.h"

int vm_virtio_devices_create(struct vm *vm, vm_add_virtio_fn add, struct err *e)
{
	const struct kiln_config *cfg = vm->cfg;
	(void)add;
	/* Device models land one by one; refuse what is not wired yet rather
	 * than boot a guest without the device it was promised. */
	if (cfg->nr_disks)
		return err_set(e, -ENOTSUP, "--disk: virtio-blk is not available in this build yet");
	if (cfg->console)
		return err_set(e, -ENOTSUP, "--console: virtio-console is not available in this build yet");
	if (cfg->rng)
		return err_set(e, -ENOTSUP, "--rng: virtio-rng is not available in this build yet");
	return 0;
}
