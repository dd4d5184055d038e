/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a spec's kernel and initrd files are (image-path.h): relative paths,
 * GUNYAH_IMAGE_PATH, and the checks that the files can be read (and that
 * the disks exist: vm_spec_check_disks()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-path.h"
#include "macro.h"
#include "spec-error.h"

char *path_concat(const char *dir, const char *file) {
        size_t n = strlen(dir);
        char *r;

        if (asprintf(&r, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", file) < 0)
                return NULL;
        return r;
}

/* Looks for a relative image path in GUNYAH_IMAGE_PATH (colon-separated
 * directories; relative ones are taken from the current directory), as
 * given and then by its file name. Meant for tests and demos whose images
 * are built elsewhere than the spec lives. */
static int image_path_search(const char *file, char **ret) {
        const char *env = secure_getenv("GUNYAH_IMAGE_PATH");
        _cleanup_free_ char *cwd = NULL, *copy = NULL;
        char *state = NULL;

        if (!env || !*env)
                return 0;
        cwd = get_current_dir_name();
        if (!cwd)
                return negative_errno();
        copy = strdup(env);
        if (!copy)
                return -ENOMEM;
        for (char *d = strtok_r(copy, ":", &state); d; d = strtok_r(NULL, ":", &state)) {
                _cleanup_free_ char *dir = d[0] == '/' ? strdup(d) : path_concat(cwd, d);
                _cleanup_free_ char *candidate = NULL;

                if (!dir)
                        return -ENOMEM;
                candidate = path_concat(dir, file);
                if (!candidate)
                        return -ENOMEM;
                if (access(candidate, F_OK) == 0) {
                        *ret = TAKE_PTR(candidate);
                        return 1;
                }
                /* "../build/guests/hello.elf" is also found as "hello.elf" there. */
                const char *base = strrchr(file, '/');
                if (!base)
                        continue;
                free(candidate);
                candidate = path_concat(dir, base + 1);
                if (!candidate)
                        return -ENOMEM;
                if (access(candidate, F_OK) == 0) {
                        *ret = TAKE_PTR(candidate);
                        return 1;
                }
        }
        return 0;
}

/* Makes *path absolute: relative to base_dir, or found in GUNYAH_IMAGE_PATH
 * when it does not exist there. Returns 1 if it was searched for and not
 * found, so that the error can say so. */
static int image_path_resolve(const char *base_dir, char **path) {
        _cleanup_free_ char *next_to_spec = NULL;
        char *found = NULL;
        bool searched = false;
        int r;

        if ((*path)[0] == '/')
                return 0;
        next_to_spec = path_concat(base_dir, *path);
        if (!next_to_spec)
                return -ENOMEM;
        if (access(next_to_spec, F_OK) < 0) {
                r = image_path_search(*path, &found);
                if (r < 0)
                        return r;
                searched = r == 0 && secure_getenv("GUNYAH_IMAGE_PATH");
        }
        free(*path);
        *path = found ?: TAKE_PTR(next_to_spec);
        return searched;
}

static int image_file_check(VmSpecError *error, const char *key, const char *path, bool searched) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (access(path, R_OK) < 0 ||
            (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
            fstat(fd, &st) < 0) {
                int r = negative_errno();
                return spec_error(error, -EINVAL, key, "cannot read %s: %s%s", QUOTE_PATH(path), strerror(-r),
                                  searched ? " (not found in GUNYAH_IMAGE_PATH either)" : "");
        }
        if (!S_ISREG(st.st_mode))
                return spec_error(error, -EINVAL, key, "%s must be a regular file, but it is %s", QUOTE_PATH(path),
                                  S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
        return 0;
}

int vm_spec_resolve_images(VmSpec *s, const char *base_dir, unsigned flags, const char *kernel_key,
                           VmSpecError *error) {
        int kernel_searched, initrd_searched = 0, r;

        /* A daemon's working directory means nothing to its clients. */
        if (flags & VM_SPEC_ABSOLUTE_PATHS) {
                if (s->kernel.path[0] != '/')
                        return spec_error(error, -EINVAL, kernel_key,
                                          "must be an absolute path here, got %s (gunyahctl create resolves "
                                          "relative paths against the spec file)", QUOTE_PATH(s->kernel.path));
                if (s->initrd && s->initrd[0] != '/')
                        return spec_error(error, -EINVAL, "initrd", "must be an absolute path here, got %s",
                                          QUOTE_PATH(s->initrd));
        }

        kernel_searched = image_path_resolve(base_dir, &s->kernel.path);
        if (kernel_searched < 0)
                return kernel_searched;
        if (s->initrd) {
                initrd_searched = image_path_resolve(base_dir, &s->initrd);
                if (initrd_searched < 0)
                        return initrd_searched;
        }
        if (flags & VM_SPEC_SKIP_FILE_CHECKS)
                return 0;
        r = image_file_check(error, kernel_key, s->kernel.path, kernel_searched);
        if (r < 0)
                return r;
        if (s->initrd)
                return image_file_check(error, "initrd", s->initrd, initrd_searched);
        return 0;
}

int vm_spec_check_disks(const VmSpec *spec, VmSpecError *error) {
        for (uint32_t i = 0; i < spec->n_disks; i++) {
                const char *path = spec->disks[i].path;
                char key[32];
                struct stat st;

                snprintf(key, sizeof(key), "disks[%" PRIu32 "].path", i);
                if (stat(path, &st) < 0)
                        return spec_error(error, -EINVAL, key, "disk %" PRIu32 ", %s: %s", i, QUOTE_PATH(path),
                                          errno == ENOENT ? "no such file" : strerror(errno));
                if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                        return spec_error(error, -EINVAL, key,
                                          "disk %" PRIu32 ", %s: must be a regular file or a block device, but it is %s",
                                          i, QUOTE_PATH(path), S_ISDIR(st.st_mode) ? "a directory" : "a character device, FIFO or socket");
        }
        return 0;
}
