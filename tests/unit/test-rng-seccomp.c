/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-rng device's seccomp allow-list (src/device/seccomp-rng.c on
 * top of the common device table) under real kernel enforcement: a child
 * loads the filter and makes one call; it returns (allowed) or dies of
 * SIGSYS (refused).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "device-protocol.h"
#include "device.h"
#include "macro.h"

/* seccomp-device.c names its filter by type; main.c owns the table. */
const char *device_type_to_string(DeviceType t) {
        return t == DEVICE_TYPE_RNG ? "rng" : t == DEVICE_TYPE_BLOCK ? "block" : NULL;
}

static int status_of(int (*attempt)(void)) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(100);
                if (device_seccomp_install(DEVICE_TYPE_RNG, false) < 0)
                        _exit(101);
                _exit(attempt());
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void check(const char *name, int (*attempt)(void), bool killed) {
        int status = status_of(attempt);

        if (killed && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS))
                fail_msg("rng: %s was not refused (status 0x%x)", name, status);
        if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                fail_msg("rng: %s was refused or failed (status 0x%x)", name, status);
}

#define assert_allowed(attempt) check(#attempt, attempt, false)
#define assert_killed(attempt) check(#attempt, attempt, true)

static char buf[64];

static int fill_with_getrandom(void) {
        return getrandom(buf, sizeof(buf), 0) == (ssize_t) sizeof(buf) ? 0 : 1;
}
static int read_backing(void) {
        (void) read(DEVICE_FD_BACKING, buf, sizeof(buf));
        return 0;
}
static int preadv_backing(void) {
        struct iovec iov = { buf, sizeof(buf) };
        (void) preadv(DEVICE_FD_BACKING, &iov, 1, 0);
        return 0;
}
static int write_backing(void) {
        (void) write(DEVICE_FD_BACKING, buf, 1);
        return 0;
}
static int read_kick(void) {
        (void) read(DEVICE_FD_KICK, buf, 8);
        return 0;
}

static void test_rng_may_getrandom(void **state) {
        assert_allowed(fill_with_getrandom);
        assert_allowed(read_kick); /* the common loop still works */
}

/* fd 7 is /dev/null for an rng device, and it may not even touch that;
 * the block device's I/O rules are not in its filter. */
static void test_rng_has_no_block_io(void **state) {
        assert_killed(read_backing);
        assert_killed(preadv_backing);
        assert_killed(write_backing);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rng_may_getrandom),
                cmocka_unit_test(test_rng_has_no_block_io),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
