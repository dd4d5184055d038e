/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-gunyah.h"
#include "hv-ioctl.h"
#include "hv.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE UINT64_C(0x400000)
#define DTB_ADDR (RAM_BASE + 0x200000)
#define DTB_SIZE UINT64_C(0x2000)
#define REG_PC GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0)
#define REG_X0 GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 0)

static int teardown(void **state) {
        fake_gunyah_teardown();
        return 0;
}

/* ---- flag encoders ---- */

static void test_flag_encoders_per_generation(void **state) {
        static const struct {
                HvMemAccess access;
                uint32_t prot;
                int u17_r;
                uint32_t u17;
                int a14_r;
                uint32_t a14;
        } cases[] = {
                { HV_MEM_LEND, HV_PROT_RWX, 0, 0x71, 0, 0x7 },
                { HV_MEM_SHARE, HV_PROT_RWX, 0, 0x72, 0, 0x7 },
                { HV_MEM_LEND, HV_PROT_READ, 0, 0x11, 0, 0x1 },
                { HV_MEM_SHARE, HV_PROT_READ | HV_PROT_WRITE, 0, 0x32, 0, 0x3 },
                { HV_MEM_LEND, HV_PROT_READ | HV_PROT_EXEC, 0, 0x51, 0, 0x5 },
                { HV_MEM_SHARE, HV_PROT_EXEC, 0, 0x42, 0, 0x4 },
                { HV_MEM_LEND, HV_PROT_WRITE, 0, 0x21, 0, 0x2 },
                { HV_MEM_LEND, 0, -EINVAL, 0, -EINVAL, 0 },
                { HV_MEM_SHARE, 0x8, -EINVAL, 0, -EINVAL, 0 },
                { HV_MEM_LEND, HV_PROT_RWX | 0x10, -EINVAL, 0, -EINVAL, 0 },
                { (HvMemAccess) 7, HV_PROT_RWX, -EINVAL, 0, 0, 0x7 },
                { _HV_MEM_ACCESS_INVALID, HV_PROT_READ, -EINVAL, 0, 0, 0x1 },
        };
        for (size_t i = 0; i < N(cases); i++) {
                uint32_t f = 0xdead;

                assert_int_equal(gh_u17_map_flags(cases[i].access, cases[i].prot, &f), cases[i].u17_r);
                if (f != (cases[i].u17_r == 0 ? cases[i].u17 : 0xdead))
                        fail_msg("case %zu: U17 flags 0x%x, want 0x%x", i, f, cases[i].u17);
                f = 0xdead;
                assert_int_equal(gh_a14_mem_flags(cases[i].prot, &f), cases[i].a14_r);
                if (f != (cases[i].a14_r == 0 ? cases[i].a14 : 0xdead))
                        fail_msg("case %zu: A14 flags 0x%x, want 0x%x", i, f, cases[i].a14);
        }
}

/* ---- helpers ---- */

static size_t first_call_of_vm(int vm) {
        for (size_t i = 0; i < fake_gunyah_n_calls(); i++) {
                const FakeGunyahCall *c = fake_gunyah_call(i);
                if (c->request == GUNYAH_CREATE_VM && c->result >= 0 && c->kind == FAKE_GUNYAH_KIND_DEVICE && vm-- == 0)
                        return i;
        }
        fail_msg("no CREATE_VM #%d", vm);
        return 0;
}

static const FakeGunyahCall *expect_call(size_t i, uint32_t request) {
        const FakeGunyahCall *c = fake_gunyah_call(i);

        if (!c)
                fail_msg("call %zu: missing, want %s", i, fake_gunyah_request_name(request));
        if (c->request != request)
                fail_msg("call %zu: %s, want %s", i, fake_gunyah_request_name(c->request),
                         fake_gunyah_request_name(request));
        if (c->result < 0)
                fail_msg("call %zu: %s failed with %d", i, fake_gunyah_request_name(request), c->result);
        return c;
}

