/* fuzz_gw_handover.c — libFuzzer target for the hand-over message codec and socket matching. */
#include "gw/handover.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A decoded message must be one the encoder could have written. */
static void check_msg(const handover_msg *m)
{
    if (m->type < HO_REQ_FDS || m->type > HO_ERR) abort();
    if (m->type != HO_END && m->total != 0) abort();
    if (m->type == HO_FDS) {
        if (m->naddrs < 1 || m->naddrs > HANDOVER_FDS_PER_MSG) abort();
        for (int i = 0; i < m->naddrs; i++)
            if (m->addrs[i].ss_family != AF_INET && m->addrs[i].ss_family != AF_INET6) abort();
    } else if (m->naddrs != 0) {
        abort();
    }
    if (memchr(m->text, '\0', sizeof(m->text)) == NULL) abort(); /* always terminated */
    if (m->type != HO_ERR && m->text[0] != '\0') abort();
}

static bool same_msg(const handover_msg *a, const handover_msg *b)
{
    if (a->type != b->type || a->total != b->total || a->naddrs != b->naddrs ||
        strcmp(a->text, b->text) != 0)
        return false;
    for (int i = 0; i < a->naddrs; i++)
        if (!handover_addr_eq((const struct sockaddr *)&a->addrs[i],
                              (const struct sockaddr *)&b->addrs[i]))
            return false;
    return true;
}

/* Matching: every decoded address matches itself, and handover_take hands
 * out each slot once, in order, then -1. */
static void check_take(const handover_msg *m)
{
    handover_fd fds[HANDOVER_FDS_PER_MSG];
    for (int i = 0; i < m->naddrs; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&m->addrs[i];
        if (!handover_addr_eq(sa, sa)) abort();
        fds[i].fd = 1000 + i; /* never a real descriptor: nothing is closed here */
        fds[i].addr = m->addrs[i];
        fds[i].addrlen = sizeof(fds[i].addr);
    }
    for (int i = 0; i < m->naddrs; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&m->addrs[i];
        int fd = handover_take(fds, m->naddrs, sa);
        if (fd < 1000 || fd > i + 1000) abort(); /* the first equal one still left */
    }
    for (int i = 0; i < m->naddrs; i++)
        if (fds[i].fd != -1) abort();
    if (m->naddrs && handover_take(fds, m->naddrs, (const struct sockaddr *)&m->addrs[0]) != -1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    handover_msg m;
    if (handover_decode(data, size, &m) != 0) return 0;
    check_msg(&m);
    check_take(&m);

    /* Re-encoding gives a message that decodes to the same thing; the format
     * is canonical, so the bytes are the input's (an ERR text stops at its
     * first NUL, so there the re-encoding may be shorter). */
    uint8_t out[HANDOVER_MAX_MSG];
    size_t n = handover_encode(&m, out, sizeof(out));
    if (n == 0 || n > size) abort();
    handover_msg again;
    if (handover_decode(out, n, &again) != 0 || !same_msg(&m, &again)) abort();
    bool has_nul = m.type == HO_ERR && memchr(data + 12, '\0', size - 12) != NULL; /* 12: header */
    if (!has_nul && (n != size || memcmp(out, data, n) != 0)) abort();
    /* Too small a buffer is refused, never overrun. */
    if (handover_encode(&m, out, n - 1) != 0) abort();
    return 0;
}
