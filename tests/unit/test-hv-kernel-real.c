/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel backend where it follows, or guards against, what the real
 * v17 driver did on a real Gunyah stack (docs/real-gunyah.md): hugepage
 * guest memory with its fallback, the arguments the driver wrongly
 * accepts refused before the ioctl, the irqfd eventfd check, and what a
 * START errno means.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-gunyah.h"
#include "hv.h"

#define MiB UINT64_C(0x100000)
#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE (4 * MiB)

typedef struct Fixture {
        HvBackend *backend;
        HvVm *vm;
        int mem_fd;
} Fixture;

static int setup(void **state) {
        static Fixture f;

        f = (Fixture) { .mem_fd = -1 };
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &f.backend), 0);
        assert_int_equal(hv_kernel_ops.vm_create(f.backend, &f.vm), 0);
        *state = &f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        hv_kernel_ops.vm_destroy(f->vm);
        hv_kernel_ops.close(f->backend);
        if (f->mem_fd >= 0)
                close(f->mem_fd);
        fake_gunyah_teardown();
        return 0;
}

/* The n-th CREATE_GUEST_MEM of the test, after the ABI probe's. */
static const FakeGunyahCall *guest_mem_call(size_t n) {
        return fake_gunyah_find_call(GUNYAH_CREATE_GUEST_MEM, n + 1);
}

static uint64_t guest_mem_flags_of_call(size_t n) {
        const FakeGunyahCall *c = guest_mem_call(n);
        struct gunyah_create_mem_args a;

        assert_non_null(c);
        memcpy(&a, c->arg, sizeof(a));
        return a.flags;
}

/* ---- hugepage guest memory ---- */

static void test_guest_mem_is_hugepage_where_size_allows(void **state) {
        Fixture *f = *state;
        int small_fd;

        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &f->mem_fd), 0);
        assert_int_equal(guest_mem_flags_of_call(0), GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE);
        /* hugepage memory binds in 2 MiB units only: not asked for below that */
        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, MiB, &small_fd), 0);
        assert_int_equal(guest_mem_flags_of_call(1), GHMF_CLOEXEC);
        assert_null(guest_mem_call(2));
        close(small_fd);
        assert_int_equal(hv_guest_mem_flags(6 * MiB), GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE);
        assert_int_equal(hv_guest_mem_flags(3 * MiB), GHMF_CLOEXEC);
        assert_int_equal(hv_guest_mem_flags(0), GHMF_CLOEXEC);
}

static void test_guest_mem_falls_back_when_hugepage_refused(void **state) {
        Fixture *f = *state;
        HvMemBinding ram;
        int again;

        fake_gunyah_refuse_guest_mem_flags(GHMF_ALLOW_HUGEPAGE);
        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &f->mem_fd), 0);
        assert_int_equal(guest_mem_call(0)->result, -EINVAL);
        assert_int_equal(guest_mem_flags_of_call(0), GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE);
        assert_int_equal(guest_mem_flags_of_call(1), GHMF_CLOEXEC);
        assert_int_equal(guest_mem_call(1)->result, f->mem_fd);
        assert_null(guest_mem_call(2));
        /* the backend remembers: the next guest memory is asked for without */
        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &again), 0);
        assert_int_equal(guest_mem_flags_of_call(2), GHMF_CLOEXEC);
        assert_null(guest_mem_call(3));
        close(again);

        /* the 4 KiB memory is usable: a 4 KiB aligned binding is accepted */
        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .offset = 0x1000, .size = 0x1000,
                               .guest_mem_fd = f->mem_fd, .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
        assert_int_equal(hv_kernel_ops.map_mem(f->vm, &ram), 0);
}

static void test_guest_mem_other_errors_do_not_fall_back(void **state) {
        Fixture *f = *state;

        fake_gunyah_force_errno_n(GUNYAH_CREATE_GUEST_MEM, ENOMEM, 1);
        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &f->mem_fd), -ENOMEM);
        assert_null(guest_mem_call(1));
        f->mem_fd = -1;
}

/* ---- what the driver accepts wrongly is refused before the ioctl ---- */

static void test_map_mem_driver_bugs_refused_before_ioctl(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *name;
                uint64_t guest_addr, offset, size;
        } cases[] = {
                { "past the end of the guest memory", RAM_BASE, 2 * MiB, 4 * MiB },
                { "file range wrapping", RAM_BASE, UINT64_MAX - MiB + 1, 2 * MiB },
                { "guest range wrapping", UINT64_MAX - MiB + 1, 0, 2 * MiB },
        };

        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &f->mem_fd), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                HvMemBinding b = { .guest_addr = cases[i].guest_addr, .offset = cases[i].offset,
                                   .size = cases[i].size, .guest_mem_fd = f->mem_fd,
                                   .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
                int r = hv_kernel_ops.map_mem(f->vm, &b);

                if (r != -EINVAL)
                        fail_msg("%s: got %d, want -EINVAL", cases[i].name, r);
                /* only the ABI probe's MAP_MEM reached the device */
                if (fake_gunyah_find_call(GUNYAH_VM_MAP_MEM, 1))
                        fail_msg("%s: MAP_MEM reached the driver", cases[i].name);
        }
}

