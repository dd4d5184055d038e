/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Spec -> layout -> devicetree on arbitrary spec documents, with a
 * synthetic kernel and initrd: every blob built must be a valid FDT that
 * fits its window. */
#include <endian.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "boot-images.h"
#include "fuzz.h"
#include "vm-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t kernel[4096], initrd[512];
        VmSpec *spec = NULL;
        VmBootImages *b = NULL;
        VmSpecError error = {};
        char err[VM_BOOT_ERROR_MAX];

        /* An arm64 Image header: text_offset 0, image_size 64 KiB. */
        uint64_t image_size = htole64(0x10000);
        uint32_t magic = htole32(VM_IMAGE_ARM64_MAGIC);
        memcpy(kernel + 16, &image_size, sizeof(image_size));
        memcpy(kernel + 56, &magic, sizeof(magic));

        if (vm_spec_parse((const char *) data, size, VM_SPEC_SKIP_FILE_CHECKS, &spec, &error) < 0)
                return 0;
        bool ctx = size % 2 == 0;
        if (vm_boot_images_prepare_from_memory(spec, kernel, sizeof(kernel), spec->initrd ? initrd : NULL,
                                               sizeof(initrd), ctx, &b, err, sizeof(err)) >= 0) {
                if (fdt_check_header(b->dtb) != 0 || fdt_totalsize(b->dtb) != b->dtb_size ||
                    b->dtb_size * 2 > b->layout.dtb_window ||
                    fdt_path_offset(b->dtb, "/gunyah-vm-config/vcpus") < 0 ||
                    fdt_path_offset(b->dtb, "/hypervisor") != -FDT_ERR_NOTFOUND)
                        abort();
                vm_boot_images_free(b);
        }
        vm_spec_free(spec);
        return 0;
}
