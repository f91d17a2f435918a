#!/bin/bash
# timeout: 400
# t_40 with vhost=on on both NICs (the kernel's vhost-net worker moves the
# packets; issue 15), vm.info naming that engine, and up to five pauses while the
# data moves: the same checks of MACs, pings and 32 MiB each way by sha256.
exec env KILN_NET_VHOST=1 bash "$(dirname "${BASH_SOURCE[0]}")/t_40_virtio_net.sh" "$@"
