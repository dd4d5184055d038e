/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON VM spec (design §6): its keys in one field table that drives
 * parsing, defaults and serialization, and the rules across keys. Strict by
 * intent: a spec is written by an administrator or sent over the API, and a
 * typo that silently falls back to a default (a misspelled "on_crash", a
 * memory size in the wrong unit) is worse than a refusal. Every error names
 * the JSON path and the rule. The document is read by json-strict.c and the
 * image files are found by image-path.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "image-path.h"
#include "json-strict.h"
#include "macro.h"
#include "spec-error.h"
#include "spec-field.h"
#include "string-table.h"
#include "vm-spec.h"

/* Enums are stored through a generic int pointer by the field table. */
_Static_assert(sizeof(VmKernelFormat) == sizeof(int), "enum size");
_Static_assert(sizeof(VmConsoleType) == sizeof(int), "enum size");
_Static_assert(sizeof(VmLifecycleAction) == sizeof(int), "enum size");
_Static_assert(sizeof(VmMemoryMode) == sizeof(int), "enum size");

static const char *const kernel_format_names[_VM_KERNEL_FORMAT_MAX] = {
        [VM_KERNEL_FORMAT_AUTO] = "auto",
        [VM_KERNEL_FORMAT_IMAGE] = "image",
        [VM_KERNEL_FORMAT_ELF] = "elf",
        [VM_KERNEL_FORMAT_RAW] = "raw",
};

static const char *const console_type_names[_VM_CONSOLE_TYPE_MAX] = {
        [VM_CONSOLE_PL011] = "pl011",
        [VM_CONSOLE_NONE] = "none",
};

static const char *const lifecycle_action_names[_VM_ACTION_MAX] = {
        [VM_ACTION_STOP] = "stop",
        [VM_ACTION_RESTART] = "restart",
        [VM_ACTION_DESTROY] = "destroy",
};

static const char *const memory_mode_names[_VM_MEMORY_MODE_MAX] = {
        [VM_MEMORY_LEND] = "lend",
        [VM_MEMORY_SHARE] = "share",
};

DEFINE_STRING_TABLE(vm_kernel_format, VmKernelFormat, kernel_format_names)
DEFINE_STRING_TABLE(vm_console_type, VmConsoleType, console_type_names)
DEFINE_STRING_TABLE(vm_lifecycle_action, VmLifecycleAction, lifecycle_action_names)
DEFINE_STRING_TABLE(vm_memory_mode, VmMemoryMode, memory_mode_names)

/* ASCII only on purpose: names become D-Bus object paths and file names. */
static bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool vm_name_is_valid(const char *name) {
        size_t n;

        if (!name || !char_is_alnum(name[0]))
                return false;
        n = strlen(name);
        if (n > VM_NAME_MAX)
                return false;
        for (size_t i = 1; i < n; i++)
                if (!char_is_alnum(name[i]) && !strchr("_.-", name[i]))
                        return false;
        return true;
}

VmSpec *vm_spec_free(VmSpec *spec) {
        if (!spec)
                return NULL;
        free(spec->kernel.path);
        free(spec->kernel.cmdline);
        free(spec->initrd);
        for (uint32_t i = 0; i < spec->n_disks; i++)
                free(spec->disks[i].path);
        free(spec);
        return NULL;
}

/* ---- the field table ---- */

static const Field memory_fields[] = {
        { "size", &field_size, offsetof(VmSpec, memory.size), VM_DEFAULT_MEMORY_SIZE },
        { "base", &field_address, offsetof(VmSpec, memory.base), VM_DEFAULT_MEMORY_BASE },
        { "mode", &field_enum, offsetof(VmSpec, memory.mode), VM_MEMORY_LEND,
          .names = memory_mode_names, .n_names = ELEMENTSOF(memory_mode_names) },
        { "swiotlb", &field_size, offsetof(VmSpec, memory.swiotlb), 0 },
};

static const Field kernel_fields[] = {
        { "path", &field_string, offsetof(VmSpec, kernel.path), .required = true, .is_path = true },
        { "cmdline", &field_string, offsetof(VmSpec, kernel.cmdline), .nullable = true, .max = VM_CMDLINE_MAX - 1,
          .max_why = "it must fit Linux's 2048-byte command line buffer with its terminating NUL" },
        { "format", &field_enum, offsetof(VmSpec, kernel.format), VM_KERNEL_FORMAT_AUTO,
          .names = kernel_format_names, .n_names = ELEMENTSOF(kernel_format_names) },
};

