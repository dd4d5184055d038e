/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer (gcc builds): runs the target once on every file named
 * on the command line or found in a directory named there, so the seeds
 * stay regression tests and the targets keep compiling. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fuzz.h"
#include "macro.h"

#define INPUT_MAX (4u * 1024 * 1024)

static int run_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, INPUT_MAX, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        /* A copy of exactly size bytes, so ASan catches reads past the end. */
        _cleanup_free_ uint8_t *copy = malloc(size ?: 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        (void) LLVMFuzzerTestOneInput(copy, size);
        return 0;
}

static int run_path(const char *path, unsigned *n) {
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*n)++;
                return run_file(path);
        }
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                char sub[4096];
                snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                if (run_path(sub, n) < 0)
                        r = -1;
        }
        closedir(d);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;
        int r = 0;
        for (int i = 1; i < argc; i++)
                if (run_path(argv[i], &n) < 0)
                        r = 1;
        if (n == 0) {
                fprintf(stderr, "no inputs\n");
                return 1;
        }
        printf("ran %u inputs\n", n);
        return r;
}
