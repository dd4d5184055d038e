/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a VM is: the JSON VM spec (design §6), parsed strictly into VmSpec.
 * The JSON keys, types, defaults and rules are documented in
 * man/gunyah-vm.json.5.scd; this header is the C side of that contract.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VM_NAME_MAX 64
#define VM_VCPUS_MAX 64
#define VM_SPEC_SIZE_MAX (1024 * 1024) /* larger spec documents are refused */

/* The guest physical address space rules of vmm-on-gunyah §1.5 / §2. */
#define VM_MMIO_WINDOW_BASE UINT64_C(0)
#define VM_MMIO_WINDOW_SIZE UINT64_C(0x40000000) /* [0, 1 GiB) */
#define VM_RAM_ALIGN UINT64_C(0x200000)          /* 2 MiB */
#define VM_RAM_BASE_MIN UINT64_C(0x40000000)     /* RAM never below 1 GiB */
#define VM_IPA_LIMIT (UINT64_C(1) << 36)         /* 36-bit IPA space */

/* The GIC the DT builder places at the top of the MMIO window: GICD, and
 * below it one GICR frame per vCPU (vmm-on-gunyah §1.4). Devices must not
 * overlap [VM_GICD_BASE - vcpus * VM_GICR_SIZE_PER_VCPU, VM_GICD_BASE + VM_GICD_SIZE). */
#define VM_GICD_BASE UINT64_C(0x3FFF0000)
#define VM_GICD_SIZE UINT64_C(0x10000)
#define VM_GICR_SIZE_PER_VCPU UINT64_C(0x20000)
#define VM_PL011_SIZE UINT64_C(0x1000) /* one 4 KiB page of MMIO */
#define VM_SPI_MAX 987u                /* SPIs are INTIDs 32..1019 */

/* Limits of other keys. */
#define VM_CMDLINE_MAX 2048 /* bytes, terminating NUL included (Linux arm64 COMMAND_LINE_SIZE) */
#define VM_CRASH_RESTART_LIMIT_MAX 1000u
#define VM_CRASH_RESTART_BACKOFF_MAX_MSEC 3600000u /* 1 hour */

/* Defaults filled in by the parser. */
#define VM_DEFAULT_VCPUS 1u
#define VM_DEFAULT_MEMORY_SIZE (UINT64_C(256) << 20)
#define VM_DEFAULT_MEMORY_BASE UINT64_C(0x80000000)
#define VM_DEFAULT_PL011_BASE UINT64_C(0x09000000)
#define VM_DEFAULT_PL011_SPI 1u

/* The power button: a PL061 GPIO with KEY_POWER on line 3 (as on QEMU's
 * virt machine), always present; the daemon's graceful Stop() presses it. */
#define VM_PL061_BASE UINT64_C(0x09030000)
#define VM_PL061_SIZE UINT64_C(0x1000)
#define VM_PL061_SPI 7u
#define VM_DEFAULT_CRASH_RESTART_LIMIT 3u
#define VM_DEFAULT_CRASH_RESTART_BACKOFF_MSEC 1000u

/* Disks: virtio-blk devices, each on its own virtio-mmio transport. */
#define VM_DISKS_MAX 8u
#define VM_DISK_SERIAL_MAX 20u /* bytes: virtio-blk GET_ID answers with 20 */
#define VM_DISK_PATH_MAX 4095u /* PATH_MAX with its NUL */

/* vsock: the guest's context ID. 0 (hypervisor), 1 (local), 2 (host) and
 * 0xffffffff (any) are reserved by the vsock address family. */
#define VM_VSOCK_CID_MIN 3u
#define VM_VSOCK_CID_MAX UINT32_C(0xfffffffe)

/* virtio-mmio transports as on QEMU's virt machine: the i-th at
 * VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE with SPI
 * VM_VIRTIO_MMIO_SPI_BASE + i, edge triggered. */
#define VM_VIRTIO_MMIO_BASE UINT64_C(0x0a000000)
#define VM_VIRTIO_MMIO_SIZE UINT64_C(0x200)
#define VM_VIRTIO_MMIO_SPI_BASE 16u
#define VM_VIRTIO_MMIO_MAX 32u /* QEMU virt's transports; disks, vsock and rng use the first VM_DISKS_MAX + 2 */

static inline uint64_t vm_virtio_mmio_base(uint32_t i) {
        return VM_VIRTIO_MMIO_BASE + (uint64_t) i * VM_VIRTIO_MMIO_SIZE;
}
static inline uint32_t vm_virtio_mmio_spi(uint32_t i) {
        return VM_VIRTIO_MMIO_SPI_BASE + i;
}

