/* err.c — messages for the error vocabulary in err.h. */
#include "err.h"

const char *halo_strerror(int err)
{
    if (err < 0) err = -err;
    switch (err) {
    case HALO_OK: return "success";
#define HALO_ERR_CASE(name, msg)                                                           \
    case HALO_E##name: return msg;
        HALO_ERR_MAP(HALO_ERR_CASE)
#undef HALO_ERR_CASE
    default: return "unknown error";
    }
}
