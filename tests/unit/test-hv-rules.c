/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hv-rules.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

#define LEND_RWX (GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX)
#define SHARE_RWX (GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_RWX)
#define BASE UINT64_C(0x80000000)
#define MiB2 UINT64_C(0x200000)

static const GhRulesGuestMem mem_plain = { .id = 1, .size = 16 * 1024 * 1024 };
static const GhRulesGuestMem mem_huge = { .id = 2, .size = 16 * 1024 * 1024, .flags = GHMF_ALLOW_HUGEPAGE };

static void expect_result(const char *what, int got, int want) {
        if (got != want)
                fail_msg("%s: got %d (%s), want %d (%s)", what, got, got < 0 ? strerror(-got) : "ok", want,
                         want < 0 ? strerror(-want) : "ok");
}

/* ---- CREATE_GUEST_MEM ---- */

static void test_create_guest_mem_rules(void **state) {
        static const struct {
                const char *name;
                uint64_t flags, size;
                uint32_t page_size;
                int expected;
        } cases[] = {
                { "cloexec+hugepage", GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE, 0x2000, 4096, 0 },
                { "no flags", 0, 0x1000, 4096, 0 },
                { "unknown flag 0x4", 0x4, 0x1000, 4096, -EINVAL },
                { "probe flag bit 63", UINT64_C(1) << 63, 0, 4096, -EINVAL },
                { "size not page aligned", 0, 0x1001, 4096, -EINVAL },
                { "4K size on 16K pages", 0, 0x1000, 16384, -EINVAL },
                { "16K size on 16K pages", 0, 0x4000, 16384, 0 },
        };
        for (size_t i = 0; i < N(cases); i++) {
                struct gunyah_create_mem_args a = { .flags = cases[i].flags, .size = cases[i].size };
                expect_result(cases[i].name, gh_rules_create_guest_mem(&a, cases[i].page_size), cases[i].expected);
        }
}

/* ---- MAP_MEM ---- */

/* A VM with one lent binding: guest [BASE, +2M) = mem_plain [0, 2M). */
static void vm_with_binding(GhRulesVm *vm) {
        struct gunyah_map_mem_args a = { .guest_addr = BASE, .flags = LEND_RWX, .offset = 0, .size = MiB2 };

        gh_rules_vm_init(vm, 0);
        expect_result("preset binding", gh_rules_map_mem(vm, &a, &mem_plain), 0);
}

enum { MEM_NONE, MEM_PLAIN, MEM_HUGE };

