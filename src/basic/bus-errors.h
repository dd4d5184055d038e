/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Named D-Bus errors of org.gunyah.Manager1 (design §8), shared by gunyahd
 * (which sends them) and gunyahctl (which maps them to exit codes). */
#define GUNYAH_ERROR_PREFIX "org.gunyah.Manager1.Error."
#define GUNYAH_ERROR_NO_SUCH_VM GUNYAH_ERROR_PREFIX "NoSuchVM"
#define GUNYAH_ERROR_VM_EXISTS GUNYAH_ERROR_PREFIX "VMExists"
#define GUNYAH_ERROR_INVALID_SPEC GUNYAH_ERROR_PREFIX "InvalidSpec"
#define GUNYAH_ERROR_INVALID_STATE GUNYAH_ERROR_PREFIX "InvalidState"
#define GUNYAH_ERROR_START_FAILED GUNYAH_ERROR_PREFIX "StartFailed"
#define GUNYAH_ERROR_NOT_SUPPORTED GUNYAH_ERROR_PREFIX "NotSupported"
#define GUNYAH_ERROR_READ_ONLY GUNYAH_ERROR_PREFIX "ReadOnlyDefinition"
#define GUNYAH_ERROR_FAILED GUNYAH_ERROR_PREFIX "Failed"

/* CreateVM flags */
#define GUNYAH_CREATE_PERSIST (UINT64_C(1) << 0)   /* write the spec to the state directory */
#define GUNYAH_CREATE_START (UINT64_C(1) << 1)     /* start it right away */
#define GUNYAH_CREATE_TRANSIENT (UINT64_C(1) << 2) /* forget it once it has stopped */
#define GUNYAH_CREATE_FLAGS_ALL (GUNYAH_CREATE_PERSIST | GUNYAH_CREATE_START | GUNYAH_CREATE_TRANSIENT)

#define GUNYAH_BUS_NAME "org.gunyah.Manager1"
#define GUNYAH_MANAGER_PATH "/org/gunyah/Manager1"
#define GUNYAH_MANAGER_INTERFACE "org.gunyah.Manager1"
#define GUNYAH_VM_PATH_PREFIX "/org/gunyah/Manager1/vm"
#define GUNYAH_VM_INTERFACE "org.gunyah.VM1"
