/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "abi-probe.h"
#include "hv-ioctl.h"
#include "macro.h"
#include "string-table.h"

static const char *const abi_kind_names[_ABI_KIND_MAX] = {
        [ABI_KIND_U17] = "U17",
        [ABI_KIND_A14] = "A14",
        [ABI_KIND_A15] = "A15",
        [ABI_KIND_VENDOR] = "vendor-0xB2",
        [ABI_KIND_NO_DEVICE] = "no-device",
        [ABI_KIND_UNKNOWN] = "unknown",
};

DEFINE_STRING_TABLE_TO_STRING(abi_kind, AbiKind, abi_kind_names)

AbiKind abi_kind_from_string(const char *s) {
        if (!s)
                return _ABI_KIND_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(abi_kind_names); i++)
                if (streq(abi_kind_names[i], s))
                        return (AbiKind) i;
        return _ABI_KIND_INVALID;
}

/* What one probe ioctl told us: the ioctl is implemented (it rejected our
 * deliberately invalid argument), it is not (ENOTTY), or something the
 * spec does not describe. */
typedef enum Answer {
        ANSWER_NO,
        ANSWER_YES,
        ANSWER_ODD,
        ANSWER_ANY = -1, /* table wildcard */
} Answer;

enum { PROBE_GMEM, PROBE_TENTATIVE, PROBE_BOOT_CONTEXT, PROBE_USER_MEM, PROBE_MAP_MEM, _PROBE_MAX };

static const char *const probe_names[_PROBE_MAX] = {
        [PROBE_GMEM] = "CREATE_GUEST_MEM",
        [PROBE_TENTATIVE] = "ANDROID_TENTATIVE_UAPI",
        [PROBE_BOOT_CONTEXT] = "SET_BOOT_CONTEXT",
        [PROBE_USER_MEM] = "SET_USER_MEM_REGION",
        [PROBE_MAP_MEM] = "MAP_MEM",
};

/* The generations by their answers (spec §8). */
static const struct {
        Answer answers[_PROBE_MAX];
        AbiKind kind;
        const char *description;
} generations[] = {
        { { ANSWER_YES, ANSWER_NO, ANSWER_YES, ANSWER_NO, ANSWER_YES }, ABI_KIND_U17,
          "U17 (LKML v15-v17, guest_memfd)" },
        { { ANSWER_NO, ANSWER_ANY, ANSWER_NO, ANSWER_YES, ANSWER_NO }, ABI_KIND_A14,
          "A14 (android14-6.1, user memory regions)" },
        { { ANSWER_NO, ANSWER_NO, ANSWER_YES, ANSWER_YES, ANSWER_NO }, ABI_KIND_A15,
          "A15 (android15-6.6), not supported yet: it requires the VM-creating process to run the vCPUs" },
};

static Answer classify(int probe, int r) {
        if (r == -ENOTTY)
                return ANSWER_NO;
        switch (probe) {
        case PROBE_TENTATIVE:
                return r == 0 ? ANSWER_YES : ANSWER_ODD;
        case PROBE_USER_MEM:
                /* A14 without the mem-extent feature answers EOPNOTSUPP */
                return r == -EINVAL || r == -EOPNOTSUPP ? ANSWER_YES : ANSWER_ODD;
        default:
                return r == -EINVAL ? ANSWER_YES : ANSWER_ODD;
        }
}

static const char *result_name(int r) {
        if (r >= 0)
                return "success";
        return strerrorname_np(-r) ?: "unknown-errno";
}

/* Asks each question with an argument every generation must reject. */
static int probe_vm_ioctls(int dev_fd, int results[static _PROBE_MAX]) {
        _cleanup_close_ int vm_fd = -EBADF;
        struct gunyah_create_mem_args gmem = { .flags = UINT64_C(1) << 63, .size = 0 };
        struct gunyah_vm_boot_context ctx = { .reg = 0xffffffffu };
        struct gunyah_userspace_memory_region umr = { .memory_size = 0, .flags = GH_MEM_ALLOW_READ };
        struct gunyah_map_mem_args map = { .guest_mem_fd = UINT32_MAX, .flags = GUNYAH_MEM_ALLOW_READ };

        results[PROBE_GMEM] = gh_ioctl_create_guest_mem(dev_fd, &gmem);
        if (results[PROBE_GMEM] >= 0)
                (void) safe_close(results[PROBE_GMEM]);
        results[PROBE_TENTATIVE] = gh_ioctl_android_tentative_uapi(dev_fd);

        vm_fd = gh_ioctl_create_vm(dev_fd);
        if (vm_fd < 0)
                return vm_fd;
        results[PROBE_BOOT_CONTEXT] = gh_ioctl_set_boot_context(vm_fd, &ctx);
        results[PROBE_USER_MEM] = gh_ioctl_set_user_mem_region(vm_fd, &umr);
        results[PROBE_MAP_MEM] = gh_ioctl_map_mem(vm_fd, &map);
        return 0;
}