static void test_dtb_config_wrap_refused_before_ioctl(void **state) {
        Fixture *f = *state;

        assert_int_equal(hv_kernel_ops.set_dtb_config(f->vm, UINT64_MAX - 0xfff, 0x2000), -EOVERFLOW);
        assert_null(fake_gunyah_find_call(GUNYAH_VM_SET_DTB_CONFIG, 0));
        assert_int_equal(hv_kernel_ops.set_dtb_config(f->vm, RAM_BASE, 0x2000), 0);
        assert_non_null(fake_gunyah_find_call(GUNYAH_VM_SET_DTB_CONFIG, 0));
}

/* ---- the driver's answers the fake now gives too ---- */

static void test_irqfd_needs_an_eventfd(void **state) {
        Fixture *f = *state;
        int efd = eventfd(0, EFD_CLOEXEC), p[2];

        assert_true(efd >= 0);
        assert_int_equal(pipe(p), 0);
        assert_int_equal(hv_kernel_ops.add_irqfd(f->vm, p[0], 5, GUNYAH_IRQFD_FLAGS_LEVEL), -EINVAL);
        assert_int_equal(fake_gunyah_find_call(GUNYAH_VM_ADD_FUNCTION, 0)->result, -EINVAL);
        assert_int_equal(hv_kernel_ops.add_irqfd(f->vm, 999, 5, GUNYAH_IRQFD_FLAGS_LEVEL), -EBADF);
        assert_int_equal(hv_kernel_ops.add_irqfd(f->vm, efd, 5, GUNYAH_IRQFD_FLAGS_LEVEL), 0);
        assert_int_equal(fake_gunyah_vm_rules(1)->n_irqfds, 1);
        close(p[0]);
        close(p[1]);
        close(efd);
}

/* ---- ioeventfd and function removal ---- */

#define NOTIFY UINT64_C(0x0a000050)

static size_t n_calls_of(uint32_t request) {
        size_t n = 0;

        while (fake_gunyah_find_call(request, n))
                n++;
        return n;
}

static void test_ioeventfd_args_refused_before_ioctl(void **state) {
        static const struct {
                const char *name;
                int fd; /* 0: the eventfd, 1: a pipe, 2: no fd */
                uint64_t addr;
                uint32_t len, flags;
                int error;
        } cases[] = {
                { "len 3", 0, NOTIFY, 3, 0, -EINVAL },
                { "len 16", 0, NOTIFY, 16, 0, -EINVAL },
                { "unknown flag", 0, NOTIFY, 4, 0x2, -EINVAL },
                { "datamatch without len", 0, NOTIFY, 0, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, -EINVAL },
                { "range wraps (the driver takes it)", 0, UINT64_MAX - 1, 4, 0, -EINVAL },
                { "not an eventfd", 1, NOTIFY, 4, 0, -EINVAL },
                { "no fd", 2, NOTIFY, 4, 0, -EBADF },
        };
        Fixture *f = *state;
        int efd = eventfd(0, EFD_CLOEXEC), p[2];

        assert_true(efd >= 0);
        assert_int_equal(pipe(p), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int fd = cases[i].fd == 0 ? efd : cases[i].fd == 1 ? p[0] : 999;
                int r = hv_kernel_ops.add_ioeventfd(f->vm, fd, cases[i].addr, cases[i].len, cases[i].flags, 0);

                if (r != cases[i].error)
                        fail_msg("%s: %d, want %d", cases[i].name, r, cases[i].error);
        }
        assert_null(fake_gunyah_find_call(GUNYAH_VM_ADD_FUNCTION, 0));
        close(p[0]);
        close(p[1]);
        close(efd);
}

