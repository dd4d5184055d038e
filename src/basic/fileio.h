/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole regular file (at most max_size bytes, else -EFBIG) and
 * NUL-terminates the buffer. ret_size excludes the terminator. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);
int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size);

/* Writes data to path atomically: temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. Nothing is left behind
 * on failure. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* write() until done, retrying on EINTR. */
int loop_write(int fd, const void *buf, size_t n);
/* read() until n bytes or EOF; returns bytes read. */
ssize_t loop_read(int fd, void *buf, size_t n);
