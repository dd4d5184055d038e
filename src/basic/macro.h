/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) ((((x) + (a) - 1) / (a)) * (a))
#define ALIGN_DOWN(x, a) (((x) / (a)) * (a))
#define IS_ALIGNED(x, a) (((x) % (a)) == 0)

#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

/* Moves ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) *_pp_ = &(p);     \
                __typeof__(p) _p_ = *_pp_;      \
                *_pp_ = NULL;                   \
                _p_;                            \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int *_fdp_ = &(fd);             \
                int _fd_ = *_fdp_;              \
                *_fdp_ = -EBADF;                \
                _fd_;                           \
        })

/* Declares name##p(type **p), calling func(*p) when *p is non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Returns -errno of the last failed libc call, never 0. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline const char *yes_no(int b) {
        return b ? "yes" : "no";
}

/* IN_SET(x, a, b, ...): x equals one of the listed values. */
#define IN_SET(x, first, ...)                                           \
        ({                                                              \
                const __typeof__(first) _in_set_list_[] = { first, __VA_ARGS__ }; \
                bool _in_set_found_ = false;                            \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_in_set_list_); _i_++) \
                        if ((x) == _in_set_list_[_i_]) {                \
                                _in_set_found_ = true;                  \
                                break;                                  \
                        }                                               \
                _in_set_found_;                                         \
        })

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
