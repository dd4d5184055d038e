/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *prefix;
static int use_kmsg_prefix;
static LogJournalSend journal_send;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *p) {
        prefix = p;
}

void log_set_use_kmsg_prefix(int enable) {
        use_kmsg_prefix = enable;
}

void log_set_journal_send(LogJournalSend send) {
        journal_send = send;
}

bool log_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static int log_dispatch(int level, int error, const char *vm, const char *file, int line, const char *func,
                        const char *format, va_list ap) {
        char buf[2048];
        size_t n = 0;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        if (vm)
                n = (size_t) snprintf(buf, sizeof(buf), "VM %s: ", vm);
        /* Make %m refer to the error we were given, not whatever errno holds now. */
        errno = error;
        if (n < sizeof(buf))
                vsnprintf(buf + n, sizeof(buf) - n, format, ap);

        /* The journal, if it takes the line; stderr otherwise. */
        if (journal_send && journal_send(level, vm, file, line, func, buf) >= 0)
                return -error;
        if (use_kmsg_prefix)
                fprintf(stderr, "<%d>", level);
        if (prefix)
                fprintf(stderr, "%s: ", prefix);
        fprintf(stderr, "%s\n", buf);
        return -error;
}

int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *format, va_list ap) {
        return log_dispatch(level, error, NULL, file, line, func, format, ap);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, NULL, file, line, func, format, ap);
        va_end(ap);
        return r;
}

int log_vm_internal(int level, int error, const char *vm, const char *file, int line, const char *func,
                    const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, vm, file, line, func, format, ap);
        va_end(ap);
        return r;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",       [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}