static void test_map_mem_rules(void **state) {
        static const struct {
                const char *name;
                uint64_t gpa;
                uint32_t flags;
                uint64_t offset, size;
                int mem;
                int expected;
        } cases[] = {
                { "lend rwx", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, 0 },
                { "share r", BASE + 4 * MiB2, GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_READ, 4 * MiB2, 0x1000, MEM_PLAIN, 0 },
                { "default access", BASE + 4 * MiB2, GUNYAH_MEM_ALLOW_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, 0 },
                { "fd is not guest memory", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, 0x1000, MEM_NONE, -EINVAL },
                { "unknown flag 0x8", BASE + 4 * MiB2, LEND_RWX | 0x8, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "unknown flag 0x200", BASE + 4 * MiB2, LEND_RWX | 0x200, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "unknown flag 0x80", BASE + 4 * MiB2, LEND_RWX | 0x80, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "no R/W/X", BASE + 4 * MiB2, GUNYAH_MEM_FORCE_LEND, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "A14 RWX bits", BASE + 4 * MiB2, 0x7, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "access 3", BASE + 4 * MiB2, 0x3 | GUNYAH_MEM_ALLOW_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "access 7", BASE + 4 * MiB2, 0x7 | GUNYAH_MEM_ALLOW_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "gpa unaligned", BASE + 4 * MiB2 + 0x10, LEND_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, -EINVAL },
                { "offset unaligned", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2 + 0x800, 0x1000, MEM_PLAIN, -EINVAL },
                { "size unaligned", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, 0x1800, MEM_PLAIN, -EINVAL },
                { "size 0", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, 0, MEM_PLAIN, -EINVAL },
                { "past end of memory", BASE + 4 * MiB2, LEND_RWX, 7 * MiB2, 2 * MiB2, MEM_PLAIN, -EINVAL },
                { "gpa wraps", UINT64_C(0xfffffffffffff000), LEND_RWX, 4 * MiB2, 0x2000, MEM_PLAIN, -EINVAL },
                { "hugepage needs 2M", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, 0x1000, MEM_HUGE, -EINVAL },
                { "hugepage 2M", BASE + 4 * MiB2, LEND_RWX, 4 * MiB2, MiB2, MEM_HUGE, 0 },
                { "file range bound", BASE + 4 * MiB2, LEND_RWX, 0x100000, 0x1000, MEM_PLAIN, -EEXIST },
                { "gpa overlaps", BASE + 0x100000, LEND_RWX, 4 * MiB2, 0x1000, MEM_PLAIN, -EEXIST },
                { "gpa overlaps on other memory", BASE + 0x1ff000, LEND_RWX, 0, 0x2000, MEM_PLAIN, -EEXIST },
                { "same offset, other memory", BASE + 4 * MiB2, LEND_RWX, 0, MiB2, MEM_HUGE, 0 },
                { "unmap: none there", BASE + 4 * MiB2, LEND_RWX | GUNYAH_MEM_UNMAP, 4 * MiB2, 0x1000, MEM_PLAIN, -ENOENT },
                { "unmap: other flags", BASE, SHARE_RWX | GUNYAH_MEM_UNMAP, 0, MiB2, MEM_PLAIN, -ENOENT },
                { "unmap: other memory", BASE, LEND_RWX | GUNYAH_MEM_UNMAP, 0, MiB2, MEM_HUGE, -ENOENT },
                { "unmap: inconsistent offset", BASE + 0x1000, LEND_RWX | GUNYAH_MEM_UNMAP, 0x2000, 0x1000, MEM_PLAIN, -ENOENT },
                { "unmap: past binding", BASE + 0x1000, LEND_RWX | GUNYAH_MEM_UNMAP, 0x1000, MiB2, MEM_PLAIN, -ENOENT },
                { "unmap: split", BASE + 0x1000, LEND_RWX | GUNYAH_MEM_UNMAP, 0x1000, 0x1000, MEM_PLAIN, -EINVAL },
                { "unmap: no R/W/X", BASE, GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_UNMAP, 0, MiB2, MEM_PLAIN, -EINVAL },
                { "unmap: head", BASE, LEND_RWX | GUNYAH_MEM_UNMAP, 0, 0x1000, MEM_PLAIN, 0 },
                { "unmap: tail", BASE + MiB2 - 0x1000, LEND_RWX | GUNYAH_MEM_UNMAP, MiB2 - 0x1000, 0x1000, MEM_PLAIN, 0 },
                { "unmap: whole", BASE, LEND_RWX | GUNYAH_MEM_UNMAP, 0, MiB2, MEM_PLAIN, 0 },
        };
        for (size_t i = 0; i < N(cases); i++) {
                const GhRulesGuestMem *mem = cases[i].mem == MEM_PLAIN ? &mem_plain
                                             : cases[i].mem == MEM_HUGE ? &mem_huge
                                                                        : NULL;
                struct gunyah_map_mem_args a = {
                        .guest_addr = cases[i].gpa, .flags = cases[i].flags,
                        .offset = cases[i].offset, .size = cases[i].size,
                };
                GhRulesVm vm, before;

                vm_with_binding(&vm);
                memcpy(&before, &vm, sizeof(vm));
                expect_result(cases[i].name, gh_rules_map_mem(&vm, &a, mem), cases[i].expected);
                /* a rejected call leaves the model untouched */
                if (cases[i].expected < 0 && memcmp(&vm, &before, sizeof(vm)) != 0)
                        fail_msg("%s: failed call changed the model", cases[i].name);
        }
}