static const Field console_fields[] = {
        { "type", &field_enum, offsetof(VmSpec, console.type), VM_CONSOLE_PL011,
          .names = console_type_names, .n_names = ELEMENTSOF(console_type_names) },
        { "base", &field_address, offsetof(VmSpec, console.base), VM_DEFAULT_PL011_BASE },
        { "spi", &field_u32, offsetof(VmSpec, console.spi), VM_DEFAULT_PL011_SPI, .min = 0, .max = VM_SPI_MAX },
};

/* Offsets into VmDisk: the walker parses each element of "disks" into one. */
static const Field disk_fields[] = {
        { "path", &field_string, offsetof(VmDisk, path), .required = true, .is_path = true, .absolute = true,
          .max = VM_DISK_PATH_MAX, .max_why = "PATH_MAX" },
        { "readonly", &field_bool, offsetof(VmDisk, readonly), false },
        { "serial", &field_serial, offsetof(VmDisk, serial), .max = VM_DISK_SERIAL_MAX },
};

static const Field vsock_fields[] = {
        { "cid", &field_u32, offsetof(VmSpec, vsock.cid), .required = true, .min = VM_VSOCK_CID_MIN,
          .max = VM_VSOCK_CID_MAX,
          .max_why = "0 (hypervisor), 1 (local), 2 (host) and 4294967295 (any) are reserved" },
};

static const Field crash_restart_fields[] = {
        { "limit", &field_u32, offsetof(VmSpec, crash_restart_limit), VM_DEFAULT_CRASH_RESTART_LIMIT,
          .min = 0, .max = VM_CRASH_RESTART_LIMIT_MAX },
        { "backoff", &field_msec, offsetof(VmSpec, crash_restart_backoff_msec), VM_DEFAULT_CRASH_RESTART_BACKOFF_MSEC,
          .max = VM_CRASH_RESTART_BACKOFF_MAX_MSEC },
};

#define ACTION_FIELD(k, member, def)                                                    \
        { k, &field_enum, offsetof(VmSpec, member), def,                                \
          .names = lifecycle_action_names, .n_names = ELEMENTSOF(lifecycle_action_names) }
#define OBJECT_FIELD(k, type, table, ...) \
        { k, type, 0, .sub = table, .n_sub = ELEMENTSOF(table), __VA_ARGS__ }

static const Field spec_fields[] = {
        { "name", &field_name, offsetof(VmSpec, name), .required = true },
        { "uuid", &field_uuid, offsetof(VmSpec, uuid) },
        { "vcpus", &field_u32, offsetof(VmSpec, vcpus), VM_DEFAULT_VCPUS, .min = 1, .max = VM_VCPUS_MAX },
        OBJECT_FIELD("memory", &field_object, memory_fields),
        OBJECT_FIELD("kernel", &field_kernel, kernel_fields, .required = true),
        { "initrd", &field_string, offsetof(VmSpec, initrd), .nullable = true, .is_path = true },
        OBJECT_FIELD("console", &field_object, console_fields),
        { "autostart", &field_bool, offsetof(VmSpec, autostart), false },
        ACTION_FIELD("on_poweroff", on_poweroff, VM_ACTION_STOP),
        ACTION_FIELD("on_reboot", on_reboot, VM_ACTION_RESTART),
        ACTION_FIELD("on_crash", on_crash, VM_ACTION_STOP),
        OBJECT_FIELD("crash_restart", &field_object, crash_restart_fields),
        { "disks", &field_array, offsetof(VmSpec, disks), .max = VM_DISKS_MAX, .sub = disk_fields, .n_sub = ELEMENTSOF(disk_fields),
          .elem_size = sizeof(VmDisk), .count_offset = offsetof(VmSpec, n_disks) },
        OBJECT_FIELD("vsock", &field_object, vsock_fields, .present_offset = offsetof(VmSpec, has_vsock),
                     .omit_absent = true),
        /* Default resolved by spec_validate_rng(); always written. */
        { "rng", &field_bool, offsetof(VmSpec, rng), true, .present_offset = offsetof(VmSpec, rng_given) },
};

/* ---- rules across fields ---- */

