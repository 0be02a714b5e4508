/*
 * gen-docs: prints the plugin option reference (docs/configuration.md's
 * table) from the option table in plugin/config.c, so the docs cannot drift
 * from the code. A test compares the committed docs with this output.
 * Thread: single-threaded program.
 */
#include <stdio.h>

#include "config.h"

int main(void)
{
	vg_config_write_markdown(stdout);
	return 0;
}
