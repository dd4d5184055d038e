/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hv_sim_ops through the backend interface: the kernel's errnos for the
 * memory, function and start calls, and the run protocol's edges. */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "sim-harness.h"
#include "vm-spec.h"

#define MiB_ (UINT64_C(1) << 20)
#define GPA UINT64_C(0x80000000)
#define PC_REG GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0)

static const HvBackendOps *ops = &hv_sim_ops;

typedef struct Fixture {
        HvBackend *b;
        HvVm *vm;
        int mem;   /* guest memory of 4 MiB */
        int other; /* a memfd that is not guest memory */
        int efd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(ops->open(NULL, &f->b), 0);
        assert_int_equal(ops->vm_create(f->b, &f->vm), 0);
        assert_int_equal(ops->guest_mem_create(f->vm, 4 * MiB_, &f->mem), 0);
        f->other = memfd_create("not-guest-mem", MFD_CLOEXEC);
        assert_true(f->other >= 0);
        assert_int_equal(ftruncate(f->other, 4 * MiB_), 0);
        f->efd = eventfd(0, EFD_CLOEXEC);
        assert_true(f->efd >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        ops->vm_destroy(f->vm);
        ops->close(f->b);
        close(f->mem);
        close(f->other);
        close(f->efd);
        free(f);
        return 0;
}

static HvMemBinding binding(int fd, uint64_t gpa, uint64_t off, uint64_t size, uint32_t prot) {
        return (HvMemBinding) { .guest_addr = gpa, .offset = off, .size = size, .guest_mem_fd = fd,
                                .access = HV_MEM_LEND, .prot = prot };
}

typedef struct MapCase {
        const char *name;
        bool use_other_fd;
        uint64_t gpa, off, size;
        uint32_t prot;
        int expected;
} MapCase;

/* Each case on top of a first binding of [GPA, +1 MiB) ← offset 0. */
static const MapCase map_cases[] = {
        { "not guest memory", true, GPA + 2 * MiB_, 0, MiB_, HV_PROT_RWX, -EINVAL },
        { "unaligned gpa", false, GPA + 2 * MiB_ + 1, MiB_, MiB_, HV_PROT_RWX, -EINVAL },
        { "unaligned offset", false, GPA + 2 * MiB_, MiB_ + 8, MiB_, HV_PROT_RWX, -EINVAL },
        { "unaligned size", false, GPA + 2 * MiB_, MiB_, 100, HV_PROT_RWX, -EINVAL },
        { "zero size", false, GPA + 2 * MiB_, MiB_, 0, HV_PROT_RWX, -EINVAL },
        { "no permission", false, GPA + 2 * MiB_, MiB_, MiB_, 0, -EINVAL },
        { "past the end", false, GPA + 2 * MiB_, 3 * MiB_, 2 * MiB_, HV_PROT_RWX, -EINVAL },
        { "gpa overlap", false, GPA + MiB_ / 2, 2 * MiB_, MiB_, HV_PROT_RWX, -EEXIST },
        { "file range bound", false, GPA + 8 * MiB_, 0, MiB_, HV_PROT_RWX, -EEXIST },
        { "valid", false, GPA + 2 * MiB_, MiB_, MiB_, HV_PROT_READ, 0 },
};

static void test_sim_map_mem_errnos(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, MiB_, HV_PROT_RWX);

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        for (size_t i = 0; i < ELEMENTSOF(map_cases); i++) {
                const MapCase *c = &map_cases[i];
                HvMemBinding b = binding(c->use_other_fd ? f->other : f->mem, c->gpa, c->off, c->size, c->prot);
                int r = ops->map_mem(f->vm, &b);

                if (r != c->expected)
                        fail_msg("map_mem case \"%s\": got %d, expected %d", c->name, r, c->expected);
        }
}