static void test_unmap_trims_and_removes_bindings(void **state) {
        struct gunyah_map_mem_args head = { .guest_addr = BASE, .flags = LEND_RWX | GUNYAH_MEM_UNMAP, .offset = 0, .size = 0x1000 };
        struct gunyah_map_mem_args rest = { .guest_addr = BASE + 0x1000, .flags = LEND_RWX | GUNYAH_MEM_UNMAP, .offset = 0x1000, .size = MiB2 - 0x1000 };
        GhRulesVm vm;
        vm_with_binding(&vm);
        assert_non_null(gh_rules_find_binding(&vm, BASE));
        assert_int_equal(gh_rules_map_mem(&vm, &head, &mem_plain), 0);
        assert_null(gh_rules_find_binding(&vm, BASE));
        assert_non_null(gh_rules_find_binding(&vm, BASE + 0x1000));
        assert_int_equal(vm.bindings[0].offset, 0x1000);
        /* the same unmap again finds nothing */
        assert_int_equal(gh_rules_map_mem(&vm, &head, &mem_plain), -ENOENT);
        assert_int_equal(gh_rules_map_mem(&vm, &rest, &mem_plain), 0);
        assert_int_equal(vm.n_bindings, 0);
        assert_false(gh_rules_vm_binds_file_range(&vm, mem_plain.id, 0, MiB2));
        /* once unmapped, the range can be bound again */
        head.flags &= ~GUNYAH_MEM_UNMAP;
        assert_int_equal(gh_rules_map_mem(&vm, &head, &mem_plain), 0);
}

static void test_binding_lent_by_access(void **state) {
        GhRulesBinding b = { .flags = GUNYAH_MEM_ALLOW_RWX };
        assert_true(gh_rules_binding_is_lent(&b)); /* DEFAULT means lend */
        b.flags = LEND_RWX;
        assert_true(gh_rules_binding_is_lent(&b));
        b.flags = SHARE_RWX;
        assert_false(gh_rules_binding_is_lent(&b));
}

/* ---- DTB config, boot context ---- */

static void test_dtb_config_overflow(void **state) {
        static const struct {
                const char *name;
                uint64_t gpa, size;
                int expected;
        } cases[] = {
                { "ok", BASE + 0x100000, 0x2000, 0 },
                { "ends at top", UINT64_C(0xfffffffffffff000), 0x1000, -EOVERFLOW },
                { "wraps", UINT64_MAX, 2, -EOVERFLOW },
                { "huge size", 0x1000, UINT64_MAX, -EOVERFLOW },
        };
        for (size_t i = 0; i < N(cases); i++) {
                struct gunyah_vm_dtb_config c = { .guest_phys_addr = cases[i].gpa, .size = cases[i].size };
                GhRulesVm vm;

                gh_rules_vm_init(&vm, 0);
                expect_result(cases[i].name, gh_rules_set_dtb_config(&vm, &c), cases[i].expected);
                assert_int_equal(vm.dtb_set, cases[i].expected == 0);
        }
}

static void test_boot_context_register_rules(void **state) {
        static const struct {
                const char *name;
                uint32_t reg;
                int expected;
        } cases[] = {
                { "X0", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 0), 0 },
                { "X31", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 31), 0 },
                { "X32", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 32), -EINVAL },
                { "PC", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0), 0 },
                { "PC index 1", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 1), -EINVAL },
                { "SP2", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP, 2), 0 },
                { "SP3", GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP, 3), -EINVAL },
                { "set 3", GUNYAH_VM_BOOT_CONTEXT_REG(3, 0), -EINVAL },
                { "probe value", 0xffffffffu, -EINVAL },
                { "bits above 0xffff ignored", 0xabcd0100u, 0 },
        };
        for (size_t i = 0; i < N(cases); i++) {
                struct gunyah_vm_boot_context c = { .reg = cases[i].reg, .value = 0x1234 + i };
                uint64_t v = 0;
                GhRulesVm vm;

                gh_rules_vm_init(&vm, 0);
                expect_result(cases[i].name, gh_rules_set_boot_context(&vm, &c), cases[i].expected);
                expect_result(cases[i].name, gh_rules_get_boot_context(&vm, cases[i].reg, &v),
                              cases[i].expected);
                if (cases[i].expected == 0)
                        assert_int_equal(v, 0x1234 + i);
        }
}