/* memory.swiotlb, the bounce-buffer pool shared with device processes in
 * lend mode: a multiple of 2 MiB (so that the lent part and the pool both
 * stay 2 MiB multiples, backed by huge pages and keeping the DTB window 2 MiB
 * aligned; the guest's restricted-dma-pool only needs 64 KiB), leaving at
 * least VM_SWIOTLB_RAM_MIN of RAM below it. */
#define VM_SWIOTLB_ALIGN VM_RAM_ALIGN
#define VM_SWIOTLB_RAM_MIN (UINT64_C(4) << 20) /* a 2 MiB kernel and the 2 MiB DTB window */

typedef enum VmKernelFormat {
        VM_KERNEL_FORMAT_AUTO,  /* detect: arm64 Image magic, ELF magic, else raw */
        VM_KERNEL_FORMAT_IMAGE, /* arm64 Linux Image */
        VM_KERNEL_FORMAT_ELF,   /* ELF64 AArch64 (bare-metal guests) */
        VM_KERNEL_FORMAT_RAW,   /* raw binary, entry at its load address */
        _VM_KERNEL_FORMAT_MAX,
        _VM_KERNEL_FORMAT_INVALID = -EINVAL,
} VmKernelFormat;

typedef enum VmConsoleType {
        VM_CONSOLE_PL011,
        VM_CONSOLE_NONE,
        _VM_CONSOLE_TYPE_MAX,
        _VM_CONSOLE_TYPE_INVALID = -EINVAL,
} VmConsoleType;

/* How guest RAM is given to the VM. The backend has its own type for this
 * (the daemon converts): what a VM is does not depend on how it runs. */
typedef enum VmMemoryMode {
        VM_MEMORY_LEND,  /* the host loses access while the guest owns it */
        VM_MEMORY_SHARE, /* host and guest both access it */
        _VM_MEMORY_MODE_MAX,
        _VM_MEMORY_MODE_INVALID = -EINVAL,
} VmMemoryMode;

/* What the daemon does when the guest powers off / reboots / crashes. */
typedef enum VmLifecycleAction {
        VM_ACTION_STOP,    /* stay stopped, keep exit info */
        VM_ACTION_RESTART, /* full teardown and fresh start */
        VM_ACTION_DESTROY, /* stop and remove the definition */
        _VM_ACTION_MAX,
        _VM_ACTION_INVALID = -EINVAL,
} VmLifecycleAction;

typedef struct VmDisk {
        char *path;    /* absolute; an image file or a block device */
        bool readonly; /* opened O_RDONLY, offered to the guest as RO */
        char serial[VM_DISK_SERIAL_MAX + 1]; /* printable ASCII; "" = none */
} VmDisk;

typedef struct VmSpec {
        char name[VM_NAME_MAX + 1];
        char uuid[37]; /* "" = none given: the daemon generates one */

        uint32_t vcpus;

        struct {
                uint64_t size;
                uint64_t base;
                VmMemoryMode mode;
                /* bytes at the top of RAM shared instead of lent, for virtio
                 * bounce buffers; 0 = none. Only with VM_MEMORY_LEND. */
                uint64_t swiotlb;
        } memory;

        struct {
                char *path;
                char *cmdline; /* may be NULL */
                VmKernelFormat format;
        } kernel;

        char *initrd; /* may be NULL */

        struct {
                VmConsoleType type;
                uint64_t base; /* MMIO base of the PL011 (4 KiB) */
                uint32_t spi;  /* SPI number of its doorbell interrupt */
        } console;

        bool autostart;
        VmLifecycleAction on_poweroff;
        VmLifecycleAction on_reboot;
        VmLifecycleAction on_crash;
        uint32_t crash_restart_limit;        /* restarts before staying stopped */
        uint32_t crash_restart_backoff_msec; /* first delay, doubled each time */

        VmDisk disks[VM_DISKS_MAX]; /* disks[i] is /dev/vd('a' + i) in a Linux guest, usually */
        uint32_t n_disks;

        /* virtio-vsock, when has_vsock: the guest's CID (VM_VSOCK_CID_MIN..MAX). */
        struct {
                uint32_t cid;
        } vsock;
        bool has_vsock;

        /* virtio-rng. Its default depends on memory (on when the VM can have
         * devices): rng_given says the key was in the document. */
        bool rng;
        bool rng_given;
} VmSpec;

