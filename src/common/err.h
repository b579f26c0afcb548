/* err.h — halo's one error vocabulary: codes with a message beside each. */
#ifndef HALO_ERR_H
#define HALO_ERR_H

/* Functions return 0 on success or a negative HALO_E* code. The message is
 * what an operator reads in a log line, so it says what went wrong. */
#define HALO_ERR_MAP(X)                                                                  \
    X(NOMEM, "out of memory")                                                            \
    X(INVAL, "invalid argument")                                                         \
    X(RANGE, "value out of range")                                                       \
    X(PROTO, "protocol error")                                                           \
    X(TOOBIG, "size limit exceeded")                                                     \
    X(AGAIN, "incomplete input, need more bytes")                                        \
    X(IO, "input/output error")                                                          \
    X(CORRUPT, "corrupt data")                                                           \
    X(LOCKED, "resource is locked by another process")                                   \
    X(NOTFOUND, "not found")                                                             \
    X(EXISTS, "already exists")                                                          \
    X(CONFIG, "configuration error")                                                     \
    X(BADVERSION, "version mismatch: someone changed it first (compare-and-set lost)")   \
    X(CONNLOSS, "coordinator unreachable: the operation's outcome is unknown")           \
    X(EXPIRED, "coordinator session expired")                                            \
    X(CLOSED, "coordinator handle closed")

enum {
    HALO_OK = 0,
#define HALO_ERR_ENUM(name, msg) HALO_E##name,
    HALO_ERR_FIRST_ = 0,
    HALO_ERR_MAP(HALO_ERR_ENUM) HALO_ERR_LAST_
#undef HALO_ERR_ENUM
};

/* Negative codes: HALO_ENOMEM is returned as -HALO_ENOMEM. */
const char *halo_strerror(int err);

#endif