static void expect_fn(const FakeGunyahCall *c, uint32_t type, const void *arg, size_t size) {
        struct gunyah_fn_desc d;

        memcpy(&d, c->arg, sizeof(d));
        assert_int_equal(d.type, type);
        assert_int_equal(d.arg_size, size);
        assert_int_equal(c->fn_arg_size, size);
        assert_memory_equal(c->fn_arg, arg, size);
}

static bool fd_is_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

/* ---- U17 ---- */

typedef struct U17Vm {
        HvBackend *backend;
        HvVm *vm;
        int mem_fd;
        int irq_fd;
} U17Vm;

/* The spec §6 start sequence of a 2-vCPU VM. */
static void u17_start_vm(U17Vm *t) {
        HvMemBinding ram;
        uint8_t *p;

        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &t->backend), 0);
        assert_int_equal(hv_kernel_ops.abi(t->backend), HV_ABI_U17);
        /* the workers' vCPU fds keep a U17 VM: a later daemon may adopt it */
        assert_true(hv_vm_outlives_handle(&hv_kernel_ops, t->backend));
        assert_int_equal(hv_kernel_ops.vm_create(t->backend, &t->vm), 0);
        assert_int_equal(hv_kernel_ops.guest_mem_create(t->vm, RAM_SIZE, &t->mem_fd), 0);

        /* load, then drop the host view before lending, as the kernel requires */
        p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->mem_fd, 0);
        assert_true(p != MAP_FAILED);
        memcpy(p, "\x00\x00\x00\x14", 4);
        assert_int_equal(munmap(p, RAM_SIZE), 0);

        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .offset = 0, .size = RAM_SIZE, .guest_mem_fd = t->mem_fd,
                               .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
        assert_int_equal(hv_kernel_ops.map_mem(t->vm, &ram), 0);
        assert_int_equal(hv_kernel_ops.set_dtb_config(t->vm, DTB_ADDR, DTB_SIZE), 0);
        assert_int_equal(hv_kernel_ops.set_boot_context(t->vm, REG_PC, RAM_BASE), 0);
        assert_int_equal(hv_kernel_ops.set_boot_context(t->vm, REG_X0, DTB_ADDR), 0);
        assert_int_equal(hv_kernel_ops.add_vcpu(t->vm, 0), 0);
        assert_int_equal(hv_kernel_ops.add_vcpu(t->vm, 1), 0);
        t->irq_fd = eventfd(0, EFD_CLOEXEC);
        assert_true(t->irq_fd >= 0);
        assert_int_equal(hv_kernel_ops.add_irqfd(t->vm, t->irq_fd, 5, GUNYAH_IRQFD_FLAGS_LEVEL), 0);
        assert_int_equal(hv_kernel_ops.start(t->vm), 0);
}

static void u17_free(U17Vm *t) {
        hv_kernel_ops.vm_destroy(t->vm);
        hv_kernel_ops.close(t->backend);
        close(t->mem_fd);
        close(t->irq_fd);
}