static bool answers_match(const Answer *want, const Answer *got) {
        for (int i = 0; i < _PROBE_MAX; i++)
                if (want[i] != ANSWER_ANY && want[i] != got[i])
                        return false;
        return true;
}

static void set_verdict(AbiProbe *p, AbiKind kind, const char *fmt, ...) _printf_(3, 4);
static void set_verdict(AbiProbe *p, AbiKind kind, const char *fmt, ...) {
        va_list ap;

        p->kind = kind;
        p->abi = kind == ABI_KIND_U17 ? HV_ABI_U17 : kind == ABI_KIND_A14 ? HV_ABI_A14 : _HV_ABI_INVALID;
        va_start(ap, fmt);
        (void) vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
        va_end(ap);
}

static void classify_answers(AbiProbe *p, const char *path, const int results[static _PROBE_MAX]) {
        Answer got[_PROBE_MAX];
        char seen[200];
        size_t n = 0;

        for (int i = 0; i < _PROBE_MAX; i++) {
                got[i] = classify(i, results[i]);
                n += (size_t) snprintf(seen + n, n < sizeof(seen) ? sizeof(seen) - n : 0, "%s%s=%s",
                                       i ? " " : "", probe_names[i], result_name(results[i]));
        }
        for (size_t g = 0; g < ELEMENTSOF(generations); g++)
                if (answers_match(generations[g].answers, got)) {
                        set_verdict(p, generations[g].kind, "%s: %s", path, generations[g].description);
                        return;
                }
        set_verdict(p, ABI_KIND_UNKNOWN, "%s: unknown or contradictory Gunyah ABI (%s)", path, seen);
}

int abi_probe(const char *path, AbiProbe *ret) {
        _cleanup_close_ int fd = -EBADF;
        AbiProbe p = { .abi = _HV_ABI_INVALID };
        int results[_PROBE_MAX] = {};
        int r, vendor;

        path = path ?: ABI_PROBE_DEFAULT_PATH;

        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                p.open_error = negative_errno();
                set_verdict(&p, ABI_KIND_NO_DEVICE, "cannot open %s: %s (no Gunyah driver with a /dev/gunyah ABI)",
                            path, strerror(-p.open_error));
                *ret = p;
                return 0;
        }

        /* The vendor ABI creates VMs with _IO(0xB2, 1) and has no 'G' ioctls. */
        vendor = gh_ioctl_vendor_create_vm(fd);
        if (vendor >= 0) {
                (void) safe_close(vendor);
                r = gh_ioctl_create_vm(fd);
                if (r >= 0) {
                        (void) safe_close(r);
                        set_verdict(&p, ABI_KIND_UNKNOWN,
                                    "%s: contradictory answers: both the vendor 0xB2 and the 'G' CREATE_VM succeed", path);
                } else
                        set_verdict(&p, ABI_KIND_VENDOR,
                                    "%s: Qualcomm vendor 0xB2 ABI, which only launches pre-signed VM images", path);
                *ret = p;
                return 0;
        }

        r = probe_vm_ioctls(fd, results);
        if (r < 0)
                set_verdict(&p, ABI_KIND_UNKNOWN, "%s: CREATE_VM failed: %s", path, strerror(-r));
        else
                classify_answers(&p, path, results);
        *ret = p;
        return 0;
}

int abi_probe_to_errno(const AbiProbe *p) {
        switch (p->kind) {
        case ABI_KIND_U17:
        case ABI_KIND_A14:
                return 0;
        case ABI_KIND_NO_DEVICE:
                return p->open_error < 0 ? p->open_error : -ENOENT;
        default:
                return -EOPNOTSUPP;
        }
}