static void test_boot_context_unset_is_enoent(void **state) {
        GhRulesVm vm;
        uint64_t v = 42;
        gh_rules_vm_init(&vm, 0);
        assert_int_equal(gh_rules_get_boot_context(&vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 1), &v),
                         -ENOENT);
        assert_int_equal(v, 42); /* not written on failure */
}

/* ---- functions ---- */

typedef union FnArg {
        struct gunyah_fn_vcpu_arg vcpu;
        struct gunyah_fn_irqfd_arg irqfd;
        struct gunyah_fn_ioeventfd_arg io;
        uint8_t raw[300];
} FnArg;

static int add_fn(GhRulesVm *vm, uint32_t type, uint32_t size, const FnArg *arg) {
        struct gunyah_fn_desc d = { .type = type, .arg_size = size, .arg = (uint64_t) (uintptr_t) arg };
        return gh_rules_add_function(vm, &d, arg);
}

static int remove_fn(GhRulesVm *vm, uint32_t type, uint32_t size, const FnArg *arg) {
        struct gunyah_fn_desc d = { .type = type, .arg_size = size, .arg = (uint64_t) (uintptr_t) arg };
        return gh_rules_remove_function(vm, &d, arg);
}

#define VCPU(i) { .vcpu = { .id = (i) } }
#define IRQFD(l, f) { .irqfd = { .fd = 10, .label = (l), .flags = (f) } }
#define IOEV(a, l, f, d) { .io = { .addr = (a), .len = (l), .flags = (f), .datamatch = (d), .fd = 11 } }
#define DM GUNYAH_IOEVENTFD_FLAGS_DATAMATCH

/* vCPU 0, irqfd label 5, ioeventfd 0x1000/4, ioeventfd 0x2000/4 matching 7 */
static void vm_with_functions(GhRulesVm *vm) {
        const FnArg v = VCPU(0), q = IRQFD(5, 0), e1 = IOEV(0x1000, 4, 0, 0), e2 = IOEV(0x2000, 4, DM, 7);

        gh_rules_vm_init(vm, 0);
        assert_int_equal(add_fn(vm, GUNYAH_FN_VCPU, 4, &v), 0);
        assert_int_equal(add_fn(vm, GUNYAH_FN_IRQFD, 16, &q), 0);
        assert_int_equal(add_fn(vm, GUNYAH_FN_IOEVENTFD, 32, &e1), 0);
        assert_int_equal(add_fn(vm, GUNYAH_FN_IOEVENTFD, 32, &e2), 0);
}

static const struct {
        const char *name;
        uint32_t type, arg_size;
        FnArg arg;
        int expected;
} add_cases[] = {
        { "arg_size 257", GUNYAH_FN_VCPU, 257, VCPU(1), -EINVAL },
        { "unknown type 0", 0, 4, VCPU(1), -ENOENT },
        { "unknown type 4", 4, 4, VCPU(1), -ENOENT },
        { "unknown type, arg_size 300", 99, 300, VCPU(1), -EINVAL },
        { "vcpu arg_size 8", GUNYAH_FN_VCPU, 8, VCPU(1), -EINVAL },
        { "vcpu arg_size 0", GUNYAH_FN_VCPU, 0, VCPU(1), -EINVAL },
        { "vcpu duplicate id", GUNYAH_FN_VCPU, 4, VCPU(0), -EEXIST },
        { "vcpu new id", GUNYAH_FN_VCPU, 4, VCPU(1), 0 },
        { "irqfd arg_size 4", GUNYAH_FN_IRQFD, 4, IRQFD(6, 0), -EINVAL },
        { "irqfd flag 0x2", GUNYAH_FN_IRQFD, 16, IRQFD(6, 0x2), -EINVAL },
        { "irqfd duplicate label", GUNYAH_FN_IRQFD, 16, IRQFD(5, 0), -EEXIST },
        { "irqfd level", GUNYAH_FN_IRQFD, 16, IRQFD(6, GUNYAH_IRQFD_FLAGS_LEVEL), 0 },
        { "ioeventfd arg_size 16", GUNYAH_FN_IOEVENTFD, 16, IOEV(0x3000, 4, 0, 0), -EINVAL },
        { "ioeventfd flag 0x2", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x3000, 4, 0x2, 0), -EINVAL },
        { "ioeventfd len 3", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x3000, 3, 0, 0), -EINVAL },
        { "ioeventfd len 16", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x3000, 16, 0, 0), -EINVAL },
        { "ioeventfd overflow", GUNYAH_FN_IOEVENTFD, 32, IOEV(UINT64_MAX - 1, 4, 0, 0), -EINVAL },
        { "ioeventfd datamatch len 0", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x3000, 0, DM, 1), -EINVAL },
        { "ioeventfd overlap", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x1002, 2, 0, 0), -EEXIST },
        { "ioeventfd overlap from below", GUNYAH_FN_IOEVENTFD, 32, IOEV(0xffc, 8, 0, 0), -EEXIST },
        { "ioeventfd same datamatch", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x2000, 4, DM, 7), -EEXIST },
        { "ioeventfd no datamatch over datamatch", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x2000, 4, 0, 0), -EEXIST },
        { "ioeventfd other datamatch", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x2000, 4, DM, 8), 0 },
        { "ioeventfd len 0", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x3000, 0, 0, 0), 0 },
        { "ioeventfd len 8 adjacent", GUNYAH_FN_IOEVENTFD, 32, IOEV(0xff8, 8, 0, 0), 0 },
};

