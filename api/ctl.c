/* SPDX-License-Identifier: MIT */
/*
 * kiln ctl: connect, send one request, print the answer. Blocking I/O with
 * poll() against one deadline, so a server that never answers cannot hang
 * a script for longer than --timeout.
 */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jsonrpc.h"
#include "schema.h"

#define CTL_MAX_LINE (64 * 1024 * 1024) /* a response line, generously */

static const char usage_head[] =
	"Usage: kiln ctl [--socket PATH] [--timeout SECONDS] METHOD [JSON-PARAMS]\n"
	"       kiln ctl [--socket PATH] --subscribe\n"
	"\n"
	"Send one JSON-RPC request to a running kiln and print the result.\n";

static const char usage_tail[] =
	"\n"
	"  --socket PATH      the control socket of the kiln to talk to\n"
	"                     (default: $KILN_SOCKET)\n"
	"  --timeout SECONDS  give up after this long (default 30; 0 = never)\n"
	"  --subscribe        print event notifications, one per line, until\n"
	"                     kiln closes the connection\n"
	"\n"
	"Example: kiln ctl --socket /run/kiln.sock disk.add \\\n"
	"           '{\"path\": \"/srv/data.img\", \"readonly\": true}'\n"
	"\n"
	"Exit status: 0 on success, 1 on an error answer or when kiln cannot be\n"
	"reached, 2 on a usage error.\n";

static void append(char *buf, size_t size, const char *s)
{
	size_t used = strlen(buf);
	snprintf(buf + used, size - used, "%s", s);
}

/* The method list comes from the dispatcher's table, so a new method shows
 * up here without anyone remembering to add it. Lines up to 72 columns. */
static void append_methods(char *buf, size_t size)
{
	const char *head = "Methods (docs/api.md; rpc.discover describes them):";
	size_t col = strlen(head);
	append(buf, size, head);
	for (size_t i = 0; i < jsonrpc_kiln_count(); i++) {
		const char *name = jsonrpc_kiln_table()[i].name;
		size_t len = strlen(name) + 1; /* with its ',' or '.' */
		bool wrap = col + 1 + len > 72;
		append(buf, size, wrap ? "\n" : " ");
		append(buf, size, name);
		append(buf, size, i + 1 < jsonrpc_kiln_count() ? "," : ".\n");
		col = (wrap ? 0 : col + 1) + len;
	}
}

const char *ctl_usage(void)
{
	static char text[sizeof(usage_head) + sizeof(usage_tail) + 1024];
	if (!text[0]) {
		append(text, sizeof(text), usage_head);
		append_methods(text, sizeof(text));
		append(text, sizeof(text), usage_tail);
	}
	return text;
}

