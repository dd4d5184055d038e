/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The file policy of a spec's images (the rules are documented at
 * vm_spec_parse() in vm-spec.h): kernel.path and initrd made absolute against
 * base_dir, or found in GUNYAH_IMAGE_PATH, then checked to be readable
 * regular files.
 */

#include "vm-spec.h"

/* dir + "/" + file (no doubled slash); malloc()ed, NULL when out of memory. */
char *path_concat(const char *dir, const char *file);

/* Resolves s->kernel.path and s->initrd in place per flags
 * (VM_SPEC_ABSOLUTE_PATHS, VM_SPEC_SKIP_FILE_CHECKS). kernel_key is the key
 * the kernel path was given under ("kernel.path", or "kernel" for the string
 * form), for the messages. -EINVAL with error filled, or -ENOMEM. */
int vm_spec_resolve_images(VmSpec *s, const char *base_dir, unsigned flags, const char *kernel_key,
                           VmSpecError *error);
