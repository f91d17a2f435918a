/* SPDX-License-Identifier: MIT */
/*
 * rpc.discover's answer: an OpenRPC 1.2.6 document (https://spec.open-rpc.org)
 * generated from kiln's own tables - the method table (api/jsonrpc.c), the
 * error code table (jsonrpc_codes) and the config schema's field table
 * (api/schema.c) - so it describes what the code does, not what somebody
 * remembered to write down.
 *
 *   {"openrpc": "1.2.6", "info": {"title": "kiln", "version": KILN_VERSION},
 *    "methods": [{"name", "summary", "paramStructure", "params", "result",
 *                 "errors"}, ...],
 *    "components": {"schemas": {"config", "disk", "net", "state"},
 *                   "errors": {"parse_error": {"code", "message"}, ...}}}
 *
 * A method whose params are an object lists that object's fields as
 * by-name params (that is what the wire carries: {"path": ...}, not
 * {"disk": {...}}) and names the whole object's schema in
 * "x-kiln-params-schema". Thread: any (pure).
 */
#ifndef KILN_API_OPENRPC_H
#define KILN_API_OPENRPC_H

#include <stddef.h>

#include <json-c/json.h>

#include "jsonrpc.h"

#define OPENRPC_VERSION "1.2.6"

/*
 * openrpc_document - the document for the (n) methods of (table). A new
 * reference, or NULL when out of memory or when a row is inconsistent (a
 * result schema that is not JSON, a params schema that does not exist;
 * the unit tests call it, so such a row does not get far).
 */
struct json_object *openrpc_document(const struct jsonrpc_method *table,
				     size_t n);

#endif
