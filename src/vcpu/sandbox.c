/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "sandbox.h"
#include "worker-protocol.h"

static int set_rlimit(int resource, rlim_t value) {
        struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

        if (setrlimit(resource, &rl) < 0)
                return negative_errno();
        return 0;
}

int sandbox_enter(const char *backend, size_t n_backend_fds) {
        unsigned last_fd = WORKER_FD_BACKEND + (unsigned) n_backend_fds - 1;
        int r;

        (void) backend;

        /* Nothing but the fds of the worker protocol stays open. */
        if (close_range(last_fd + 1, ~0U, 0) < 0)
                return log_error_errno(errno, "close_range failed: %m");

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(errno, "PR_SET_NO_NEW_PRIVS failed: %m");

        r = set_rlimit(RLIMIT_CORE, 0);
        if (r < 0)
                return log_error_errno(r, "RLIMIT_CORE: %m");
        r = set_rlimit(RLIMIT_NOFILE, last_fd + 9);
        if (r < 0)
                return log_error_errno(r, "RLIMIT_NOFILE: %m");
        return 0;
}
