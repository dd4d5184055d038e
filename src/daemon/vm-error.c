/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "vm-error.h"

int vm_error_set(VmError *error, VmErrorKind kind, int errnum, const char *parameter, const char *format, ...) {
        va_list ap;

        errnum = errnum < 0 ? -errnum : errnum;
        if (!error || vm_error_is_set(error))
                return -errnum;
        error->kind = kind;
        error->error = errnum;
        error->parameter = parameter;
        va_start(ap, format);
        (void) vsnprintf(error->message, sizeof(error->message), format, ap);
        va_end(ap);
        return -errnum;
}

void vm_error_set_vm(VmError *error, const char *name) {
        if (error)
                (void) snprintf(error->vm, sizeof(error->vm), "%s", name);
}
