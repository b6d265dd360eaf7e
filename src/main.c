// SPDX-License-Identifier: GPL-2.0-only
/* vigil: the CLI. Command tables and option parsing land with lib/cmd.c and lib/opt.c. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("vigil %s\n", VIGIL_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: vigil version\n");
	return 2;
}
