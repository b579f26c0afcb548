/* version.h — the one place halo's version is written. */
#ifndef HALO_VERSION_H
#define HALO_VERSION_H

#define HALO_VERSION "0.1.0"

#endif
