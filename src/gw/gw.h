/* gw.h — `halo gw`, the HTTP gateway: entry point. */
#ifndef HALO_GW_H
#define HALO_GW_H

/* `halo gw -c FILE [-t]`: argv after the subcommand; returns the exit code. */
int gw_main(int argc, char **argv);

#endif