static int spec_validate_memory(VmSpecError *error, const VmSpec *s) {
        uint64_t size = s->memory.size, base = s->memory.base;

        if (!IS_ALIGNED(size, VM_RAM_ALIGN))
                return spec_error(error, -EINVAL, "memory.size", "must be a multiple of 2 MiB, got %" PRIu64, size);
        if (size < VM_RAM_ALIGN)
                return spec_error(error, -EINVAL, "memory.size", "must be at least 2 MiB, got %" PRIu64, size);
        if (!IS_ALIGNED(base, VM_RAM_ALIGN))
                return spec_error(error, -EINVAL, "memory.base", "must be a multiple of 2 MiB, got 0x%" PRIx64, base);
        if (base < VM_RAM_BASE_MIN)
                return spec_error(error, -EINVAL, "memory.base",
                                  "must be at least 1 GiB (0x40000000): RAM below 1 GiB is refused, [0, 1 GiB) is the MMIO window; got 0x%" PRIx64,
                                  base);
        /* Written so that base + size cannot overflow. */
        if (base >= VM_IPA_LIMIT || size > VM_IPA_LIMIT - base)
                return spec_error(error, -EINVAL, "memory",
                                  "RAM at base 0x%" PRIx64 " with size 0x%" PRIx64 " must end within the 36-bit IPA space (at most 0x%" PRIx64 ")",
                                  base, size, VM_IPA_LIMIT);
        return 0;
}

/* The pool is carved from the top of RAM and shared while the rest is lent:
 * pointless when everything is shared anyway. */
static int spec_validate_swiotlb(VmSpecError *error, const VmSpec *s) {
        uint64_t pool = s->memory.swiotlb, size = s->memory.size;

        if (pool == 0)
                return 0;
        if (s->memory.mode != VM_MEMORY_LEND)
                return spec_error(error, -EINVAL, "memory.swiotlb",
                                  "is only for memory.mode \"lend\": with \"%s\" devices reach all of RAM already; leave it out",
                                  vm_memory_mode_to_string(s->memory.mode));
        if (!IS_ALIGNED(pool, VM_SWIOTLB_ALIGN))
                return spec_error(error, -EINVAL, "memory.swiotlb", "must be a multiple of 2 MiB, got %" PRIu64, pool);
        if (pool > size || size - pool < VM_SWIOTLB_RAM_MIN)
                return spec_error(error, -EINVAL, "memory.swiotlb",
                                  "must leave at least 4 MiB of memory.size (%" PRIu64 " MiB) below the pool for the kernel, initrd and the 2 MiB DTB window, got %" PRIu64 " MiB",
                                  size / MiB, pool / MiB);
        return 0;
}

/* Devices need memory their process can map (virtio-on-gunyah §2). */
static int spec_refuse_unreachable(VmSpecError *error, const char *key, const char *what) {
        return spec_error(error, -EINVAL, key,
                          "%s guest memory the host can reach, but memory.mode \"lend\" (the default) takes all of RAM from the host: "
                          "set memory.mode to \"share\", or keep \"lend\" and set memory.swiotlb (e.g. \"64M\") for a shared bounce-buffer pool, "
                          "which the guest kernel uses only with CONFIG_DMA_RESTRICTED_POOL", what);
}

/* Each image once (the daemon locks it: a second open would fail the start). */
static int spec_validate_disks(VmSpecError *error, const VmSpec *s) {
        for (uint32_t i = 0; i < s->n_disks; i++)
                for (uint32_t j = 0; j < i; j++)
                        if (streq(s->disks[i].path, s->disks[j].path)) {
                                char key[32];
                                snprintf(key, sizeof(key), "disks[%" PRIu32 "].path", i);
                                return spec_error(error, -EINVAL, key,
                                                  "names the same image as disks[%" PRIu32 "].path, %s; an image can be attached once",
                                                  j, QUOTE_PATH(s->disks[i].path));
                        }
        if (s->n_disks > 0 && !vm_spec_devices_possible(s))
                return spec_refuse_unreachable(error, "disks", "need");
        return 0;
}

/* rng is on by default where a device can run, off (not refused) where none
 * can; asking for it there is refused like a disk. */
