/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream socket speaking JSON-RPC 2.0, one JSON
 * object per line in each direction, served entirely on the event loop.
 *
 * Limits (see docs/api.md): a request line is at most API_MAX_LINE bytes
 * (longer: a -32600 error, then the client is disconnected); responses and
 * notifications queue per client up to API_MAX_OUTPUT bytes (a client that
 * does not read them is disconnected; the loop never blocks on a client);
 * at most API_MAX_CLIENTS clients: when the table is full a newcomer
 * displaces the client idle the longest with no request in flight (only
 * when every client is mid-request does it get a -32002 error line and is
 * closed). A client that is not subscribed to events and neither sent nor
 * received a byte for API_IDLE_TIMEOUT_MS is closed.
 *
 * Thread: everything here runs on the event-loop thread. Other threads
 * that want to send a notification post a function with evl_post() that
 * calls api_server_notify() on the loop.
 */
#ifndef KILN_API_SERVER_H
#define KILN_API_SERVER_H

#include <json-c/json.h>

#include "../vmm/base/err.h"
#include "jsonrpc.h"

#define API_MAX_LINE (1024 * 1024)      /* request line, without '\n' */
#define API_MAX_OUTPUT (4 * 1024 * 1024) /* queued output per client */
#define API_MAX_CLIENTS 64
#define API_IDLE_TIMEOUT_MS (60 * 1000) /* silent non-subscribers closed */

struct evloop;
struct api_server;

/*
 * api_server_create - listen on the Unix socket (path) (mode 0600) and
 * serve it on (loop), answering requests through (ops) with (vm_ctx).
 * A stale socket file at (path) (nobody accepts connections) is replaced;
 * a live one ("another kiln is listening on PATH") or any other kind of
 * file is an error. (ops) and (vm_ctx) must outlive the server. Returns 0
 * with (*out) set, or -errno with (e) naming the path. Loop thread (or
 * before the loop runs).
 */
int api_server_create(const char *path, struct evloop *loop,
		      const struct api_vm_ops *ops, void *vm_ctx,
		      struct api_server **out, struct err *e);

/*
 * api_server_adopt - serve the listening socket (fd), inherited (--api-fd,
 * systemd's socket activation), as api_server_create serves its own: it
 * must be a listening AF_UNIX stream socket (else -ENOTSOCK naming the fd),
 * is made non-blocking and close-on-exec, and is closed by
 * api_server_destroy, which leaves its file alone (the owner's). A
 * connected AF_UNIX stream socket (one end of a socketpair: kiln exec's
 * relay) is served as the server's one client instead, with no listener.
 */
int api_server_adopt(int fd, struct evloop *loop, const struct api_vm_ops *ops,
		     void *vm_ctx, struct api_server **out, struct err *e);

/*
 * api_server_notify - send the notification {"jsonrpc":"2.0","method":
 * (method),"params":(params)} to every client that called
 * events.subscribe. (params) is borrowed (NULL: no params). Clients whose
 * output queue would overflow are disconnected. Loop thread only; safe
 * from inside an api_vm_ops callback.
 */
void api_server_notify(struct api_server *s, const char *method,
		       struct json_object *params);

/* api_server_set_idle_timeout - close non-subscribed clients silent for
 * (ms) (0 counts as 1) instead of API_IDLE_TIMEOUT_MS; the sweep runs
 * every ms / 2, so a client goes between ms and 1.5 ms. For tests. 0 or
 * -errno. Loop thread. */
int api_server_set_idle_timeout(struct api_server *s, unsigned ms);

/* api_server_clients - the number of connected clients (for tests). */
unsigned api_server_clients(const struct api_server *s);

/*
 * api_server_destroy - disconnect every client, stop listening and unlink
 * the socket file if it is still ours. NULL is fine. Loop thread; not from
 * inside an api_vm_ops callback (post it with evl_post instead).
 */
void api_server_destroy(struct api_server *s);

#endif
