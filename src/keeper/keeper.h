/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* gunyah-keeper's allow-list (seccomp-keeper.c), loaded before it serves. */
int keeper_seccomp_install(void);
