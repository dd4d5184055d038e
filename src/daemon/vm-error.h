/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How the model (vm.c, manager.c) says why an operation was refused, without
 * naming any transport: a kind, the errno, the argument it concerns, and a
 * sentence for the user. bus-errors.c and varlink.c each map the kind to
 * their named errors in one table.
 */

#include <stdbool.h>

typedef enum VmErrorKind {
        VM_ERROR_NONE,             /* not set: the errno alone says what failed */
        VM_ERROR_SYSTEM,           /* a system call failed: the errno names it, the message says where */
        VM_ERROR_FAILED,           /* failed for a reason in the message */
        VM_ERROR_INVALID_ARGUMENT, /* an argument of the call was wrong (parameter names it) */
        VM_ERROR_NO_SUCH_VM,
        VM_ERROR_VM_EXISTS,
        VM_ERROR_INVALID_SPEC,
        VM_ERROR_INVALID_STATE,
        VM_ERROR_START_FAILED,
        VM_ERROR_READ_ONLY,
        VM_ERROR_NOT_SUPPORTED,
        _VM_ERROR_KIND_MAX,
} VmErrorKind;

#define VM_ERROR_MESSAGE_MAX 1024

typedef struct VmError {
        VmErrorKind kind;
        int error;             /* positive errno */
        const char *parameter; /* INVALID_ARGUMENT: the argument; NO_SUCH_VM: "name"; static string */
        char vm[65];           /* NO_SUCH_VM, VM_EXISTS: the name asked for */
        char message[VM_ERROR_MESSAGE_MAX];
} VmError;

#define VM_ERROR_NULL ((VmError) { .kind = VM_ERROR_NONE })

/* Records the first error (a later one does not overwrite it) and returns
 * -errnum, so that `return vm_error_set(...)` reads as one statement. error
 * may be NULL where the caller wants only the errno. */
int vm_error_set(VmError *error, VmErrorKind kind, int errnum, const char *parameter, const char *format, ...)
        __attribute__((format(printf, 5, 6)));

/* Names the VM a NO_SUCH_VM or VM_EXISTS concerns. */
void vm_error_set_vm(VmError *error, const char *name);

static inline bool vm_error_is_set(const VmError *error) {
        return error && error->kind != VM_ERROR_NONE;
}