static void test_u17_start_sequence_call_by_call(void **state) {
        struct gunyah_create_mem_args gmem;
        struct gunyah_map_mem_args map;
        struct gunyah_vm_dtb_config dtb;
        struct gunyah_vm_boot_context ctx;
        struct gunyah_fn_vcpu_arg v0 = { 0 }, v1 = { 1 };
        struct gunyah_fn_irqfd_arg irq;
        const FakeGunyahCall *c;
        U17Vm t;
        size_t i;
        u17_start_vm(&t);
        i = first_call_of_vm(1); /* VM 0 was the probe's */
        assert_int_equal(fake_gunyah_n_calls() - i, 10);

        expect_call(i++, GUNYAH_CREATE_VM);

        c = expect_call(i++, GUNYAH_CREATE_GUEST_MEM);
        assert_int_equal(c->kind, FAKE_GUNYAH_KIND_DEVICE);
        memcpy(&gmem, c->arg, sizeof(gmem));
        assert_int_equal(gmem.flags, GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE); /* RAM_SIZE is a 2 MiB multiple */
        assert_int_equal(gmem.size, RAM_SIZE);
        assert_int_equal(c->result, t.mem_fd);

        c = expect_call(i++, GUNYAH_VM_MAP_MEM);
        memcpy(&map, c->arg, sizeof(map));
        assert_int_equal(map.guest_addr, RAM_BASE);
        assert_int_equal(map.flags, 0x71); /* FORCE_LEND | R | W | X in U17 bits */
        assert_int_equal(map.guest_mem_fd, (uint32_t) t.mem_fd);
        assert_int_equal(map.offset, 0);
        assert_int_equal(map.size, RAM_SIZE);

        c = expect_call(i++, GUNYAH_VM_SET_DTB_CONFIG);
        memcpy(&dtb, c->arg, sizeof(dtb));
        assert_int_equal(dtb.guest_phys_addr, DTB_ADDR);
        assert_int_equal(dtb.size, DTB_SIZE);

        c = expect_call(i++, GUNYAH_VM_SET_BOOT_CONTEXT);
        memcpy(&ctx, c->arg, sizeof(ctx));
        assert_int_equal(ctx.reg, 0x100);
        assert_int_equal(ctx.value, RAM_BASE);
        c = expect_call(i++, GUNYAH_VM_SET_BOOT_CONTEXT);
        memcpy(&ctx, c->arg, sizeof(ctx));
        assert_int_equal(ctx.reg, 0x000);
        assert_int_equal(ctx.value, DTB_ADDR);

        c = expect_call(i++, GUNYAH_VM_ADD_FUNCTION);
        expect_fn(c, GUNYAH_FN_VCPU, &v0, sizeof(v0));
        c = expect_call(i++, GUNYAH_VM_ADD_FUNCTION);
        expect_fn(c, GUNYAH_FN_VCPU, &v1, sizeof(v1));
        c = expect_call(i++, GUNYAH_VM_ADD_FUNCTION);
        irq = (struct gunyah_fn_irqfd_arg) { .fd = (uint32_t) t.irq_fd, .label = 5, .flags = GUNYAH_IRQFD_FLAGS_LEVEL };
        expect_fn(c, GUNYAH_FN_IRQFD, &irq, sizeof(irq));
        assert_int_equal(c->result, 0);

        c = expect_call(i++, GUNYAH_VM_START);
        assert_int_equal(c->result, 0);
        assert_int_equal(fake_gunyah_vm_rules(1)->state, GH_RULES_VM_RUNNING);
        assert_int_equal(fake_gunyah_vm_rules(1)->n_vcpus, 2);

        u17_free(&t);
}

