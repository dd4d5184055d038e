/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot-images.h"
#include "fileio.h"
#include "macro.h"
#include "sim-harness.h"
#include "vm-spec.h"

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_RXFE 0x10u
#define PL011_FR_TXFE 0x80u

char *sim_harness_guest_path(const char *guest) {
        const char *dir = getenv("GUNYAH_TEST_GUEST_DIR");
        char *p;

        if (!dir || asprintf(&p, "%s/%s.elf", dir, guest) < 0)
                return NULL;
        if (access(p, R_OK) < 0) {
                free(p);
                return NULL;
        }
        return p;
}

unsigned sim_harness_skipped;

int sim_harness_exit_status(int failed) {
        if (failed > 0 || sim_harness_skipped == 0)
                return failed;
        fprintf(stderr, "%u test(s) skipped\n", sim_harness_skipped);
        return 77;
}

char *sim_harness_expected(const char *guest) {
        const char *dir = getenv("GUNYAH_TEST_GUEST_EXPECTED_DIR");
        _cleanup_free_ char *p = NULL;
        char *data = NULL;
        size_t size;

        if (!dir || asprintf(&p, "%s/%s.txt", dir, guest) < 0)
                return NULL;
        if (read_full_file(p, 1024 * 1024, &data, &size) < 0)
                return NULL;
        return data;
}

/* Lays the guest out in its memory and loads it, as gunyahd does. */
static int load_guest(const VmSpec *spec, int mem_fd, VmLayout *layout, SimHarnessResult *res) {
        char errbuf[VM_BOOT_ERROR_MAX] = "";
        void *ram;
        int r;

        ram = mmap(NULL, SIM_HARNESS_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
        if (ram == MAP_FAILED)
                return -errno;
        r = vm_guest_prepare(spec, ram, SIM_HARNESS_RAM_SIZE, true, layout, errbuf, sizeof(errbuf));
        if (r >= 0 && res) {
                const uint8_t *h = (const uint8_t *) ram + (layout->dtb_addr - SIM_HARNESS_RAM_BASE);

                res->dtb_size = (uint32_t) h[4] << 24 | (uint32_t) h[5] << 16 | (uint32_t) h[6] << 8 | h[7];
        }
        /* Lent memory must not stay mapped in the host at start. */
        munmap(ram, SIM_HARNESS_RAM_SIZE);
        if (r < 0)
                fprintf(stderr, "vm_guest_prepare: %s\n", errbuf);
        return r;
}

/* Binding, DTB, boot context, vCPUs, start: vm-instance.c's order. */
static int bind_and_start(HvVm *vm, const SimHarnessOptions *o, int mem_fd, const VmLayout *layout) {
        const HvBackendOps *ops = &hv_sim_ops;
        int r;

        r = ops->map_mem(vm, &(HvMemBinding) {
                .guest_addr = SIM_HARNESS_RAM_BASE,
                .size = o->bind_size ?: SIM_HARNESS_RAM_SIZE,
                .guest_mem_fd = mem_fd,
                .access = HV_MEM_LEND,
                .prot = o->prot ?: HV_PROT_RWX,
        });
        if (r >= 0 && o->bind_size)
                /* A partial binding still needs the DTB window bound (and lent). */
                r = ops->map_mem(vm, &(HvMemBinding) {
                        .guest_addr = layout->dtb_addr,
                        .offset = layout->dtb_addr - SIM_HARNESS_RAM_BASE,
                        .size = layout->dtb_window,
                        .guest_mem_fd = mem_fd,
                        .access = HV_MEM_LEND,
                        .prot = HV_PROT_RWX,
                });
        if (r >= 0)
                r = ops->set_dtb_config(vm, layout->dtb_addr, layout->dtb_window);
        if (r >= 0)
                r = ops->set_boot_context(vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0),
                                          layout->entry);
        if (r >= 0)
                r = ops->set_boot_context(vm, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 0),
                                          layout->dtb_addr);
        for (unsigned i = 0; r >= 0 && i < o->vcpus; i++)
                r = ops->add_vcpu(vm, i);
        if (r >= 0 && o->before_start)
                r = o->before_start(vm, o->userdata);
        if (r >= 0)
                r = ops->start(vm);
        return r;
}