struct ctl {
	const char *path;
	const char *method;
	const char *params;
	long timeout_s;
	bool subscribe;
	int fd;
	long long deadline_ms; /* 0: none */
	char *buf;             /* received bytes not yet returned as lines */
	size_t len, cap;
	size_t consumed;       /* buf[0..consumed) was returned already */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for (events) on the socket until the deadline. 0 or -ETIMEDOUT. */
static int ctl_wait(struct ctl *c, short events)
{
	for (;;) {
		int ms = -1;
		if (c->deadline_ms) {
			long long left = c->deadline_ms - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		struct pollfd p = { .fd = c->fd, .events = events };
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int ctl_send(struct ctl *c, const char *data, size_t len)
{
	while (len) {
		int rc = ctl_wait(c, POLLOUT);
		if (rc)
			return rc;
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Return the next line in (*line) (NUL-terminated, valid until the next
 * call). 1 for a line, 0 at EOF, or -errno. */
static int ctl_read_line(struct ctl *c, char **line)
{
	if (c->consumed) {
		memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
		c->len -= c->consumed;
		c->consumed = 0;
	}
	for (;;) {
		char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = c->buf;
			c->consumed = (size_t)(nl - c->buf) + 1;
			return 1;
		}
		if (c->len + 1 >= c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *n = cap <= CTL_MAX_LINE ? realloc(c->buf, cap) : NULL;
			if (!n)
				return -ENOMEM;
			c->buf = n;
			c->cap = cap;
		}
		int rc = ctl_wait(c, POLLIN);
		if (rc)
			return rc;
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1,
				 MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		c->len += (size_t)n;
	}
}

static int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "kiln ctl: %s: socket path too long\n", c->path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		fprintf(stderr, "kiln ctl: cannot connect to %s: %s\n", c->path,
			strerror(errno));
		return rc;
	}
	return 0;
}

static const char *code_name(int code)
{
	const struct jsonrpc_code_info *ci = jsonrpc_code_info(code);
	return ci ? ci->name : "error";
}

/* Print an error response; returns the exit status 1. */
static int print_error(struct json_object *error)
{
	struct json_object *code = NULL, *msg = NULL;
	json_object_object_get_ex(error, "code", &code);
	json_object_object_get_ex(error, "message", &msg);
	int c = json_object_get_int(code);
	fprintf(stderr, "kiln ctl: error %d (%s): %s\n", c, code_name(c),
		msg ? json_object_get_string(msg) : "(no message)");
	return 1;
}

/* Pretty-print (v) at (depth), two spaces per level; {} and [] for empty
 * containers (json-c's pretty printer splits them over two lines). */
static void print_pretty(FILE *f, struct json_object *v, int depth)
{
	bool obj = json_object_is_type(v, json_type_object);
	if (!obj && !json_object_is_type(v, json_type_array)) {
		fputs(json_object_to_json_string_ext(
			      v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		      f);
		return;
	}
	size_t n = obj ? (size_t)json_object_object_length(v)
		       : json_object_array_length(v);
	if (!n) {
		fputs(obj ? "{}" : "[]", f);
		return;
	}
	fputs(obj ? "{\n" : "[\n", f);
	size_t i = 0;
	if (obj) {
		json_object_object_foreach(v, key, val) {
			struct json_object *k = json_object_new_string(key);
			fprintf(f, "%*s%s: ", 2 * (depth + 1), "",
				json_object_to_json_string_ext(k, JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(k);
			print_pretty(f, val, depth + 1);
			fputs(++i < n ? ",\n" : "\n", f);
		}
	} else {
		for (i = 0; i < n; i++) {
			fprintf(f, "%*s", 2 * (depth + 1), "");
			print_pretty(f, json_object_array_get_idx(v, i), depth + 1);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
	}
	fprintf(f, "%*s%c", 2 * depth, "", obj ? '}' : ']');
}

/* Read lines until the response to id 1; print it. Returns the exit status. */
static int await_response(struct ctl *c)
{
	for (;;) {
		char *line;
		int rc = ctl_read_line(c, &line);
		if (rc == 0) {
			fprintf(stderr, "kiln ctl: %s closed the connection without answering\n",
				c->path);
			return 1;
		}
		if (rc < 0) {
			if (rc == -ETIMEDOUT)
				fprintf(stderr, "kiln ctl: no answer from %s within %ld s\n",
					c->path, c->timeout_s);
			else
				fprintf(stderr, "kiln ctl: %s: %s\n", c->path, strerror(-rc));
			return 1;
		}
		struct json_object *resp = NULL, *id = NULL, *res = NULL, *error = NULL;
		struct err e = { 0 };
		if (schema_parse_answer(line, strlen(line), &resp, &e) ||
		    !json_object_is_type(resp, json_type_object)) {
			fprintf(stderr, "kiln ctl: %s: malformed answer: %s\n", c->path,
				e.msg[0] ? e.msg : "not an object");
			json_object_put(resp);
			return 1;
		}
		bool is_response = json_object_object_get_ex(resp, "id", &id);
		json_object_object_get_ex(resp, "result", &res);
		rc = -1;
		if (json_object_object_get_ex(resp, "error", &error))
			rc = print_error(error); /* ours, or id null: refused */
		else if (is_response && json_object_get_int(id) == 1) {
			if (!c->subscribe) {
				print_pretty(stdout, res, 0);
				putchar('\n');
			}
			rc = 0;
		}
		json_object_put(resp);
		if (rc >= 0)
			return rc;
	}
}

static int subscribe_loop(struct ctl *c)
{
	c->deadline_ms = 0; /* events come whenever they come */
	for (;;) {
		char *line;
		int rc = ctl_read_line(c, &line);
		if (rc == 0)
			return 0;
		if (rc < 0) {
			fprintf(stderr, "kiln ctl: %s: %s\n", c->path, strerror(-rc));
			return 1;
		}
		printf("%s\n", line);
		fflush(stdout);
	}
}

static int build_request(struct ctl *c, char **out)
{
	struct json_object *params = NULL;
	struct err e = { 0 };
	if (c->params && (schema_parse_text(c->params, strlen(c->params), &params, &e) ||
			  !(json_object_is_type(params, json_type_object) ||
			    json_object_is_type(params, json_type_array)))) {
		fprintf(stderr, "kiln ctl: JSON-PARAMS must be a JSON object or array%s%s\n",
			e.msg[0] ? ": " : "", e.msg);
		json_object_put(params);
		return 2;
	}
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(
		c->subscribe ? "events.subscribe" : c->method));
	if (params)
		json_object_object_add(req, "params", params);
	size_t len;
	const char *s = json_object_to_json_string_length(
		req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	*out = malloc(len + 2);
	if (*out)
		snprintf(*out, len + 2, "%s\n", s);
	json_object_put(req);
	return *out ? 0 : 1;
}

/* Take "--name VALUE" or "--name=VALUE" at argv[*i]; NULL if not (name). */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
			     bool *missing)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_args(int argc, char **argv, struct ctl *c)
{
	const char *positional[3] = { NULL };
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		bool missing = false;
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(ctl_usage(), stdout);
			return 0;
		} else if (!strcmp(argv[i], "--subscribe")) {
			c->subscribe = true;
		} else if ((v = opt_value(argc, argv, &i, "--socket", &missing))) {
			c->path = v;
		} else if ((v = opt_value(argc, argv, &i, "--timeout", &missing))) {
			char *end;
			errno = 0;
			c->timeout_s = strtol(v, &end, 10);
			if (errno || *end || !*v || c->timeout_s < 0 ||
			    c->timeout_s > 1000000) {
				fprintf(stderr, "kiln ctl: --timeout: expected seconds 0..1000000, got '%s'\n", v);
				return 2;
			}
		} else if (missing || (argv[i][0] == '-' && argv[i][1])) {
			fprintf(stderr, "kiln ctl: %s '%s' (kiln ctl --help)\n",
				missing ? "missing value for" : "unknown option",
				argv[i]);
			return 2;
		} else if (npos < 3) {
			positional[npos++] = argv[i];
		}
	}
	c->method = positional[0];
	c->params = positional[1];
	if (!c->path) /* the environment's socket, as a shell session sets it */
		c->path = getenv("KILN_SOCKET");
	const char *why = !c->path || !c->path[0] ? "--socket PATH (or $KILN_SOCKET) is required"
			  : npos > 2 ? "too many arguments"
			  : c->subscribe && npos ? "--subscribe takes no METHOD"
			  : !c->subscribe && !npos ? "a METHOD is required"
			  : NULL;
	if (why) {
		fprintf(stderr, "kiln ctl: %s (kiln ctl --help)\n", why);
		return 2;
	}
	return -1; /* go on */
}

int ctl_main(int argc, char **argv)
{
	struct ctl c = { .timeout_s = CTL_DEFAULT_TIMEOUT_S, .fd = -1 };
	int status = parse_args(argc, argv, &c);
	if (status >= 0)
		return status;
	char *req = NULL;
	status = build_request(&c, &req);
	if (status)
		return status;
	if (c.timeout_s)
		c.deadline_ms = now_ms() + c.timeout_s * 1000LL;
	if (ctl_connect(&c)) {
		status = 1;
	} else {
		int rc = ctl_send(&c, req, strlen(req));
		if (rc) {
			fprintf(stderr, "kiln ctl: %s: %s\n", c.path,
				rc == -ETIMEDOUT ? "timed out sending" : strerror(-rc));
			status = 1;
		} else {
			status = await_response(&c);
			if (!status && c.subscribe)
				status = subscribe_loop(&c);
		}
	}
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	free(req);
	return status;
}