static void test_sim_unmap_mem_errnos(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, 2 * MiB_, HV_PROT_RWX);
        HvMemBinding never = binding(f->mem, GPA + 16 * MiB_, 2 * MiB_, MiB_, HV_PROT_RWX);
        HvMemBinding middle = binding(f->mem, GPA + MiB_ / 2, MiB_ / 2, MiB_, HV_PROT_RWX);
        HvMemBinding other_fd = binding(f->other, GPA, 0, 2 * MiB_, HV_PROT_RWX);

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->unmap_mem(f->vm, &never), -ENOENT);
        assert_int_equal(ops->unmap_mem(f->vm, &middle), -EINVAL);
        assert_int_equal(ops->unmap_mem(f->vm, &other_fd), -EINVAL);
        assert_int_equal(ops->unmap_mem(f->vm, &b0), 0);
        assert_int_equal(ops->unmap_mem(f->vm, &b0), -ENOENT);
}

static void test_sim_guest_mem_create_errnos(void **state) {
        Fixture *f = *state;
        int fd = -1;

        assert_int_equal(ops->guest_mem_create(f->vm, 4096 + 1, &fd), -EINVAL);
        assert_int_equal(ops->guest_mem_create(f->vm, 0, &fd), -EINVAL);
        assert_int_equal(fd, -1);
}

static void test_sim_function_errnos(void **state) {
        Fixture *f = *state;

        assert_int_equal(ops->add_vcpu(f->vm, 0), 0);
        assert_int_equal(ops->add_vcpu(f->vm, 0), -EEXIST);
        assert_int_equal(ops->add_vcpu(f->vm, 1), 0);
        assert_int_equal(ops->add_irqfd(f->vm, f->efd, 5, 0), 0);
        assert_int_equal(ops->add_irqfd(f->vm, f->efd, 5, 0), -EEXIST);
        assert_int_equal(ops->add_irqfd(f->vm, f->efd, 6, 0x2), -EINVAL);
        assert_int_equal(ops->add_irqfd(f->vm, f->other, 7, 0), -EINVAL);
        assert_int_equal(ops->add_irqfd(f->vm, 999, 8, 0), -EBADF);
}

#define NOTIFY UINT64_C(0x0a000050)

/* The kernel's ioeventfd rules, in its order (arguments, eventfd, table). */
static void test_sim_ioeventfd_errnos(void **state) {
        Fixture *f = *state;

        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), 0);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), -EEXIST);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY, 0, 0, 0), -EEXIST);
        assert_int_equal(ops->add_ioeventfd(f->vm, 999, NOTIFY, 3, 0, 0), -EINVAL); /* len before fd */
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY + 8, 4, 0x2, 0), -EINVAL);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY + 8, 0, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, 1),
                         -EINVAL);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, UINT64_MAX - 1, 4, 0, 0), -EINVAL);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->other, NOTIFY + 8, 4, 0, 0), -EINVAL);
        assert_int_equal(ops->add_ioeventfd(f->vm, 999, NOTIFY + 8, 4, 0, 0), -EBADF);
        assert_int_equal(ops->add_ioeventfd(f->vm, 999, NOTIFY, 4, 0, 0), -EBADF); /* fd before table */
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY + 8, 4, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, 7), 0);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY + 8, 4, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, 8), 0);

        assert_int_equal(ops->remove_ioeventfd(f->vm, f->efd, NOTIFY, 2, 0, 0), -ENOENT);
        assert_int_equal(ops->remove_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), 0);
        assert_int_equal(ops->remove_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), -ENOENT);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY, 0, 0, 0), 0);
        assert_int_equal(ops->remove_irqfd(f->vm, f->efd, 5, 0), -ENOENT);
        assert_int_equal(ops->add_irqfd(f->vm, f->efd, 5, 0), 0);
        assert_int_equal(ops->remove_irqfd(f->vm, f->efd, 5, 0), 0);
        assert_int_equal(ops->add_irqfd(f->vm, f->efd, 5, GUNYAH_IRQFD_FLAGS_LEVEL), 0);
}