static void test_u17_vcpu_attach_run_mmio_and_kick(void **state) {
        struct gunyah_vcpu_run exit = { .exit_reason = GUNYAH_VCPU_EXIT_MMIO };
        struct gunyah_vcpu_run *run;
        HvVcpu *vcpu;
        int fds[HV_VCPU_EXPORT_FDS_MAX], worker_fd;
        size_t n = N(fds);
        U17Vm t;
        u17_start_vm(&t);
        assert_int_equal(hv_kernel_ops.vcpu_export(t.vm, 0, fds, &n), 0);
        assert_int_equal(n, 1);
        /* the worker gets its own copy, as through exec or SCM_RIGHTS */
        worker_fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
        assert_true(worker_fd >= 0);
        assert_int_equal(hv_kernel_ops.vcpu_attach(&worker_fd, 1, 0, &vcpu), 0);
        assert_non_null(fake_gunyah_find_call(GUNYAH_VCPU_MMAP_SIZE, 0));
        run = hv_kernel_ops.vcpu_run_block(vcpu);
        assert_non_null(run);

        exit.mmio.phys_addr = 0x9000000;
        exit.mmio.len = 4;
        exit.mmio.is_write = 1;
        memcpy(exit.mmio.data, "A\0\0\0", 4);
        fake_gunyah_queue_exit(0, &exit);
        assert_int_equal(hv_kernel_ops.vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_MMIO);
        assert_int_equal(run->mmio.phys_addr, 0x9000000);
        assert_int_equal(run->mmio.len, 4);
        assert_int_equal(run->mmio.is_write, 1);
        assert_int_equal(run->mmio.data[0], 'A');

        /* a kick makes the next run return -EINTR, once */
        hv_kernel_ops.vcpu_kick(vcpu);
        assert_int_equal(run->immediate_exit, 1);
        assert_int_equal(hv_kernel_ops.vcpu_run(vcpu), -EINTR);
        assert_int_equal(run->immediate_exit, 0);
        exit = (struct gunyah_vcpu_run) { .exit_reason = GUNYAH_VCPU_EXIT_STATUS };
        exit.status.status = GUNYAH_VM_STATUS_EXITED;
        exit.status.exit_info.type = GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF;
        fake_gunyah_queue_exit(0, &exit);
        assert_int_equal(hv_kernel_ops.vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(run->status.exit_info.type, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        /* every run went to the exported vCPU fd */
        assert_int_equal(fake_gunyah_find_call(GUNYAH_VCPU_RUN, 0)->kind, FAKE_GUNYAH_KIND_VCPU);

        hv_kernel_ops.vcpu_detach(vcpu);
        assert_false(fd_is_open(worker_fd));
        u17_free(&t);
}

static void test_u17_run_before_start_is_enodev(void **state) {
        HvBackend *b;
        HvVm *vm;
        HvVcpu *vcpu;
        int fds[1], worker_fd;
        size_t n = 1;
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &b), 0);
        assert_int_equal(hv_kernel_ops.vm_create(b, &vm), 0);
        assert_int_equal(hv_kernel_ops.add_vcpu(vm, 0), 0);
        assert_int_equal(hv_kernel_ops.vcpu_export(vm, 1, fds, &n), -ENOENT);
        assert_int_equal(hv_kernel_ops.vcpu_export(vm, 0, fds, &n), 0);
        worker_fd = dup(fds[0]);
        assert_int_equal(hv_kernel_ops.vcpu_attach((int[]) { worker_fd, worker_fd }, 2, 0, &vcpu), -EINVAL);
        assert_true(fd_is_open(worker_fd)); /* not taken on failure */
        assert_int_equal(hv_kernel_ops.vcpu_attach(&worker_fd, 1, 0, &vcpu), 0);
        assert_int_equal(hv_kernel_ops.vcpu_run(vcpu), -ENODEV);
        hv_kernel_ops.vcpu_detach(vcpu);
        hv_kernel_ops.vm_destroy(vm);
        hv_kernel_ops.close(b);
}

static void test_u17_start_refused_while_lent_memory_mapped(void **state) {
        HvBackend *b;
        HvVm *vm;
        HvMemBinding ram;
        int mem_fd;
        void *p;
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &b), 0);
        assert_int_equal(hv_kernel_ops.vm_create(b, &vm), 0);
        assert_int_equal(hv_kernel_ops.guest_mem_create(vm, RAM_SIZE, &mem_fd), 0);
        p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
        assert_true(p != MAP_FAILED);
        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .size = RAM_SIZE, .guest_mem_fd = mem_fd,
                               .access = HV_MEM_LEND, .prot = HV_PROT_RWX };
        assert_int_equal(hv_kernel_ops.map_mem(vm, &ram), 0);
        assert_int_equal(hv_kernel_ops.set_dtb_config(vm, DTB_ADDR, DTB_SIZE), 0);
        assert_int_equal(hv_kernel_ops.start(vm), -EPERM); /* as the real driver */
        assert_int_equal(hv_kernel_ops.start(vm), -ENODEV); /* a failed VM stays failed */
        munmap(p, RAM_SIZE);
        hv_kernel_ops.vm_destroy(vm);
        hv_kernel_ops.close(b);
        close(mem_fd);
}

