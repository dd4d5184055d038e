/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;

/* org.gunyah.Manager1 and the ObjectManager on /org/gunyah/Manager1, plus
 * the VM objects below it. */
int bus_manager_register(Manager *m);
