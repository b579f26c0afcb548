/* log.c — leveled log lines, one write(2) each so lines from threads never interleave. */
#include "log.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static int g_level = LOG_NOTICE;
static int g_fd = 2;

int log_level_parse(const char *name)
{
    static const struct { const char *name; int level; } names[] = {
        {"debug", LOG_DEBUG}, {"verbose", LOG_INFO}, {"info", LOG_INFO},
        {"notice", LOG_NOTICE}, {"warning", LOG_WARNING}, {"error", LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0) return names[i].level;
    return -HALO_EINVAL;
}

void log_set_level(int level) { g_level = level; }
int log_get_level(void) { return g_level; }

int log_set_file(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        if (g_fd != 2) close(g_fd);
        g_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -HALO_EIO;
    if (g_fd != 2) close(g_fd);
    g_fd = fd;
    return 0;
}

void log_msg(int level, const char *fmt, ...)
{
    static const char marks[] = {'.', '-', '*', '#', '!'};
    if (level < g_level) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%d:%02d %02d:%02d:%02d.%03d %c ", (int)getpid(),
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                     marks[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(g_fd, line, len);
    (void)w;
}