static void test_add_function_rules(void **state) {
        for (size_t i = 0; i < N(add_cases); i++) {
                GhRulesVm vm, before;

                vm_with_functions(&vm);
                memcpy(&before, &vm, sizeof(vm));
                expect_result(add_cases[i].name, add_fn(&vm, add_cases[i].type, add_cases[i].arg_size, &add_cases[i].arg),
                              add_cases[i].expected);
                if (add_cases[i].expected < 0 && memcmp(&vm, &before, sizeof(vm)) != 0)
                        fail_msg("%s: failed call changed the model", add_cases[i].name);
                if (add_cases[i].expected == 0 && memcmp(&vm, &before, sizeof(vm)) == 0)
                        fail_msg("%s: successful call recorded nothing", add_cases[i].name);
        }
}

/* The stateless half, as callers that look up the eventfd in between use
 * it: every argument error of add, never a table error. */
static void test_check_function_is_add_without_the_tables(void **state) {
        for (size_t i = 0; i < N(add_cases); i++) {
                struct gunyah_fn_desc d = { .type = add_cases[i].type, .arg_size = add_cases[i].arg_size,
                                            .arg = (uint64_t) (uintptr_t) &add_cases[i].arg };
                int want = add_cases[i].expected == -EEXIST ? 0 : add_cases[i].expected;
                int r = gh_rules_check_function(&d, &add_cases[i].arg);

                expect_result(add_cases[i].name, r < 0 ? r : 0, want);
                if (r >= 0)
                        assert_int_equal(r, (int) add_cases[i].type);
        }
}

static const struct {
        const char *name;
        uint32_t type, arg_size;
        FnArg arg;
        int expected;
} remove_cases[] = {
        { "vcpu not added", GUNYAH_FN_VCPU, 4, VCPU(1), -ENOENT },
        { "vcpu", GUNYAH_FN_VCPU, 4, VCPU(0), 0 },
        { "vcpu arg_size 8", GUNYAH_FN_VCPU, 8, VCPU(0), -EINVAL },
        { "irqfd unknown label", GUNYAH_FN_IRQFD, 16, IRQFD(9, 0), -ENOENT },
        { "irqfd by label", GUNYAH_FN_IRQFD, 16, IRQFD(5, 0), 0 },
        { "ioeventfd", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x1000, 4, 0, 0), 0 },
        { "ioeventfd other len", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x1000, 2, 0, 0), -ENOENT },
        { "ioeventfd other datamatch", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x2000, 4, DM, 8), -ENOENT },
        { "ioeventfd datamatch", GUNYAH_FN_IOEVENTFD, 32, IOEV(0x2000, 4, DM, 7), 0 },
        { "unknown type", 7, 4, VCPU(0), -ENOENT },
};