/* The virtio-mmio transports of a spec: disks, then vsock, then rng. */
static inline uint32_t vm_spec_n_transports(const VmSpec *s) {
        return s->n_disks + (s->has_vsock ? 1 : 0) + (s->rng ? 1 : 0);
}

/* How errors name transport i of the spec: "disks[1]", "vsock", "rng". */
static inline const char *vm_spec_transport_name(const VmSpec *s, uint32_t i, char *buf, size_t len) {
        if (i < s->n_disks)
                snprintf(buf, len, "disks[%" PRIu32 "]", i);
        else
                snprintf(buf, len, "%s", i == s->n_disks && s->has_vsock ? "vsock" : "rng");
        return buf;
}

/* Whether devices can reach guest memory: shared, or lent with a pool. */
static inline bool vm_spec_devices_possible(const VmSpec *s) {
        return s->memory.mode == VM_MEMORY_SHARE || s->memory.swiotlb > 0;
}

/* An error found in a spec: the JSON path and a human message naming the rule. */
typedef struct VmSpecError {
        char path[128];    /* e.g. "memory.size", "" for the document itself */
        char message[384]; /* e.g. "must be a multiple of 2 MiB, got 1000000" */
} VmSpecError;

/* Formats "path: message" (or just the message for the document). */
const char *vm_spec_error_to_string(const VmSpecError *e, char *buf, size_t len);

/* Parses a JSON document of len bytes (no NUL terminator needed). On failure
 * returns -EINVAL (or -ENOMEM, -E2BIG for a document over VM_SPEC_SIZE_MAX)
 * and fills *error (may be NULL); *ret is written only on success.
 *
 * kernel.path and initrd are stored as absolute paths. A relative one is
 * taken relative to the current directory (vm_spec_parse) or to the spec
 * file's directory (vm_spec_load_file); if no file exists there and the
 * environment variable GUNYAH_IMAGE_PATH is set (colon-separated
 * directories, relative ones taken from the current directory), the first
 * directory holding it is used instead, for tests and demos whose images
 * are built elsewhere. Paths are joined, not canonicalized.
 *
 * Both files must then exist, be regular files and be readable (access and
 * open), unless flags has VM_SPEC_SKIP_FILE_CHECKS; a failed check is
 * -EINVAL with the key and the file named. */
#define VM_SPEC_SKIP_FILE_CHECKS 0x1u
/* Refuse relative kernel/initrd paths (specs sent to the daemon). */
#define VM_SPEC_ABSOLUTE_PATHS 0x2u
int vm_spec_parse(const char *json, size_t len, unsigned flags, VmSpec **ret, VmSpecError *error);
/* As vm_spec_parse() on the file's contents. If the file itself cannot be
 * read, returns its -errno (-E2BIG when larger than VM_SPEC_SIZE_MAX). */
int vm_spec_load_file(const char *path, unsigned flags, VmSpec **ret, VmSpecError *error);

/* Serializes with every key present and every default filled in (the
 * normalized spec): absent optional strings as null, sizes as "256M",
 * addresses as "0x80000000", the back-off in milliseconds. Parsing the
 * result gives back an equal VmSpec. -EINVAL for an enum out of range. */
int vm_spec_to_json(const VmSpec *spec, char **ret);

/* Offline check of the disks (gunyahctl validate): each path must exist
 * and be a regular file or a block device. Not part of parsing: the daemon
 * opens and locks the images when the VM starts, and a definition may name
 * a disk that appears later. -EINVAL with error naming disks[i].path, the
 * file and what is wrong. */
int vm_spec_check_disks(const VmSpec *spec, VmSpecError *error);

VmSpec *vm_spec_free(VmSpec *spec);
static inline void vm_spec_freep(VmSpec **p) {
        if (*p)
                vm_spec_free(*p);
}

bool vm_name_is_valid(const char *name);

const char *vm_kernel_format_to_string(VmKernelFormat f);
VmKernelFormat vm_kernel_format_from_string(const char *s);
const char *vm_console_type_to_string(VmConsoleType t);
VmConsoleType vm_console_type_from_string(const char *s);
const char *vm_lifecycle_action_to_string(VmLifecycleAction a);
VmLifecycleAction vm_lifecycle_action_from_string(const char *s);
const char *vm_memory_mode_to_string(VmMemoryMode m);
VmMemoryMode vm_memory_mode_from_string(const char *s);
