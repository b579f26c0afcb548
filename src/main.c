/* main.c — the `halo` executable: dispatches to its subcommands. */
#include "common/version.h"
#include "gw/gw.h"
#include "kv/server.h"

#include <stdio.h>
#include <string.h>


static void usage(FILE *out)
{
    fprintf(out, "halo %s — high-availability data service and gateway\n\n"
                 "usage: halo <command> [options]\n\n"
                 "commands:\n"
                 "  kv [config] [--directive value ...]   run a Redis-protocol data node\n"
                 "  gw -c FILE [-t]                       run (or, with -t, check) an HTTP gateway\n"
                 "  version                               print the version\n"
                 "\nSee README.md and docs/ for details.\n",
            HALO_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "kv") == 0) return kv_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "gw") == 0) return gw_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("halo %s\n", HALO_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "halo: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