static int spec_validate_devices(VmSpecError *error, VmSpec *s) {
        if (s->has_vsock && !vm_spec_devices_possible(s))
                return spec_refuse_unreachable(error, "vsock", "needs");
        if (!s->rng_given)
                s->rng = vm_spec_devices_possible(s);
        else if (s->rng && !vm_spec_devices_possible(s))
                return spec_refuse_unreachable(error, "rng", "true needs");
        return 0;
}

/* The virtio-mmio transports sit where QEMU virt puts them; a console
 * moved onto them, or onto their interrupts, is refused. */
static int spec_validate_console_virtio(VmSpecError *error, const VmSpec *s) {
        uint32_t n = vm_spec_n_transports(s);
        uint64_t base = s->console.base, end = vm_virtio_mmio_base(n);
        char name[32];

        if (s->console.type != VM_CONSOLE_PL011 || n == 0)
                return 0;
        if (base < end && base + VM_PL011_SIZE > VM_VIRTIO_MMIO_BASE)
                return spec_error(error, -EINVAL, "console.base",
                                  "the 4 KiB device at 0x%" PRIx64 " overlaps the virtio-mmio transports of the disks, vsock and rng [0x%" PRIx64 ", 0x%" PRIx64 ")",
                                  base, VM_VIRTIO_MMIO_BASE, end);
        if (s->console.spi >= VM_VIRTIO_MMIO_SPI_BASE && s->console.spi < vm_virtio_mmio_spi(n))
                return spec_error(error, -EINVAL, "console.spi",
                                  "SPI %" PRIu32 " is the interrupt of %s (transport i has SPI %u + i: disks, then vsock, then rng); pick another",
                                  s->console.spi,
                                  vm_spec_transport_name(s, s->console.spi - VM_VIRTIO_MMIO_SPI_BASE, name, sizeof(name)),
                                  VM_VIRTIO_MMIO_SPI_BASE);
        return 0;
}

/* The console must sit in the MMIO window and clear of the GIC the DT
 * builder places at the top of it. RAM cannot overlap it: RAM starts at
 * 1 GiB or above (spec_validate_memory). */
static int spec_validate_console(VmSpecError *error, const VmSpec *s) {
        uint64_t base = s->console.base;
        uint64_t gic_start = VM_GICD_BASE - (uint64_t) s->vcpus * VM_GICR_SIZE_PER_VCPU;
        uint64_t gic_end = VM_GICD_BASE + VM_GICD_SIZE;

        if (!IS_ALIGNED(base, VM_PL011_SIZE))
                return spec_error(error, -EINVAL, "console.base", "must be 4 KiB aligned, got 0x%" PRIx64, base);
        if (base >= VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE ||
            VM_PL011_SIZE > VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE - base)
                return spec_error(error, -EINVAL, "console.base",
                                  "devices outside the [0, 1 GiB) MMIO window are refused: the 4 KiB device at 0x%" PRIx64 " must lie below 0x40000000",
                                  base);
        if (base < gic_end && base + VM_PL011_SIZE > gic_start)
                return spec_error(error, -EINVAL, "console.base",
                                  "the 4 KiB device at 0x%" PRIx64 " overlaps the GIC region [0x%" PRIx64 ", 0x%" PRIx64 ") reserved for %" PRIu32 " vCPUs (GICD at 0x3fff0000, 0x20000 of GICR per vCPU below it)",
                                  base, gic_start, gic_end, s->vcpus);
        if (base < VM_PL061_BASE + VM_PL061_SIZE && base + VM_PL011_SIZE > VM_PL061_BASE)
                return spec_error(error, -EINVAL, "console.base",
                                  "the 4 KiB device at 0x%" PRIx64 " overlaps the power button (PL061) at 0x%" PRIx64,
                                  base, VM_PL061_BASE);
        if (s->console.spi == VM_PL061_SPI)
                return spec_error(error, -EINVAL, "console.spi", "SPI %u is the power button's interrupt; pick another",
                                  VM_PL061_SPI);
        return spec_validate_console_virtio(error, s);
}

/* ---- the document ---- */

typedef struct SpecSource {
        const char *json;
        size_t len;
        const char *base_dir; /* relative file paths are resolved against it */
        unsigned flags;
} SpecSource;

