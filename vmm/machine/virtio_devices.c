/* SPDX-License-Identifier: MIT */
/* Build the virtio devices named in the config (disks, console, rng). */
#include <errno.h>
#include <string.h>

#include "../../virtio/backend/chr.h"
#include "../../virtio/blk.h"
#include "../../virtio/console.h"
#include "../../virtio/net.h"
#include "../../virtio/rng.h"
#include "devices.h"
#include "../base/log.h"
#include "vm.h"

/* Counters of each device kind, by name, for vm.metrics. */
static void blk_stats_emit(void *dev, vm_stat_emit_fn emit,
			   void *ctx)
{
	static const char *const kinds[BLK_KIND_NR] = {
		[BLK_KIND_IN] = "requests_read", [BLK_KIND_OUT] = "requests_write",
		[BLK_KIND_FLUSH] = "requests_flush", [BLK_KIND_GET_ID] = "requests_get_id",
		[BLK_KIND_DISCARD] = "requests_discard",
		[BLK_KIND_WRITE_ZEROES] = "requests_write_zeroes",
		[BLK_KIND_UNSUPP] = "requests_unsupported",
	};
	const struct blk_stats *st = blk_get_stats(dev);
	for (unsigned k = 0; k < BLK_KIND_NR; k++)
		if (kinds[k])
			emit(ctx, kinds[k], st->requests[k]);
	emit(ctx, "bytes_read", st->bytes_read);
	emit(ctx, "bytes_written", st->bytes_written);
	emit(ctx, "errors", st->errors);
	emit(ctx, "malformed", st->malformed);
	emit(ctx, "inflight_max", st->inflight_max);
}

static void console_stats_emit(void *dev, vm_stat_emit_fn emit,
			       void *ctx)
{
	struct virtcon_stats st;
	virtcon_get_stats(dev, &st);
	emit(ctx, "bytes_in", st.bytes_in);
	emit(ctx, "bytes_out", st.bytes_out);
	emit(ctx, "dropped", st.dropped);
}

static void rng_stats_emit(void *dev, vm_stat_emit_fn emit,
			   void *ctx)
{
	struct rng_stats st;
	rng_get_stats(dev, &st);
	emit(ctx, "bytes", st.bytes);
	emit(ctx, "requests", st.requests);
}

static void net_stats_emit(void *dev, vm_stat_emit_fn emit, void *ctx)
{
	struct net_stats st;
	net_get_stats(dev, &st);
	emit(ctx, "rx_packets", st.rx_packets);
	emit(ctx, "rx_bytes", st.rx_bytes);
	emit(ctx, "rx_dropped", st.rx_dropped);
	emit(ctx, "tx_packets", st.tx_packets);
	emit(ctx, "tx_bytes", st.tx_bytes);
	emit(ctx, "tx_dropped", st.tx_dropped);
	emit(ctx, "tx_malformed", st.tx_malformed);
}

static int create_net(struct vm *vm, unsigned index, vm_add_virtio_fn add,
		      struct err *e)
{
	const struct cfg_net *n = &vm->cfg->nets[index];
	struct net_config nc = { .tap = n->tap };
	if (n->mac_set)
		memcpy(nc.mac, n->mac, 6);
	else
		net_random_mac(nc.mac);
	struct virtio_net *net;
	int rc = net_create(&nc, &vm->mem, vm->loop, &net, e);
	if (rc) {
		err_field(e, "nets[%u]", index);
		return rc;
	}
	log_info("%s: tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", n->id, n->tap,
		 nc.mac[0], nc.mac[1], nc.mac[2], nc.mac[3], nc.mac[4], nc.mac[5]);
	const struct vm_virtio_desc desc = { n->id, NULL, net, net_stats_emit };
	return add(vm, net_vdev(net), &desc, e);
}

bool vm_console_uses_stdin(const struct kiln_config *cfg)
{
	struct chr_config cc;
	return cfg->console && chr_parse(cfg->console, &cc, NULL) == 0 &&
	       chr_config_uses_stdin(&cc);
}

static void console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_USER_QUIT, 0);
}

static int create_console(struct vm *vm, vm_add_virtio_fn add, struct err *e)
{
	struct chr_config cc;
	int rc = chr_parse(vm->cfg->console, &cc, e);
	struct virtio_console *con;
	if (!rc)
		rc = virtcon_create(&cc, &vm->mem, vm->loop, console_quit, vm, &con, e);
	if (rc) {
		err_field(e, "console");
		return rc;
	}
	const struct vm_virtio_desc desc = { "console", NULL, con, console_stats_emit };
	return add(vm, virtcon_vdev(con), &desc, e);
}

static int create_rng(struct vm *vm, vm_add_virtio_fn add, struct err *e)
{
	struct virtio_rng *rng;
	int rc = rng_create(&vm->mem, vm->loop, &rng, e);
	if (rc)
		return rc;
	const struct vm_virtio_desc desc = { "rng", NULL, rng, rng_stats_emit };
	return add(vm, rng_vdev(rng), &desc, e);
}

static int create_disk(struct vm *vm, unsigned index, vm_add_virtio_fn add,
		       struct err *e)
{
	const struct cfg_disk *d = &vm->cfg->disks[index];
	const struct blk_config bc = {
		.path = d->path,
		.readonly = d->readonly,
		.serial = d->serial,
	};
	struct virtio_blk *blk;
	int rc = blk_create(&bc, &vm->mem, vm->loop, &blk, e);
	if (rc) {
		err_field(e, "disks[%u]", index);
		return rc;
	}
	const struct vm_virtio_desc desc = { d->id, blk_vdev_drain, blk, blk_stats_emit };
	return add(vm, blk_vdev(blk), &desc, e);
}

int vm_virtio_devices_create(struct vm *vm, vm_add_virtio_fn add, struct err *e)
{
	const struct kiln_config *cfg = vm->cfg;
	int rc = 0;
	/* Disks first, in order: the guest names them vda, vdb, ... by PCI
	 * slot order. */
	for (unsigned i = 0; !rc && i < cfg->nr_disks; i++)
		rc = create_disk(vm, i, add, e);
	for (unsigned i = 0; !rc && i < cfg->nr_nets; i++)
		rc = create_net(vm, i, add, e);
	if (!rc && cfg->console)
		rc = create_console(vm, add, e);
	if (!rc && cfg->rng)
		rc = create_rng(vm, add, e);
	return rc;
}