/* The sim's own limit on doorbells: -ENOSPC, and nothing half-recorded. */
static void test_sim_doorbell_limit(void **state) {
        Fixture *f = *state;

        for (uint32_t i = 0; i < 40; i++) /* SIM_DOORBELLS_MAX */
                assert_int_equal(ops->add_irqfd(f->vm, f->efd, i, 0), 0);
        assert_int_equal(ops->add_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), -ENOSPC);
        assert_int_equal(ops->remove_ioeventfd(f->vm, f->efd, NOTIFY, 4, 0, 0), -ENOENT);
}

static void test_sim_boot_context_errnos(void **state) {
        Fixture *f = *state;

        assert_int_equal(ops->set_boot_context(f->vm, GUNYAH_VM_BOOT_CONTEXT_REG(3, 0), 0), -EINVAL);
        assert_int_equal(ops->set_boot_context(f->vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 1), 0), -EINVAL);
        assert_int_equal(ops->set_boot_context(f->vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP, 3), 0), -EINVAL);
        assert_int_equal(ops->set_boot_context(f->vm, PC_REG, GPA), 0);
}

static void test_sim_start_without_dtb_fails_then_enodev(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, 4 * MiB_, HV_PROT_RWX);

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->start(f->vm), -EINVAL);
        assert_int_equal(ops->set_dtb_config(f->vm, GPA, 4096), 0);
        assert_int_equal(ops->start(f->vm), -ENODEV);
}

static void test_sim_start_dtb_outside_binding(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, MiB_, HV_PROT_RWX);

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->set_dtb_config(f->vm, GPA + MiB_ - 4096, 8192), 0);
        assert_int_equal(ops->start(f->vm), -EINVAL);
}

static void test_sim_start_dtb_in_no_binding_is_enoent(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, MiB_, HV_PROT_RWX);

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->set_dtb_config(f->vm, GPA + 2 * MiB_, 4096), 0);
        assert_int_equal(ops->start(f->vm), -ENOENT); /* as the real driver */
        assert_int_equal(ops->start(f->vm), -ENODEV);
}

static void test_sim_start_refuses_mapped_lent_memory(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, 4 * MiB_, HV_PROT_RWX);
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem, 3 * MiB_);

        assert_true(p != MAP_FAILED);
        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->set_dtb_config(f->vm, GPA, 4096), 0);
        assert_int_equal(ops->start(f->vm), -EPERM); /* as the real driver */
        munmap(p, 4096);
        assert_int_equal(ops->start(f->vm), -ENODEV);
}

