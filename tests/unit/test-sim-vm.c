/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's daemon half alone, linked as gunyahd links it (sim_vm_dep,
 * no emulator): a VM is created, given memory and a vCPU, exported and
 * started without unicorn, and the vCPU entries, present for the daemon to
 * read, refuse to run anything.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv.h"
#include "macro.h"

#define GPA UINT64_C(0x80000000)
#define MEM_SIZE (UINT64_C(1) << 20)

/* A VM with 1 MiB of lent memory, a DTB in it and vCPU 0, not started. */
static HvVm *vm_with_a_vcpu(const HvBackendOps *ops, HvBackend **ret_backend, int *ret_mem) {
        HvMemBinding b = { .guest_addr = GPA, .size = MEM_SIZE, .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
        HvVm *vm;

        assert_int_equal(ops->open(NULL, ret_backend), 0);
        assert_int_equal(ops->vm_create(*ret_backend, &vm), 0);
        assert_int_equal(ops->guest_mem_create(vm, MEM_SIZE, ret_mem), 0);
        b.guest_mem_fd = *ret_mem;
        assert_int_equal(ops->map_mem(vm, &b), 0);
        assert_int_equal(ops->set_dtb_config(vm, GPA, 4096), 0);
        assert_int_equal(ops->add_vcpu(vm, 0), 0);
        return vm;
}

static void test_vm_half_creates_exports_and_starts(void **state) {
        const HvBackendOps *ops = hv_backend_lookup("sim");
        int fds[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds);
        HvBackend *backend;
        HvVm *vm;
        int mem;

        assert_ptr_equal(ops, &hv_sim_ops);
        vm = vm_with_a_vcpu(ops, &backend, &mem);
        assert_int_equal(ops->set_boot_context(vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0), GPA), 0);
        assert_int_equal(ops->vcpu_export(vm, 0, fds, &n), 0);
        assert_int_equal(n, 2); /* the shared state and the guest memory */
        assert_int_equal(ops->start(vm), 0);
        ops->vm_destroy(vm);
        ops->close(backend);
        close(mem);
}

/* Doorbells reach the workers with the vCPU: their eventfds follow the
 * guest memories in slot order; registrations close at start. */
static void test_doorbells_exported_in_slot_order(void **state) {
        const HvBackendOps *ops = &hv_sim_ops;
        int fds[HV_VCPU_EXPORT_FDS_MAX], irq = eventfd(0, EFD_CLOEXEC), kick = eventfd(0, EFD_CLOEXEC), late;
        size_t n = ELEMENTSOF(fds);
        uint64_t v = 0;
        HvBackend *backend;
        HvVm *vm;
        int mem;

        assert_true(irq >= 0 && kick >= 0);
        vm = vm_with_a_vcpu(ops, &backend, &mem);
        assert_int_equal(ops->add_irqfd(vm, irq, 40, 0), 0);
        assert_int_equal(ops->add_ioeventfd(vm, kick, 0x0a000050, 4, 0, 0), 0);
        /* a LEVEL irqfd is the workers' own line (vcpu_irq_line): recorded,
         * not exported, its fd untouched */
        assert_int_equal(ops->add_irqfd(vm, kick, 41, GUNYAH_IRQFD_FLAGS_LEVEL), 0);
        assert_int_equal(ops->add_irqfd(vm, kick, 41, GUNYAH_IRQFD_FLAGS_LEVEL), -EEXIST);
        /* the workers race to read an irqfd: the sim makes it non-blocking */
        assert_true(fcntl(irq, F_GETFL) & O_NONBLOCK);
        assert_false(fcntl(kick, F_GETFL) & O_NONBLOCK);

        assert_int_equal(ops->vcpu_export(vm, 0, fds, &n), 0);
        assert_int_equal(n, 4); /* state, memory, irqfd, ioeventfd */
        /* the exported fds are the VM's own references to the same eventfds */
        assert_int_not_equal(fds[2], irq);
        v = 3;
        assert_int_equal(write(fds[3], &v, sizeof(v)), sizeof(v));
        assert_int_equal(read(kick, &v, sizeof(v)), sizeof(v));
        assert_int_equal(v, 3);
        v = 1;
        assert_int_equal(write(irq, &v, sizeof(v)), sizeof(v));
        assert_int_equal(read(fds[2], &v, sizeof(v)), sizeof(v));
        assert_int_equal(v, 1);

        assert_int_equal(ops->start(vm), 0);
        late = eventfd(0, EFD_CLOEXEC);
        assert_int_equal(ops->add_ioeventfd(vm, late, 0x0a000250, 4, 0, 0), -EBUSY);
        assert_int_equal(ops->add_irqfd(vm, late, 41, 0), -EBUSY);
        /* removal works at any time; the slot keeps its place in the export */
        assert_int_equal(ops->remove_ioeventfd(vm, kick, 0x0a000050, 4, 0, 0), 0);
        assert_int_equal(ops->remove_ioeventfd(vm, kick, 0x0a000050, 4, 0, 0), -ENOENT);
        n = ELEMENTSOF(fds);
        assert_int_equal(ops->vcpu_export(vm, 0, fds, &n), 0);
        assert_int_equal(n, 4);
        ops->vm_destroy(vm);
        ops->close(backend);
        close(mem);
        close(irq);
        close(kick);
        close(late);
}

static void test_vcpu_half_is_absent_but_present_for_the_daemon(void **state) {
        const HvBackendOps *ops = &hv_sim_ops;
        int fds[1] = { -EBADF };
        HvVcpu *vcpu = NULL;

        assert_int_equal(ops->vcpu_kick_signal, SIGURG);
        /* The daemon reads vcpu_irq_line's presence (no irqfds for the
         * sim's workers): it must be there even without the vCPU half. */
        assert_non_null(ops->vcpu_irq_line);
        assert_non_null(ops->vcpu_watch_fd);
        assert_int_equal(ops->vcpu_attach(fds, 1, 0, &vcpu), -EOPNOTSUPP);
        assert_null(vcpu);
        assert_int_equal(ops->vcpu_run(NULL), -EOPNOTSUPP);
        assert_int_equal(ops->vcpu_irq_line(NULL, 5, true), -EOPNOTSUPP);
        assert_null(ops->vcpu_run_block(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vm_half_creates_exports_and_starts),
                cmocka_unit_test(test_doorbells_exported_in_slot_order),
                cmocka_unit_test(test_vcpu_half_is_absent_but_present_for_the_daemon),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
