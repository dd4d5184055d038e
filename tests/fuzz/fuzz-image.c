/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel image probing and loading on arbitrary bytes. The first byte picks
 * the requested format, the rest is the image. */
#include <stdlib.h>

#include "fuzz.h"
#include "image.h"

#define RAM_SIZE (UINT64_C(1) << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VmImageInfo info;
        char err[VM_IMAGE_ERROR_MAX];

        if (size < 1)
                return 0;
        VmKernelFormat f = (VmKernelFormat) (data[0] % _VM_KERNEL_FORMAT_MAX);
        data++, size--;

        if (vm_image_probe(data, size, f, &info, err, sizeof(err)) < 0)
                return 0;
        if (info.format == VM_KERNEL_FORMAT_AUTO || info.load_size < (info.format == VM_KERNEL_FORMAT_ELF ? 1 : size))
                abort(); /* a successful probe always settles these */

        /* Load where the image says (ELF) or at the RAM base; the range checks
         * must refuse whatever does not fit the 1 MiB window. */
        uint64_t base = info.format == VM_KERNEL_FORMAT_ELF ? info.segments[0].paddr : UINT64_C(0x80000000);
        uint8_t *ram = malloc(RAM_SIZE);
        if (!ram)
                return 0;
        (void) vm_image_load(data, size, &info, base, ram, base, RAM_SIZE, err, sizeof(err));
        free(ram);
        return 0;
}
