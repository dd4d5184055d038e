/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-error.h"
#include "bus-errors.h"
#include "macro.h"

/* Every model error kind and the D-Bus error it is, in one table. */
static const char *const bus_error_names[_VM_ERROR_KIND_MAX] = {
        [VM_ERROR_FAILED] = GUNYAH_ERROR_FAILED,
        [VM_ERROR_INVALID_ARGUMENT] = SD_BUS_ERROR_INVALID_ARGS,
        [VM_ERROR_NO_SUCH_VM] = GUNYAH_ERROR_NO_SUCH_VM,
        [VM_ERROR_VM_EXISTS] = GUNYAH_ERROR_VM_EXISTS,
        [VM_ERROR_INVALID_SPEC] = GUNYAH_ERROR_INVALID_SPEC,
        [VM_ERROR_INVALID_STATE] = GUNYAH_ERROR_INVALID_STATE,
        [VM_ERROR_START_FAILED] = GUNYAH_ERROR_START_FAILED,
        [VM_ERROR_READ_ONLY] = GUNYAH_ERROR_READ_ONLY,
        [VM_ERROR_NOT_SUPPORTED] = GUNYAH_ERROR_NOT_SUPPORTED,
};

int bus_error_from_vm_error(sd_bus_error *error, const VmError *e, int r) {
        if (!vm_error_is_set(e))
                return r; /* sd-bus names it after the errno */
        if (e->kind == VM_ERROR_SYSTEM || !bus_error_names[e->kind])
                return sd_bus_error_set_errnof(error, e->error, "%s", e->message);
        return sd_bus_error_set(error, bus_error_names[e->kind], e->message);
}