static void test_sim_start_twice_and_run_protocol(void **state) {
        Fixture *f = *state;
        HvMemBinding b0 = binding(f->mem, GPA, 0, 4 * MiB_, HV_PROT_RWX);
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds), small = 1;
        struct gunyah_vcpu_run *run;
        HvVcpu *vcpu;

        assert_int_equal(ops->map_mem(f->vm, &b0), 0);
        assert_int_equal(ops->set_dtb_config(f->vm, GPA, 4096), 0);
        assert_int_equal(ops->add_vcpu(f->vm, 0), 0);
        assert_int_equal(ops->vcpu_export(f->vm, 3, fds, &n), -ENOENT);
        assert_int_equal(ops->vcpu_export(f->vm, 0, fds, &small), -ENOBUFS);
        assert_int_equal(ops->vcpu_export(f->vm, 0, fds, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++)
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        assert_int_equal(ops->vcpu_attach(own, n, 0, &vcpu), 0);
        run = ops->vcpu_run_block(vcpu);

        /* Before start: ENODEV. */
        assert_int_equal(ops->vcpu_run(vcpu), -ENODEV);
        assert_int_equal(ops->set_boot_context(f->vm, PC_REG, GPA), 0);
        assert_int_equal(ops->start(f->vm), 0);
        assert_int_equal(ops->start(f->vm), 0);
        assert_int_equal(ops->set_boot_context(f->vm, PC_REG, GPA), -EINVAL);

        /* immediate_exit: EINTR without running. */
        run->immediate_exit = 1;
        assert_int_equal(ops->vcpu_run(vcpu), -EINTR);
        run->immediate_exit = 0;
        /* A kick before run makes the next run return EINTR once. */
        ops->vcpu_kick(vcpu);
        assert_int_equal(ops->vcpu_run(vcpu), -EINTR);

        /* Guest RAM is zero: "udf #0" at the entry halts the vCPU. */
        assert_int_equal(ops->vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(run->status.status, GUNYAH_VM_STATUS_EXITED);
        assert_int_equal(run->status.exit_info.type, GUNYAH_VM_EXIT_TYPE_HYP_ERROR);
        /* And again on every later run. */
        memset(run, 0, sizeof(*run));
        assert_int_equal(ops->vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(run->status.exit_info.type, GUNYAH_VM_EXIT_TYPE_HYP_ERROR);
        ops->vcpu_detach(vcpu);
}

/* One vCPU of a guest attached in this process. */
static HvVcpu *attach_guest(const char *guest, HvBackend **b, HvVm **vm) {
        SimHarnessOptions o = { .guest = guest, .vcpus = 1 };
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds);
        HvVcpu *vcpu;
        _cleanup_free_ char *path = sim_harness_guest_path(guest);

        if (!path)
                SIM_HARNESS_SKIP("guest %s not built (GUNYAH_TEST_GUEST_DIR)\n", guest);
        assert_int_equal(sim_harness_create_vm(&o, b, vm, NULL), 0);
        assert_int_equal(ops->vcpu_export(*vm, 0, fds, &n), 0);
        for (size_t i = 0; i < n; i++)
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        assert_int_equal(ops->vcpu_attach(own, n, 0, &vcpu), 0);
        return vcpu;
}

static void test_sim_mmio_exit_fields_and_fault(void **state) {
        HvBackend *b;
        HvVm *vm;
        HvVcpu *vcpu;
        struct gunyah_vcpu_run *run;
        vcpu = attach_guest("hello", &b, &vm);
        run = ops->vcpu_run_block(vcpu);
        /* The first PL011 access: the FR poll, a 4-byte read. */
        assert_int_equal(ops->vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_MMIO);
        assert_int_equal(run->mmio.phys_addr, 0x09000018);
        assert_int_equal(run->mmio.len, 4);
        assert_int_equal(run->mmio.is_write, 0);
        assert_int_equal(run->mmio.resume_action, GUNYAH_VCPU_RESUME_HANDLED);
        memset(run->mmio.data, 0, 8);
        assert_int_equal(ops->vcpu_run(vcpu), 0);
        /* Then the write of 'h' to DR, data little-endian. */
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_MMIO);
        assert_int_equal(run->mmio.phys_addr, 0x09000000);
        assert_int_equal(run->mmio.is_write, 1);
        assert_int_equal(run->mmio.data[0], 'h');
        /* An invalid resume_action is refused, the exit stays pending. */
        run->mmio.resume_action = 7;
        assert_int_equal(ops->vcpu_run(vcpu), -EINVAL);
        /* FAULT: the guest cannot take the abort, the VM halts. */
        run->mmio.resume_action = GUNYAH_VCPU_RESUME_FAULT;
        assert_int_equal(ops->vcpu_run(vcpu), 0);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(run->status.exit_info.type, GUNYAH_VM_EXIT_TYPE_HYP_ERROR);
        ops->vcpu_detach(vcpu);
        ops->vm_destroy(vm);
        ops->close(b);
}

static void test_sim_destroy_before_start_enodev(void **state) {
        Fixture *f = *state;
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds);
        HvVcpu *vcpu;

        assert_int_equal(ops->add_vcpu(f->vm, 0), 0);
        assert_int_equal(ops->vcpu_export(f->vm, 0, fds, &n), 0);
        for (size_t i = 0; i < n; i++)
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        assert_int_equal(ops->vcpu_attach(own, n, 0, &vcpu), 0);
        ops->vm_destroy(f->vm);
        f->vm = NULL;
        assert_int_equal(ops->vcpu_run(vcpu), -ENODEV);
        ops->vcpu_detach(vcpu);
}

