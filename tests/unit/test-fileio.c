/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "macro.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static size_t count_entries(void) {
        DIR *d = opendir(dir);
        size_t n = 0;

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_write_atomic_then_read_back(void **state) {
        char path[64], *buf = NULL;
        size_t size;
        struct stat st;
        snprintf(path, sizeof(path), "%s/vm.json", dir);
        assert_int_equal(write_file_atomic(path, "{\"a\":1}", 7, 0600), 0);
        assert_int_equal(write_file_atomic(path, "{\"b\":22}", 8, 0640), 0);
        assert_int_equal(read_full_file(path, 1024, &buf, &size), 0);
        assert_int_equal(size, 8);
        assert_string_equal(buf, "{\"b\":22}");
        free(buf);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        /* no temporary file is left next to it */
        assert_int_equal(count_entries(), 1);
        unlink(path);
}

static void test_write_atomic_failure_leaves_nothing(void **state) {
        char path[96];
        snprintf(path, sizeof(path), "%s/missing-dir/vm.json", dir);
        assert_int_equal(write_file_atomic(path, "x", 1, 0600), -ENOENT);
        assert_int_equal(count_entries(), 0);
}

static void test_read_full_file_limits(void **state) {
        char path[64], *buf = NULL;
        size_t size;
        int fd;
        snprintf(path, sizeof(path), "%s/big", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        for (int i = 0; i < 100; i++)
                assert_int_equal(loop_write(fd, "0123456789", 10), 0);
        close(fd);
        assert_int_equal(read_full_file(path, 999, &buf, &size), -EFBIG);
        assert_null(buf);
        assert_int_equal(read_full_file(path, 1000, &buf, &size), 0);
        assert_int_equal(size, 1000);
        assert_int_equal(buf[1000], '\0');
        free(buf);
        assert_int_equal(read_full_file(dir, 1000, &buf, &size), -EISDIR);
        assert_int_equal(read_full_file("/nonexistent/x", 1000, &buf, &size), -ENOENT);
        unlink(path);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_atomic_then_read_back),
                cmocka_unit_test(test_write_atomic_failure_leaves_nothing),
                cmocka_unit_test(test_read_full_file_limits),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