static void test_remove_function_rules(void **state) {
        for (size_t i = 0; i < N(remove_cases); i++) {
                GhRulesVm vm;

                vm_with_functions(&vm);
                expect_result(remove_cases[i].name,
                              remove_fn(&vm, remove_cases[i].type, remove_cases[i].arg_size, &remove_cases[i].arg),
                              remove_cases[i].expected);
                /* removing what was removed finds nothing */
                if (remove_cases[i].expected == 0)
                        expect_result(remove_cases[i].name,
                                      remove_fn(&vm, remove_cases[i].type, remove_cases[i].arg_size, &remove_cases[i].arg),
                                      -ENOENT);
        }
}

/* ---- START, RUN ---- */

static bool mapped_never(void *userdata, uint64_t id, uint64_t off, uint64_t size) {
        return false;
}

static bool mapped_always(void *userdata, uint64_t id, uint64_t off, uint64_t size) {
        if (userdata)
                ++*(int *) userdata;
        return true;
}

enum { DTB_NONE, DTB_INSIDE, DTB_OUTSIDE, DTB_STRADDLES, DTB_IN_SHARED };

static void test_start_rules(void **state) {
        static const struct {
                const char *name;
                int dtb;
                bool host_mapped;
                int expected;
        } cases[] = {
                { "ok", DTB_INSIDE, false, 0 },
                { "no dtb config", DTB_NONE, false, -EINVAL },
                /* the v17 driver finds no binding: ENOENT (seen on real Gunyah) */
                { "dtb outside bindings", DTB_OUTSIDE, false, -ENOENT },
                { "dtb past end of binding", DTB_STRADDLES, false, -EINVAL },
                { "dtb in shared binding", DTB_IN_SHARED, false, -EINVAL },
                /* the driver's EPERM when the lend fails (seen on real Gunyah) */
                { "lent range mapped in host", DTB_INSIDE, true, -EPERM },
        };
        for (size_t i = 0; i < N(cases); i++) {
                struct gunyah_map_mem_args shared = { .guest_addr = BASE + 4 * MiB2, .flags = SHARE_RWX, .offset = 4 * MiB2, .size = MiB2 };
                struct gunyah_vm_dtb_config dtb = { .size = 0x2000 };
                GhRulesVm vm;
                int r;

                vm_with_binding(&vm);
                assert_int_equal(gh_rules_map_mem(&vm, &shared, &mem_plain), 0);
                switch (cases[i].dtb) {
                case DTB_INSIDE: dtb.guest_phys_addr = BASE + 0x100000; break;
                case DTB_OUTSIDE: dtb.guest_phys_addr = BASE + 2 * MiB2; break;
                case DTB_STRADDLES: dtb.guest_phys_addr = BASE + MiB2 - 0x1000; break;
                case DTB_IN_SHARED: dtb.guest_phys_addr = BASE + 4 * MiB2; break;
                }
                if (cases[i].dtb != DTB_NONE)
                        assert_int_equal(gh_rules_set_dtb_config(&vm, &dtb), 0);

                r = gh_rules_start(&vm, cases[i].host_mapped ? mapped_always : mapped_never, NULL);
                expect_result(cases[i].name, r, cases[i].expected);
                assert_int_equal(vm.state, r == 0 ? GH_RULES_VM_RUNNING : GH_RULES_VM_FAILED);
                /* second START: 0 when running, ENODEV after a failure */
                expect_result(cases[i].name, gh_rules_start(&vm, mapped_never, NULL), r == 0 ? 0 : -ENODEV);
        }
}

static void test_start_asks_only_about_lent_ranges(void **state) {
        struct gunyah_map_mem_args shared = { .guest_addr = BASE + 4 * MiB2, .flags = SHARE_RWX, .offset = 4 * MiB2, .size = MiB2 };
        struct gunyah_vm_dtb_config dtb = { .guest_phys_addr = BASE, .size = 0x1000 };
        GhRulesVm vm;
        int calls = 0;
        vm_with_binding(&vm);
        assert_int_equal(gh_rules_map_mem(&vm, &shared, &mem_plain), 0);
        assert_int_equal(gh_rules_set_dtb_config(&vm, &dtb), 0);
        assert_int_equal(gh_rules_start(&vm, mapped_always, &calls), -EPERM);
        assert_int_equal(calls, 1); /* the shared binding is not asked about */
}