static void test_ioeventfd_add_remove(void **state) {
        struct gunyah_fn_ioeventfd_arg want, got;
        struct gunyah_fn_desc d;
        Fixture *f = *state;
        int efd = eventfd(0, EFD_CLOEXEC);

        assert_true(efd >= 0);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), 0);
        want = (struct gunyah_fn_ioeventfd_arg) { .addr = NOTIFY, .len = 4, .fd = efd };
        memcpy(&d, fake_gunyah_find_call(GUNYAH_VM_ADD_FUNCTION, 0)->arg, sizeof(d));
        assert_int_equal(d.type, GH_FN_IOEVENTFD);
        assert_int_equal(d.arg_size, 32);
        memcpy(&got, fake_gunyah_find_call(GUNYAH_VM_ADD_FUNCTION, 0)->fn_arg, sizeof(got));
        assert_memory_equal(&got, &want, sizeof(want));
        assert_int_equal(fake_gunyah_vm_rules(1)->n_ioeventfds, 1);

        /* a second handler on the address, and one overlapping it from another
         * address (the driver would take that one), never reach the driver */
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), -EEXIST);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 0, 0, 0), -EEXIST);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY - 2, 4, 0, 0), -EEXIST);
        assert_int_equal(n_calls_of(GUNYAH_VM_ADD_FUNCTION), 1);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY + 4, 4, 0, 0), 0);

        /* removal sends the bytes that were added, and frees the address */
        assert_int_equal(hv_kernel_ops.remove_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), 0);
        assert_memory_equal(fake_gunyah_find_call(GUNYAH_VM_REMOVE_FUNCTION, 0)->fn_arg, &want, sizeof(want));
        assert_int_equal(hv_kernel_ops.remove_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), -ENOENT);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 2, 0, 0), 0);
        assert_int_equal(fake_gunyah_vm_rules(1)->n_ioeventfds, 2);
        close(efd);
}

static void test_ioeventfd_refused_by_driver_is_forgotten(void **state) {
        Fixture *f = *state;
        int efd = eventfd(0, EFD_CLOEXEC);

        assert_true(efd >= 0);
        fake_gunyah_force_errno_n(GUNYAH_VM_ADD_FUNCTION, ENOMEM, 1);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), -ENOMEM);
        /* the backend's table did not keep it: the retry reaches the driver */
        assert_int_equal(hv_kernel_ops.add_ioeventfd(f->vm, efd, NOTIFY, 4, 0, 0), 0);
        assert_int_equal(n_calls_of(GUNYAH_VM_ADD_FUNCTION), 2);
        close(efd);
}

static void test_remove_irqfd(void **state) {
        struct gunyah_fn_irqfd_arg want;
        Fixture *f = *state;
        int efd = eventfd(0, EFD_CLOEXEC);

        assert_true(efd >= 0);
        assert_int_equal(hv_kernel_ops.add_irqfd(f->vm, efd, 5, 0), 0);
        assert_int_equal(hv_kernel_ops.remove_irqfd(f->vm, efd, 5, 0), 0);
        want = (struct gunyah_fn_irqfd_arg) { .fd = (uint32_t) efd, .label = 5 };
        assert_memory_equal(fake_gunyah_find_call(GUNYAH_VM_REMOVE_FUNCTION, 0)->fn_arg, &want, sizeof(want));
        assert_int_equal(fake_gunyah_vm_rules(1)->n_irqfds, 0);
        assert_int_equal(hv_kernel_ops.remove_irqfd(f->vm, efd, 5, 0), -ENOENT);
        assert_int_equal(hv_kernel_ops.add_irqfd(f->vm, efd, 5, 0), 0); /* the label is free again */
        close(efd);
}

static void test_start_with_dtb_outside_memory_is_enoent(void **state) {
        Fixture *f = *state;
        HvMemBinding ram;

        assert_int_equal(hv_kernel_ops.guest_mem_create(f->vm, RAM_SIZE, &f->mem_fd), 0);
        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .size = RAM_SIZE, .guest_mem_fd = f->mem_fd,
                               .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
        assert_int_equal(hv_kernel_ops.map_mem(f->vm, &ram), 0);
        assert_int_equal(hv_kernel_ops.set_dtb_config(f->vm, RAM_BASE + RAM_SIZE, 0x2000), 0);
        assert_int_equal(hv_kernel_ops.start(f->vm), -ENOENT);
}

/* ---- what a START errno means ---- */

static void test_start_error_meanings(void **state) {
        static const struct {
                int error;
                const char *contains;
        } cases[] = {
                { EOPNOTSUPP, "Resource Manager calls this hypervisor build lacks" },
                { EPERM, "Resource Manager denied the VM" },
                { ENOMEM, "parcels" },
                { -EPERM, "denied" }, /* either sign */
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *m = hv_start_error_meaning(cases[i].error);

                assert_non_null(m);
                if (!strstr(m, cases[i].contains))
                        fail_msg("errno %d: \"%s\" does not say \"%s\"", cases[i].error, m, cases[i].contains);
                assert_null(strchr(m, '\n'));
        }
        assert_null(hv_start_error_meaning(EIO));
        assert_null(hv_start_error_meaning(0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_guest_mem_is_hugepage_where_size_allows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guest_mem_falls_back_when_hugepage_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guest_mem_other_errors_do_not_fall_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_map_mem_driver_bugs_refused_before_ioctl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dtb_config_wrap_refused_before_ioctl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_irqfd_needs_an_eventfd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ioeventfd_args_refused_before_ioctl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ioeventfd_add_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ioeventfd_refused_by_driver_is_forgotten, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_irqfd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_with_dtb_outside_memory_is_enoent, setup, teardown),
                cmocka_unit_test(test_start_error_meanings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
