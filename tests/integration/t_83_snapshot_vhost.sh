#!/bin/bash
# timeout: 300
# t_82 with vhost=on: a TCP connection to the host survives a snapshot and a
# restore in a new process while the kernel's vhost-net worker serves the
# NIC in both (the snapshot holds the ring position the worker reached).
exec env KILN_NET_VHOST=1 bash "$(dirname "${BASH_SOURCE[0]}")/t_82_snapshot_net.sh" "$@"