static void test_boot_context_after_start_is_einval(void **state) {
        struct gunyah_vm_dtb_config dtb = { .guest_phys_addr = BASE, .size = 0x1000 };
        struct gunyah_vm_boot_context pc = { .reg = GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0), .value = BASE };
        GhRulesVm vm;
        vm_with_binding(&vm);
        assert_int_equal(gh_rules_set_dtb_config(&vm, &dtb), 0);
        assert_int_equal(gh_rules_set_boot_context(&vm, &pc), 0);
        assert_int_equal(gh_rules_start(&vm, NULL, NULL), 0);
        assert_int_equal(gh_rules_set_boot_context(&vm, &pc), -EINVAL);
}

static void test_vcpu_run_rules(void **state) {
        struct gunyah_vm_dtb_config dtb = { .guest_phys_addr = BASE, .size = 0x1000 };
        const FnArg v0 = VCPU(0), v1 = VCPU(1);
        GhRulesVm vm;
        vm_with_binding(&vm);
        assert_int_equal(add_fn(&vm, GUNYAH_FN_VCPU, 4, &v0), 0);
        assert_int_equal(gh_rules_vcpu_run(&vm, 0), -ENODEV); /* before START */
        assert_int_equal(gh_rules_set_dtb_config(&vm, &dtb), 0);
        assert_int_equal(gh_rules_start(&vm, NULL, NULL), 0);
        assert_int_equal(gh_rules_vcpu_run(&vm, 0), 0);
        assert_int_equal(gh_rules_vcpu_run(&vm, 1), -ENODEV); /* never added */
        /* U17 binds vCPUs added after START */
        assert_int_equal(add_fn(&vm, GUNYAH_FN_VCPU, 4, &v1), 0);
        assert_int_equal(gh_rules_vcpu_run(&vm, 1), 0);
        assert_int_equal(remove_fn(&vm, GUNYAH_FN_VCPU, 4, &v0), 0);
        assert_int_equal(gh_rules_vcpu_run(&vm, 0), -ENODEV); /* removed */
}

static void test_vcpu_run_after_failed_start(void **state) {
        const FnArg v0 = VCPU(0);
        GhRulesVm vm;
        gh_rules_vm_init(&vm, 0);
        assert_int_equal(add_fn(&vm, GUNYAH_FN_VCPU, 4, &v0), 0);
        assert_int_equal(gh_rules_start(&vm, NULL, NULL), -EINVAL);
        assert_int_equal(gh_rules_vcpu_run(&vm, 0), -ENODEV);
}

static void test_vm_state_strings(void **state) {
        for (int s = 0; s < _GH_RULES_VM_STATE_MAX; s++)
                assert_int_equal(gh_rules_vm_state_from_string(gh_rules_vm_state_to_string(s)), s);
        assert_string_equal(gh_rules_vm_state_to_string(GH_RULES_VM_FAILED), "failed");
        assert_null(gh_rules_vm_state_to_string(_GH_RULES_VM_STATE_MAX));
        assert_int_equal(gh_rules_vm_state_from_string("bogus"), _GH_RULES_VM_STATE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_guest_mem_rules),
                cmocka_unit_test(test_map_mem_rules),
                cmocka_unit_test(test_unmap_trims_and_removes_bindings),
                cmocka_unit_test(test_binding_lent_by_access),
                cmocka_unit_test(test_dtb_config_overflow),
                cmocka_unit_test(test_boot_context_register_rules),
                cmocka_unit_test(test_boot_context_unset_is_enoent),
                cmocka_unit_test(test_add_function_rules),
                cmocka_unit_test(test_check_function_is_add_without_the_tables),
                cmocka_unit_test(test_remove_function_rules),
                cmocka_unit_test(test_start_rules),
                cmocka_unit_test(test_start_asks_only_about_lent_ranges),
                cmocka_unit_test(test_boot_context_after_start_is_einval),
                cmocka_unit_test(test_vcpu_run_rules),
                cmocka_unit_test(test_vcpu_run_after_failed_start),
                cmocka_unit_test(test_vm_state_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