int sim_harness_create_vm(const SimHarnessOptions *o, HvBackend **ret_b, HvVm **ret_vm, SimHarnessResult *res) {
        const HvBackendOps *ops = &hv_sim_ops;
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        _cleanup_free_ char *path = sim_harness_guest_path(o->guest), *json = NULL;
        _cleanup_close_ int mem_fd = -EBADF;
        VmSpecError err = {};
        HvBackend *b = NULL;
        HvVm *vm = NULL;
        VmLayout layout;
        int r;

        if (!path)
                return -ENOENT;
        if (asprintf(&json,
                     "{\"name\":\"simtest\",\"vcpus\":%u,\"memory\":{\"size\":%d,\"base\":\"0x%llx\"},"
                     "\"kernel\":{\"path\":\"%s\",\"cmdline\":\"%s\"}}",
                     o->vcpus, SIM_HARNESS_RAM_SIZE, (unsigned long long) SIM_HARNESS_RAM_BASE, path,
                     o->cmdline ?: "console=ttyAMA0") < 0)
                return -ENOMEM;
        r = vm_spec_parse(json, strlen(json), 0, &spec, &err);
        if (r < 0)
                return r;

        r = ops->open(NULL, &b);
        if (r < 0)
                return r;
        r = ops->vm_create(b, &vm);
        if (r >= 0)
                r = ops->guest_mem_create(vm, SIM_HARNESS_RAM_SIZE, &mem_fd);
        if (r >= 0)
                r = load_guest(spec, mem_fd, &layout, res);
        if (r >= 0)
                r = bind_and_start(vm, o, mem_fd, &layout);
        if (r < 0) {
                if (vm)
                        ops->vm_destroy(vm);
                ops->close(b);
                return r;
        }
        if (res) {
                res->entry = layout.entry;
                res->dtb_addr = layout.dtb_addr;
                res->dtb_window = layout.dtb_window;
        }
        *ret_b = b;
        *ret_vm = vm;
        return 0;
}