static void test_sim_page_fault_read_only(void **state) {
        static SimHarnessResult res;
        SimHarnessOptions o = { .guest = "hello", .vcpus = 1, .prot = HV_PROT_READ | HV_PROT_EXEC };
        _cleanup_free_ char *path = sim_harness_guest_path("hello");
        if (!path)
                SIM_HARNESS_SKIP("guest hello not built (GUNYAH_TEST_GUEST_DIR)\n");
        assert_int_equal(sim_harness_run(&o, &res), 0);
        assert_int_equal(res.vcpu[0].last.exit_reason, GUNYAH_VCPU_EXIT_PAGE_FAULT);
        assert_int_equal(res.vcpu[0].last.page_fault.attempt, -EPERM);
        assert_true(res.vcpu[0].last.page_fault.phys_addr >= SIM_HARNESS_RAM_BASE);
        assert_true(res.vcpu[0].last.page_fault.phys_addr < SIM_HARNESS_RAM_BASE + SIM_HARNESS_RAM_SIZE);
}

static void test_sim_page_fault_unbound(void **state) {
        static SimHarnessResult res;
        SimHarnessOptions o = { .guest = "memtouch", .vcpus = 1, .bind_size = 32 * MiB_ };
        _cleanup_free_ char *path = sim_harness_guest_path("memtouch");
        if (!path)
                SIM_HARNESS_SKIP("guest memtouch not built (GUNYAH_TEST_GUEST_DIR)\n");
        assert_int_equal(sim_harness_run(&o, &res), 0);
        assert_int_equal(res.vcpu[0].last.exit_reason, GUNYAH_VCPU_EXIT_PAGE_FAULT);
        assert_int_equal(res.vcpu[0].last.page_fault.attempt, -ENOENT);
        assert_int_equal(res.vcpu[0].last.page_fault.phys_addr, SIM_HARNESS_RAM_BASE + 32 * MiB_);
}

/* Just the PL061 the button guest programs: line 3 an input with a
 * both-edges interrupt, the line level the worker would drive (ris & ie). */
typedef struct ButtonGpio {
        uint32_t dir, is, ibe, ie, ris;
        bool pressed, taken;
} ButtonGpio;

typedef struct ButtonPress {
        HvVcpu *vcpu;
        uint32_t spi;
        sem_t taken;
} ButtonPress;

static bool button_mmio(HvVcpu *vcpu, struct gunyah_vcpu_run *run, ButtonGpio *g, uint32_t spi, char *console, size_t *n) {
        uint64_t addr = run->mmio.phys_addr, off = addr & 0xfff, val = 0;
        uint32_t *reg = NULL;

        memcpy(&val, run->mmio.data, sizeof(val));
        if (addr - VM_DEFAULT_PL011_BASE < 0x1000) { /* console: every write is DR, FR reads TXFE */
                if (run->mmio.is_write && off == 0 && *n < 4095)
                        console[(*n)++] = (char) run->mmio.data[0];
                memset(run->mmio.data, 0, sizeof(run->mmio.data));
                if (!run->mmio.is_write && off == 0x18)
                        run->mmio.data[0] = 0x80;
                return true;
        }
        if (addr - VM_PL061_BASE >= 0x1000)
                return false;
        switch (off) {
        case 0x400: reg = &g->dir; break;
        case 0x404: reg = &g->is; break;
        case 0x408: reg = &g->ibe; break;
        case 0x410: reg = &g->ie; break;
        }
        if (run->mmio.is_write) {
                if (reg)
                        *reg = (uint32_t) val & 0xff;
                else if (off == 0x41c)
                        g->ris &= ~(uint32_t) val;
                /* The device drives its line after every access, as devices.c does. */
                assert_int_equal(ops->vcpu_irq_line(vcpu, spi, (g->ris & g->ie) != 0), 0);
                return true;
        }
        if (off == 0x418) {
                val = g->ris & g->ie;
                g->taken = true;
        } else if (off < 0x400)
                val = g->pressed ? (off >> 2) & 0x8 : 0;
        else
                val = reg ? *reg : 0;
        memset(run->mmio.data, 0, sizeof(run->mmio.data));
        memcpy(run->mmio.data, &val, run->mmio.len);
        return true;
}

