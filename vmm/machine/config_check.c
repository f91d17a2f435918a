/* SPDX-License-Identifier: MIT */
/* What the front ends' parsers may ask of the builder without linking the
 * whole machine (the API fuzzer links only this). */
#include "builder.h"

#include "../base/chr.h"

int builder_check_console(const char *spec, struct err *e)
{
	struct chr_config cc;
	return chr_parse(spec, &cc, e);
}
