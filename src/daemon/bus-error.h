/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "vm-error.h"

/* The model's refusal as the named D-Bus error clients see (design §8);
 * r is what the model returned. Returns r, or the sd-bus error's errno. */
int bus_error_from_vm_error(sd_bus_error *error, const VmError *e, int r);