int sim_harness_attach(const SimHarnessOptions *o, HvBackend **ret_b, HvVm **ret_vm, HvVcpu **ret_vcpu) {
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds);
        int r;

        r = sim_harness_create_vm(o, ret_b, ret_vm, NULL);
        if (r < 0)
                return r;
        r = hv_sim_ops.vcpu_export(*ret_vm, 0, fds, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (own[i] < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = hv_sim_ops.vcpu_attach(own, n, 0, ret_vcpu);
        if (r < 0) {
                hv_sim_ops.vm_destroy(*ret_vm);
                hv_sim_ops.close(*ret_b);
        }
        return r;
}

void sim_harness_detach(HvBackend *b, HvVm *vm, HvVcpu *vcpu) {
        hv_sim_ops.vcpu_detach(vcpu);
        hv_sim_ops.vm_destroy(vm);
        hv_sim_ops.close(b);
}

/* The PL011 as far as the test guests use it: DR and FR. */
static void pl011_mmio(struct gunyah_vcpu_run *run, int console_fd, const char **input) {
        uint64_t off = run->mmio.phys_addr & 0xfff;

        if (run->mmio.is_write) {
                if (off == PL011_DR)
                        (void) loop_write(console_fd, run->mmio.data, 1);
                return;
        }
        memset(run->mmio.data, 0, sizeof(run->mmio.data));
        if (off == PL011_FR)
                run->mmio.data[0] = PL011_FR_TXFE | ((*input && **input) ? 0 : PL011_FR_RXFE);
        else if (off == PL011_DR && *input && **input)
                run->mmio.data[0] = (uint8_t) *(*input)++;
}

static void record_other_mmio(const struct gunyah_vcpu_run *run, SimHarnessVcpu *out) {
        SimHarnessMmio *m;

        if ((run->mmio.phys_addr & ~UINT64_C(0xfff)) == VM_DEFAULT_PL011_BASE)
                return;
        if (out->n_other_mmio++ >= SIM_HARNESS_OTHER_MMIO_MAX)
                return;
        m = &out->other_mmio[out->n_other_mmio - 1];
        *m = (SimHarnessMmio) { .addr = run->mmio.phys_addr, .len = run->mmio.len, .is_write = run->mmio.is_write };
        if (m->is_write)
                memcpy(&m->value, run->mmio.data, sizeof(m->value));
}

int sim_harness_vcpu_loop_record(HvVcpu *vcpu, int console_fd, const char *input, SimHarnessVcpu *out) {
        struct gunyah_vcpu_run *run = hv_sim_ops.vcpu_run_block(vcpu);
        int r;

        for (;;) {
                r = hv_sim_ops.vcpu_run(vcpu);
                if (r < 0)
                        break;
                if (run->exit_reason == GUNYAH_VCPU_EXIT_MMIO) {
                        out->mmio_exits++;
                        out->mmio_write_exits += run->mmio.is_write;
                        record_other_mmio(run, out);
                        pl011_mmio(run, console_fd, &input);
                        continue;
                }
                r = run->exit_reason == GUNYAH_VCPU_EXIT_STATUS ? 0 : -(int) run->exit_reason;
                break;
        }
        return r;
}

int sim_harness_vcpu_loop(HvVcpu *vcpu, int console_fd, const char *input, uint64_t *ret_mmio_exits) {
        SimHarnessVcpu out = {};
        int r = sim_harness_vcpu_loop_record(vcpu, console_fd, input, &out);

        if (ret_mmio_exits)
                *ret_mmio_exits = out.mmio_exits;
        return r;
}

static HvVcpu *worker_vcpu;

static void worker_kick(int sig) {
        if (worker_vcpu)
                hv_sim_ops.vcpu_kick(worker_vcpu);
}

static _noreturn_ void worker_main(HvVm *vm, uint32_t id, int console_fd, const char *input, SimHarnessVcpu *out) {
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = ELEMENTSOF(fds);
        struct sigaction sa = { .sa_handler = worker_kick };
        HvVcpu *vcpu;
        int r;

        r = hv_sim_ops.vcpu_export(vm, id, fds, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (r >= 0)
                r = hv_sim_ops.vcpu_attach(own, n, id, &vcpu);
        if (r < 0) {
                out->rc = r;
                _exit(2);
        }
        worker_vcpu = vcpu;
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGUSR1, &sa, NULL);

        out->rc = sim_harness_vcpu_loop_record(vcpu, console_fd, input, out);
        out->last = *hv_sim_ops.vcpu_run_block(vcpu);
        hv_sim_ops.vcpu_detach(vcpu);
        _exit(0);
}

static void read_console(int fd, SimHarnessResult *res, const SimHarnessOptions *o, pid_t kick_pid, bool *kicked) {
        for (;;) {
                ssize_t k = read(fd, res->console + res->console_len, SIM_HARNESS_CONSOLE_MAX - res->console_len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                res->console_len += (size_t) k;
                res->console[res->console_len] = 0;
                if (o->kick_after && !*kicked && strstr(res->console, o->kick_after)) {
                        (void) kill(kick_pid, SIGUSR1);
                        *kicked = true;
                        return;
                }
        }
}

int sim_harness_run(const SimHarnessOptions *o, SimHarnessResult *res) {
        SimHarnessVcpu *shared;
        pid_t pids[SIM_HARNESS_VCPUS_MAX] = {};
        HvBackend *b;
        HvVm *vm;
        int pipefd[2], r, status;
        bool kicked = false;

        if (o->vcpus == 0 || o->vcpus > SIM_HARNESS_VCPUS_MAX)
                return -EINVAL;
        memset(res, 0, sizeof(*res));
        r = sim_harness_create_vm(o, &b, &vm, res);
        if (r < 0)
                return r;
        shared = mmap(NULL, sizeof(res->vcpu), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED || pipe2(pipefd, O_CLOEXEC) < 0) {
                hv_sim_ops.vm_destroy(vm);
                hv_sim_ops.close(b);
                return -errno;
        }

        for (unsigned i = 0; i < o->vcpus; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        close(pipefd[0]);
                        worker_main(vm, i, pipefd[1], o->input, &shared[i]);
                }
        }
        close(pipefd[1]);

        read_console(pipefd[0], res, o, pids[0], &kicked);
        if (kicked) {
                /* The kicked worker leaves run with -EINTR; then the host stops
                 * the VM, as gunyahd's Kill() does, and the rest must follow. */
                (void) waitpid(pids[0], &status, 0);
                res->vcpu[0].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                pids[0] = 0;
                hv_sim_ops.vm_destroy(vm);
                vm = NULL;
                read_console(pipefd[0], res, o, 0, &kicked);
        }
        close(pipefd[0]);
        for (unsigned i = 0; i < o->vcpus; i++) {
                if (pids[i] <= 0)
                        continue;
                (void) waitpid(pids[i], &status, 0);
                res->vcpu[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        for (unsigned i = 0; i < o->vcpus; i++) {
                int code = res->vcpu[i].exit_code;

                res->vcpu[i] = shared[i];
                res->vcpu[i].exit_code = code;
        }
        munmap(shared, sizeof(res->vcpu));
        if (vm)
                hv_sim_ops.vm_destroy(vm);
        hv_sim_ops.close(b);
        return 0;
}
