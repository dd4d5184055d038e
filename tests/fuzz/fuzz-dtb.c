/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Spec -> layout -> devicetree on arbitrary spec documents, with a
 * synthetic kernel and initrd: every blob built must be a valid FDT that
 * fits its window. */
#include <endian.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot-images.h"
#include "fuzz.h"
#include "vm-spec.h"

/* The kind transport i must be: the disks, then vsock, then rng. */
static VmDeviceKind expected_kind(const VmSpec *spec, uint32_t i) {
        if (i < spec->n_disks)
                return VM_DEVICE_VIRTIO_BLK;
        return i == spec->n_disks && spec->has_vsock ? VM_DEVICE_VIRTIO_VSOCK : VM_DEVICE_VIRTIO_RNG;
}

/* One virtio node per disk, vsock and rng, in that order, each with its
 * doorbell, a pool node exactly when there is a pool, and the DTB window
 * below it. */
static void check_devices(const VmSpec *spec, const VmBootImages *b) {
        const VmLayout *l = &b->layout;
        uint32_t want = vm_spec_n_transports(spec);
        int n = 0, off;

        fdt_for_each_subnode(off, b->dtb, 0)
                if (fdt_node_check_compatible(b->dtb, off, "virtio,mmio") == 0)
                        n++;
        if (n != (int) want || l->n_devices != want)
                abort();
        /* Devices only where a device process can reach guest memory. */
        if (want > 0 && !vm_spec_devices_possible(spec))
                abort();
        for (uint32_t i = 0; i < l->n_devices; i++) {
                char bell[64];
                if (l->devices[i].kind != expected_kind(spec, i))
                        abort();
                snprintf(bell, sizeof(bell), "/gunyah-vm-config/vdevices/bell-%x", l->devices[i].spi);
                if (fdt_path_offset(b->dtb, bell) < 0 || (l->have_pl011 && l->devices[i].spi == l->pl011_spi))
                        abort();
        }
        /* A pool, or a shared VM with devices (its lent DTB window kept out of reach). */
        if ((fdt_path_offset(b->dtb, "/reserved-memory") >= 0) !=
            (spec->memory.swiotlb > 0 || (l->n_devices > 0 && spec->memory.mode == VM_MEMORY_SHARE)))
                abort();
        if (l->swiotlb_size > 0 && l->dtb_addr + l->dtb_window > l->swiotlb_addr)
                abort();
}

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
                check_devices(spec, b);
                vm_boot_images_free(b);
        }
        vm_spec_free(spec);
        return 0;
}
