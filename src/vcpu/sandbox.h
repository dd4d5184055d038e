/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Confines this worker before it runs guest code (design §4): closes every
 * fd it was not handed, sets no_new_privs and resource limits. backend names
 * the hv backend whose syscalls must stay allowed. */
int sandbox_enter(const char *backend, size_t n_backend_fds);
