/* log.h — leveled log lines with a timestamp and the process role, to stderr or a file. */
#ifndef HALO_LOG_H
#define HALO_LOG_H

enum { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR };

/* Level names as in Redis's loglevel directive: debug, verbose(=info), notice, warning. */
int log_level_parse(const char *name);
void log_set_level(int level);
int log_get_level(void);
/* Path "" or NULL means stderr. Returns 0 or -HALO_EIO. */
int log_set_file(const char *path);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