/* Raises the line from another thread of the "worker" while the vCPU
 * (most likely) sleeps in WFI; kicks it out of run if nothing took it. */
static void *button_press(void *userdata) {
        ButtonPress *p = userdata;
        struct timespec ts;

        /* Only makes WFI the likely state; the test passes either way. */
        (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        assert_int_equal(ops->vcpu_irq_line(p->vcpu, p->spi, true), 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10;
        if (sem_timedwait(&p->taken, &ts) < 0)
                ops->vcpu_kick(p->vcpu);
        return NULL;
}

static void test_sim_irq_line_wakes_a_vcpu_in_wfi(void **state) {
        ButtonGpio g = { .ie = 0 };
        ButtonPress p = { .spi = VM_PL061_SPI };
        char console[4096] = "";
        struct gunyah_vcpu_run *run;
        pthread_t thread;
        bool pressed = false;
        HvBackend *b;
        HvVm *vm;
        size_t n = 0;
        int r;
        p.vcpu = attach_guest("button", &b, &vm);
        run = ops->vcpu_run_block(p.vcpu);
        assert_int_equal(sem_init(&p.taken, 0, 0), 0);
        /* A label no SPI has. */
        assert_int_equal(ops->vcpu_irq_line(p.vcpu, 1020 - 32, true), -EINVAL);
        for (;;) {
                r = ops->vcpu_run(p.vcpu);
                if (r < 0 || run->exit_reason != GUNYAH_VCPU_EXIT_MMIO)
                        break;
                if (!button_mmio(p.vcpu, run, &g, p.spi, console, &n))
                        fail_msg("unexpected MMIO at 0x%llx; console:\n%s", (unsigned long long) run->mmio.phys_addr, console);
                if (g.taken)
                        sem_post(&p.taken);
                if (!pressed && strstr(console, "button: waiting, spi 7 on cpu 0\n")) {
                        /* Armed and about to WFI: press (a rising edge, IBE). */
                        g.pressed = true;
                        g.ris |= 0x8;
                        assert_int_equal(pthread_create(&thread, NULL, button_press, &p), 0);
                        pressed = true;
                }
        }
        if (pressed) {
                sem_post(&p.taken);
                pthread_join(thread, NULL);
        }
        if (r < 0)
                fail_msg("run: %s (the line never woke the vCPU); console:\n%s", strerror(-r), console);
        assert_true(pressed);
        assert_int_equal(run->exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(run->status.exit_info.type, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        if (!strstr(console, "button: cpu 0 took the PL061 interrupt, mis 0x8, line 1\n"))
                fail_msg("the guest did not take the SPI:\n%s", console);
        /* The guest's IC write lowered the line: nothing is left pending. */
        assert_int_equal(g.ris & g.ie, 0);
        sem_destroy(&p.taken);
        ops->vcpu_detach(p.vcpu);
        ops->vm_destroy(vm);
        ops->close(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sim_map_mem_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_unmap_mem_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_guest_mem_create_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_function_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_ioeventfd_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_doorbell_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_boot_context_errnos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_start_without_dtb_fails_then_enodev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_start_dtb_outside_binding, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_start_dtb_in_no_binding_is_enoent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_start_refuses_mapped_lent_memory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_start_twice_and_run_protocol, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sim_destroy_before_start_enodev, setup, teardown),
                cmocka_unit_test(test_sim_mmio_exit_fields_and_fault),
                cmocka_unit_test(test_sim_page_fault_read_only),
                cmocka_unit_test(test_sim_page_fault_unbound),
                cmocka_unit_test(test_sim_irq_line_wakes_a_vcpu_in_wfi),
        };

        return sim_harness_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