static void test_u17_unmap_and_rule_errors_pass_through(void **state) {
        HvBackend *b;
        HvVm *vm;
        HvMemBinding ram, half;
        struct gunyah_map_mem_args a;
        int mem_fd;
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &b), 0);
        assert_int_equal(hv_kernel_ops.vm_create(b, &vm), 0);
        assert_int_equal(hv_kernel_ops.guest_mem_create(vm, RAM_SIZE, &mem_fd), 0);
        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .size = RAM_SIZE, .guest_mem_fd = mem_fd,
                               .access = HV_MEM_SHARE, .prot = HV_PROT_READ | HV_PROT_WRITE };
        assert_int_equal(hv_kernel_ops.map_mem(vm, &ram), 0);
        assert_int_equal(hv_kernel_ops.map_mem(vm, &ram), -EEXIST);
        half = ram;
        half.size = RAM_SIZE / 2;
        assert_int_equal(hv_kernel_ops.unmap_mem(vm, &half), 0);
        memcpy(&a, fake_gunyah_find_call(GUNYAH_VM_MAP_MEM, 3)->arg, sizeof(a)); /* probe, map, map, unmap */
        assert_int_equal(a.flags, GUNYAH_MEM_UNMAP | 0x32);
        assert_int_equal(a.size, RAM_SIZE / 2);
        assert_int_equal(hv_kernel_ops.unmap_mem(vm, &half), -ENOENT);
        /* boot context after start and bad registers come back as the kernel's EINVAL */
        assert_int_equal(hv_kernel_ops.set_boot_context(vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 40), 0),
                         -EINVAL);
        hv_kernel_ops.vm_destroy(vm);
        hv_kernel_ops.close(b);
        close(mem_fd);
}

static void test_u17_function_wrappers(void **state) {
        struct gunyah_fn_ioeventfd_arg io = { .addr = 0x9000000, .len = 4, .flags = GUNYAH_IOEVENTFD_FLAGS_DATAMATCH,
                                              .datamatch = 0x55, .fd = eventfd(0, EFD_CLOEXEC) };
        struct gunyah_fn_desc d = { .type = GUNYAH_FN_IOEVENTFD, .arg_size = sizeof(io), .arg = (uint64_t) (uintptr_t) &io };
        int dev, vm;
        assert_true(io.fd >= 0);
        dev = open(fake_gunyah_setup(FAKE_GUNYAH_U17), O_RDWR | O_CLOEXEC);
        assert_true(dev >= 0);
        vm = gh_ioctl_create_vm(dev);
        assert_true(vm >= 0);
        assert_int_equal(gh_ioctl_add_ioeventfd(vm, &io), 0);
        assert_int_equal(gh_ioctl_add_ioeventfd(vm, &io), -EEXIST);
        io.len = 3;
        assert_int_equal(gh_ioctl_add_ioeventfd(vm, &io), -EINVAL);
        io.len = 4;
        {
                /* the fake looks the fd up as the kernel: after the arguments */
                struct gunyah_fn_ioeventfd_arg other = io;
                int p[2];

                assert_int_equal(pipe(p), 0);
                other.addr += 8;
                other.fd = p[0];
                assert_int_equal(gh_ioctl_add_ioeventfd(vm, &other), -EINVAL);
                other.fd = 999;
                assert_int_equal(gh_ioctl_add_ioeventfd(vm, &other), -EBADF);
                other.len = 3;
                assert_int_equal(gh_ioctl_add_ioeventfd(vm, &other), -EINVAL);
                close(p[0]);
                close(p[1]);
        }
        assert_int_equal(gh_ioctl_remove_function(vm, &d), 0);
        assert_int_equal(gh_ioctl_remove_function(vm, &d), -ENOENT);
        assert_int_equal(fake_gunyah_find_call(GUNYAH_VM_REMOVE_FUNCTION, 0)->fn_arg_size, sizeof(io));
        assert_memory_equal(fake_gunyah_find_call(GUNYAH_VM_REMOVE_FUNCTION, 0)->fn_arg, &io, sizeof(io));
        assert_int_equal(gh_ioctl_set_boot_reg(vm, GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP, 1, 0x1000), 0);
        assert_int_equal(fake_gunyah_find_call(GUNYAH_VM_SET_BOOT_CONTEXT, 0)->arg[0], 0x01);
        assert_int_equal(fake_gunyah_find_call(GUNYAH_VM_SET_BOOT_CONTEXT, 0)->arg[1], 0x02);
        close(vm);
        close(dev);
        close(io.fd);
}