static int spec_parse_document(const SpecSource *src, VmSpecError *error, VmSpec **ret) {
        _cleanup_(vm_spec_freep) VmSpec *s = NULL;
        SpecParser p = { .error = error, .kernel_key = "kernel.path" };
        json_object *doc = NULL;
        int r;

        if (src->len > VM_SPEC_SIZE_MAX)
                return spec_error(error, -E2BIG, "", "the document is %zu bytes, larger than the 1 MiB (%d bytes) a spec may be",
                                  src->len, VM_SPEC_SIZE_MAX);
        r = json_strict_parse_object(src->json, src->len, &doc, error);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                r = -ENOMEM;
        if (r >= 0) {
                fields_set_defaults(spec_fields, ELEMENTSOF(spec_fields), s);
                r = fields_parse(&p, doc, "", spec_fields, ELEMENTSOF(spec_fields), s);
        }
        json_object_put(doc);
        if (r < 0)
                return r;

        r = spec_validate_memory(error, s);
        if (r < 0)
                return r;
        r = spec_validate_swiotlb(error, s);
        if (r < 0)
                return r;
        r = spec_validate_disks(error, s);
        if (r < 0)
                return r;
        r = spec_validate_devices(error, s);
        if (r < 0)
                return r;
        r = spec_validate_console(error, s);
        if (r < 0)
                return r;
        r = vm_spec_resolve_images(s, src->base_dir, src->flags, p.kernel_key, error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int spec_parse_in_dir(const SpecSource *src, VmSpec **ret, VmSpecError *error) {
        VmSpecError scratch;
        int r;

        if (!error)
                error = &scratch;
        *error = (VmSpecError) {};
        if (!src->json)
                return spec_error(error, -EINVAL, "", "no document");
        r = spec_parse_document(src, error, ret);
        if (r == -ENOMEM)
                spec_error(error, r, "", "out of memory");
        return r;
}

int vm_spec_parse(const char *json, size_t len, unsigned flags, VmSpec **ret, VmSpecError *error) {
        _cleanup_free_ char *cwd = get_current_dir_name();

        /* Relative image paths are relative to the current directory. */
        if (!cwd) {
                int r = negative_errno();
                if (error) {
                        *error = (VmSpecError) {};
                        snprintf(error->message, sizeof(error->message),
                                 "cannot determine the current directory: %s", strerror(-r));
                }
                return r;
        }
        return spec_parse_in_dir(&(SpecSource) { json, len, cwd, flags }, ret, error);
}

int vm_spec_load_file(const char *path, unsigned flags, VmSpec **ret, VmSpecError *error) {
        _cleanup_free_ char *cwd = NULL, *abs = NULL, *buf = NULL;
        VmSpecError scratch;
        char *slash;
        size_t size;
        int r;

        if (!error)
                error = &scratch;
        *error = (VmSpecError) {};
        if (!path)
                return -EINVAL;
        if (path[0] == '/')
                abs = strdup(path);
        else {
                cwd = get_current_dir_name();
                if (!cwd)
                        return negative_errno();
                abs = path_concat(cwd, path);
        }
        if (!abs)
                return -ENOMEM;

        r = read_full_file(abs, VM_SPEC_SIZE_MAX, &buf, &size);
        if (r == -EFBIG) {
                snprintf(error->message, sizeof(error->message),
                         "spec file %s is larger than the 1 MiB (%d bytes) a spec may be",
                         QUOTE(path, strlen(path)), VM_SPEC_SIZE_MAX);
                return -E2BIG;
        }
        if (r < 0) {
                snprintf(error->message, sizeof(error->message), "cannot read spec file %s: %s",
                         QUOTE(path, strlen(path)), strerror(-r));
                return r;
        }

        /* Relative image paths are relative to the spec file's directory. */
        slash = strrchr(abs, '/');
        if (slash == abs)
                slash[1] = '\0';
        else
                slash[0] = '\0';
        return spec_parse_in_dir(&(SpecSource) { buf, size, abs, flags }, ret, error);
}

/* ---- serialization ---- */

int vm_spec_to_json(const VmSpec *spec, char **ret) {
        const char *s;
        char *text = NULL;
        json_object *o;
        int r;

        if (!spec || !ret)
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = fields_to_json(spec_fields, ELEMENTSOF(spec_fields), spec, o);
        if (r >= 0) {
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
                text = s ? strdup(s) : NULL;
                r = text ? 0 : -ENOMEM;
        }
        json_object_put(o);
        if (r < 0)
                return r;
        *ret = text;
        return 0;
}
