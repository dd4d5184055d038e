/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a virtio-blk device process may do beyond the common device table
 * (seccomp-device.c): I/O on its disk image (fd 7) and nothing else, as
 * crosvm's block_device.policy adds to its common device policy.
 */
#include "device-protocol.h"
#include "device.h"
#include "macro.h"
#include "seccomp-util.h"

static const SeccompRule block_rules[] = {
        SECCOMP_ALLOW_IF_EQ(lseek, 0, DEVICE_FD_BACKING, "the disk's size (block devices have no st_size)"),
        SECCOMP_ALLOW_IF_EQ(preadv, 0, DEVICE_FD_BACKING, "IN requests"),
        SECCOMP_ALLOW_IF_EQ(pwritev, 0, DEVICE_FD_BACKING, "OUT requests"),
        SECCOMP_ALLOW_IF_EQ(pwrite64, 0, DEVICE_FD_BACKING, "WRITE_ZEROES where fallocate cannot zero"),
        SECCOMP_ALLOW_IF_EQ(fdatasync, 0, DEVICE_FD_BACKING, "FLUSH"),
        SECCOMP_ALLOW_IF_EQ(fallocate, 0, DEVICE_FD_BACKING, "DISCARD (punch hole) and WRITE_ZEROES (zero range)"),
};

const SeccompTable seccomp_table_block = {
        .backend = "block",
        .rules = block_rules,
        .n_rules = ELEMENTSOF(block_rules),
};