static void test_vm_destroy_closes_every_fd(void **state) {
        int vm_fd, vcpu0, vcpu1, fds[1];
        size_t n = 1;
        U17Vm t;
        u17_start_vm(&t);
        vm_fd = fake_gunyah_call(first_call_of_vm(1))->result;
        assert_int_equal(hv_kernel_ops.vcpu_export(t.vm, 0, fds, &n), 0);
        vcpu0 = fds[0];
        assert_int_equal(hv_kernel_ops.vcpu_export(t.vm, 1, fds, &n), 0);
        vcpu1 = fds[0];
        assert_true(fd_is_open(vm_fd) && fd_is_open(vcpu0) && fd_is_open(vcpu1));
        hv_kernel_ops.vm_destroy(t.vm);
        assert_false(fd_is_open(vm_fd));
        assert_false(fd_is_open(vcpu0));
        assert_false(fd_is_open(vcpu1));
        hv_kernel_ops.close(t.backend);
        close(t.mem_fd);
        close(t.irq_fd);
}

/* ---- A14 ---- */

static void test_a14_sequence(void **state) {
        const struct gunyah_userspace_memory_region *r;
        HvBackend *b;
        HvVm *vm;
        HvMemBinding ram, shared;
        int mem_fd, lent;
        size_t i;
        const FakeGunyahCall *c;
        struct gunyah_userspace_memory_region arg;
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_A14), &b), 0);
        assert_int_equal(hv_kernel_ops.abi(b), HV_ABI_A14);
        /* lent memory the daemon maps must not be unmapped while it runs */
        assert_false(hv_vm_outlives_handle(&hv_kernel_ops, b));
        assert_int_equal(hv_kernel_ops.vm_create(b, &vm), 0);
        i = first_call_of_vm(1);
        assert_int_equal(hv_kernel_ops.guest_mem_create(vm, RAM_SIZE + 0x100000, &mem_fd), 0);
        assert_int_equal(pwrite(mem_fd, "kernel", 6, 0), 6);

        ram = (HvMemBinding) { .guest_addr = RAM_BASE, .offset = 0, .size = RAM_SIZE, .guest_mem_fd = mem_fd,
                               .access = HV_MEM_LEND, .prot = HV_PROT_RWX, .label = 0 };
        shared = (HvMemBinding) { .guest_addr = RAM_BASE + RAM_SIZE, .offset = RAM_SIZE, .size = 0x100000,
                                  .guest_mem_fd = mem_fd, .access = HV_MEM_SHARE,
                                  .prot = HV_PROT_READ | HV_PROT_WRITE, .label = 1 };
        assert_int_equal(hv_kernel_ops.map_mem(vm, &ram), 0);
        assert_int_equal(hv_kernel_ops.map_mem(vm, &shared), 0);
        assert_int_equal(hv_kernel_ops.map_mem(vm, &shared), -EEXIST); /* label and range taken */
        assert_int_equal(hv_kernel_ops.set_boot_context(vm, REG_PC, RAM_BASE), -ENOTTY);
        assert_int_equal(hv_kernel_ops.set_dtb_config(vm, DTB_ADDR, DTB_SIZE), 0);
        assert_int_equal(hv_kernel_ops.add_vcpu(vm, 0), 0);
        assert_int_equal(hv_kernel_ops.add_vcpu(vm, 1), 0);
        assert_int_equal(hv_kernel_ops.start(vm), 0);
        assert_int_equal(hv_kernel_ops.unmap_mem(vm, &ram), -EOPNOTSUPP);

        /* guest memory is a memfd, not a guest_memfd; no boot context is sent */
        assert_null(fake_gunyah_find_call(GUNYAH_CREATE_GUEST_MEM, 1));
        assert_null(fake_gunyah_find_call(GUNYAH_VM_SET_BOOT_CONTEXT, 1));
        assert_null(fake_gunyah_find_call(GUNYAH_VM_MAP_MEM, 1));

        expect_call(i++, GUNYAH_CREATE_VM);
        c = expect_call(i++, GH_VM_ANDROID_LEND_USER_MEM);
        memcpy(&arg, c->arg, sizeof(arg));
        assert_int_equal(arg.label, 0);
        assert_int_equal(arg.flags, 0x7); /* A14 R|W|X */
        assert_int_equal(arg.guest_phys_addr, RAM_BASE);
        assert_int_equal(arg.memory_size, RAM_SIZE);
        /* the region's host address really shows the memfd */
        assert_memory_equal((const void *) (uintptr_t) arg.userspace_addr, "kernel", 6);
        c = expect_call(i++, GH_VM_SET_USER_MEM_REGION);
        memcpy(&arg, c->arg, sizeof(arg));
        assert_int_equal(arg.label, 1);
        assert_int_equal(arg.flags, 0x3);
        i++; /* the refused duplicate */
        expect_call(i++, GUNYAH_VM_SET_DTB_CONFIG);
        expect_call(i++, GUNYAH_VM_ADD_FUNCTION);
        expect_call(i++, GUNYAH_VM_ADD_FUNCTION);
        expect_call(i++, GUNYAH_VM_START);
        assert_int_equal(i, fake_gunyah_n_calls());

        assert_int_equal(fake_gunyah_a14_n_regions(1), 2);
        r = fake_gunyah_a14_region(1, 0, &lent);
        assert_non_null(r);
        assert_true(lent);
        r = fake_gunyah_a14_region(1, 1, &lent);
        assert_false(lent);

        hv_kernel_ops.vm_destroy(vm);
        hv_kernel_ops.close(b);
        close(mem_fd);
}

