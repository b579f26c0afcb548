/* PLACEHOLDER until the gateway engine lands: `halo gw` refuses to run. */
#include "gw.h"

#include <stdio.h>

int gw_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "halo gw: the gateway is not built yet\n");
    return 2;
}