static void test_a14_ioeventfd(void **state) {
        struct gunyah_fn_desc d;
        HvBackend *b;
        HvVm *vm;
        int efd = eventfd(0, EFD_CLOEXEC);

        assert_true(efd >= 0);
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_A14), &b), 0);
        assert_int_equal(hv_kernel_ops.vm_create(b, &vm), 0);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(vm, efd, 0x0a000050, 0, 0, 0), 0);
        memcpy(&d, fake_gunyah_find_call(GH_VM_ADD_FUNCTION, 0)->arg, sizeof(d));
        assert_int_equal(d.type, GH_FN_IOEVENTFD);
        assert_int_equal(hv_kernel_ops.add_ioeventfd(vm, efd, 0x0a000050, 4, GH_IOEVENTFD_DATAMATCH, 1), -EEXIST);
        assert_int_equal(hv_kernel_ops.remove_ioeventfd(vm, efd, 0x0a000050, 0, 0, 0), 0);
        hv_kernel_ops.vm_destroy(vm);
        hv_kernel_ops.close(b);
        close(efd);
}

static void test_backend_lookup_finds_kernel(void **state) {
        assert_ptr_equal(hv_backend_lookup("kernel"), &hv_kernel_ops);
        assert_string_equal(hv_kernel_ops.name, "kernel");
        assert_null(hv_backend_lookup("qemu"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flag_encoders_per_generation),
                cmocka_unit_test_teardown(test_u17_start_sequence_call_by_call, teardown),
                cmocka_unit_test_teardown(test_u17_vcpu_attach_run_mmio_and_kick, teardown),
                cmocka_unit_test_teardown(test_u17_run_before_start_is_enodev, teardown),
                cmocka_unit_test_teardown(test_u17_start_refused_while_lent_memory_mapped, teardown),
                cmocka_unit_test_teardown(test_u17_unmap_and_rule_errors_pass_through, teardown),
                cmocka_unit_test_teardown(test_u17_function_wrappers, teardown),
                cmocka_unit_test_teardown(test_vm_destroy_closes_every_fd, teardown),
                cmocka_unit_test_teardown(test_a14_sequence, teardown),
                cmocka_unit_test_teardown(test_a14_ioeventfd, teardown),
                cmocka_unit_test(test_backend_lookup_finds_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
