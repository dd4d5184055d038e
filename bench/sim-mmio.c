/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MMIO write exits per second: the mmio-flood guest through hv_sim_ops'
 * vcpu_run and the PL011 model, against a bare unicorn loop in the same run
 * that answers the same accesses from the same guest with the same model in
 * its MMIO callbacks. Each side runs in its own child process, so the peak
 * RSS printed is that of a process running one vCPU.
 *
 * Usage: sim-mmio <guest-dir> [writes]. Prints a table; not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include "boot-images.h"
#include "pl011.h"
#include "sim-harness.h"
#include "vm-spec.h"

typedef struct Sample {
        uint64_t exits;
        double seconds;
        double cpu_seconds; /* the child's own CPU time: what load on the machine changes least */
        long rss_kib;
        int ok;
} Sample;

static double clock_seconds(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double now(void) {
        return clock_seconds(CLOCK_MONOTONIC);
}

static double cpu_now(void) {
        return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

static long peak_rss_kib(void) {
        char line[256];
        long kib = -1;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static void discard(uint8_t byte, void *userdata) {
}

/* ---- through hv_sim_ops ---- */

static void run_sim(const char *cmdline, Sample *out) {
        SimHarnessOptions o = { .guest = "mmio-flood", .vcpus = 1, .cmdline = cmdline };
        int fds[HV_VCPU_EXPORT_FDS_MAX], own[HV_VCPU_EXPORT_FDS_MAX];
        size_t n = HV_VCPU_EXPORT_FDS_MAX;
        struct gunyah_vcpu_run *run;
        Pl011 uart;
        HvBackend *b;
        HvVm *vm;
        HvVcpu *vcpu;
        double t0, c0;

        if (sim_harness_create_vm(&o, &b, &vm, NULL) < 0 || hv_sim_ops.vcpu_export(vm, 0, fds, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (hv_sim_ops.vcpu_attach(own, n, 0, &vcpu) < 0)
                return;
        run = hv_sim_ops.vcpu_run_block(vcpu);
        pl011_reset(&uart);

        c0 = cpu_now();
        t0 = now();
        while (hv_sim_ops.vcpu_run(vcpu) == 0 && run->exit_reason == GUNYAH_VCPU_EXIT_MMIO) {
                uint64_t off = run->mmio.phys_addr & (PL011_MMIO_SIZE - 1), v = 0;

                if (run->mmio.is_write) {
                        memcpy(&v, run->mmio.data, 8);
                        (void) pl011_mmio_write(&uart, off, run->mmio.len, v, discard, NULL);
                        out->exits++;
                } else {
                        (void) pl011_mmio_read(&uart, off, run->mmio.len, &v);
                        memcpy(run->mmio.data, &v, 8);
                }
        }
        out->seconds = now() - t0;
        out->cpu_seconds = cpu_now() - c0;
        out->ok = run->exit_reason == GUNYAH_VCPU_EXIT_STATUS && run->status.exit_info.type == GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF;
        out->rss_kib = peak_rss_kib();
        hv_sim_ops.vcpu_detach(vcpu);
        hv_sim_ops.vm_destroy(vm);
        hv_sim_ops.close(b);
}

/* ---- bare unicorn ---- */

typedef struct Bare {
        Pl011 uart;
        uint64_t exits;
        bool off;
} Bare;

static uint64_t bare_read(uc_engine *uc, uint64_t offset, unsigned size, void *userdata) {
        Bare *b = userdata;
        uint64_t v = 0;
        (void) pl011_mmio_read(&b->uart, offset & (PL011_MMIO_SIZE - 1), size, &v);
        return v;
}

static void bare_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *userdata) {
        Bare *b = userdata;
        (void) pl011_mmio_write(&b->uart, offset & (PL011_MMIO_SIZE - 1), size, value, discard, NULL);
        b->exits++;
}

static void bare_hvc(uc_engine *uc, uint32_t intno, void *userdata) {
        Bare *b = userdata;
        uint64_t x0 = 0;

        (void) uc_reg_read(uc, UC_ARM64_REG_X0, &x0);
        if (intno == 11 && (uint32_t) x0 == 0x84000008u)
                b->off = true;
        else if (intno == 11) {
                x0 = 0x10001; /* PSCI_VERSION; nothing else is asked */
                (void) uc_reg_write(uc, UC_ARM64_REG_X0, &x0);
                return;
        }
        uc_emu_stop(uc);
}

static void cp_write(uc_engine *uc, uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2, uint64_t v) {
        uc_arm64_cp_reg r = { .crn = crn, .crm = crm, .op0 = op0, .op1 = op1, .op2 = op2, .val = v };

        (void) uc_reg_write(uc, UC_ARM64_REG_CP_REG, &r);
}

static void run_bare(const char *guest_dir, const char *cmdline, Sample *out) {
        static const uint32_t eret = 0xd69f03e0u;
        char json[1024], err[VM_BOOT_ERROR_MAX];
        VmSpec *spec = NULL;
        VmSpecError e = {};
        VmLayout layout;
        Bare b = {};
        uc_engine *uc;
        uc_hook h;
        void *ram;
        double t0, c0;

        snprintf(json, sizeof(json),
                 "{\"name\":\"bare\",\"vcpus\":1,\"memory\":{\"size\":%d,\"base\":\"0x80000000\"},"
                 "\"kernel\":{\"path\":\"%s/mmio-flood.elf\",\"cmdline\":\"%s\"}}",
                 SIM_HARNESS_RAM_SIZE, guest_dir, cmdline);
        ram = mmap(NULL, SIM_HARNESS_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ram == MAP_FAILED || vm_spec_parse(json, strlen(json), 0, &spec, &e) < 0 ||
            vm_guest_prepare(spec, ram, SIM_HARNESS_RAM_SIZE, true, &layout, err, sizeof(err)) < 0)
                return;
        if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc) != UC_ERR_OK)
                return;
        uc_ctl_set_cpu_model(uc, UC_CPU_ARM64_A72);
        pl011_reset(&b.uart);
        uc_mem_map_ptr(uc, SIM_HARNESS_RAM_BASE, SIM_HARNESS_RAM_SIZE, UC_PROT_ALL, ram);
        uc_mmio_map(uc, 0, UINT64_C(1) << 30, bare_read, &b, bare_write, &b);
        uc_mem_map(uc, 0x8000000000, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
        uc_mem_write(uc, 0x8000000000, &eret, sizeof(eret));
        uc_hook_add(uc, &h, UC_HOOK_INTR, bare_hvc, &b, 1, 0);
        cp_write(uc, 3, 6, 1, 1, 0, 0x501);                 /* SCR_EL3 */
        cp_write(uc, 3, 4, 1, 1, 0, UINT64_C(1) << 31);     /* HCR_EL2.RW */
        cp_write(uc, 3, 0, 4, 0, 1, layout.entry);          /* ELR_EL1 */
        cp_write(uc, 3, 0, 4, 0, 0, 0x3c5);                 /* SPSR_EL1 */
        uc_reg_write(uc, UC_ARM64_REG_X0, &layout.dtb_addr);

        c0 = cpu_now();
        t0 = now();
        (void) uc_emu_start(uc, 0x8000000000, 0, 0, 0);
        out->seconds = now() - t0;
        out->cpu_seconds = cpu_now() - c0;
        out->exits = b.exits;
        out->ok = b.off;
        out->rss_kib = peak_rss_kib();
        uc_close(uc);
        vm_spec_free(spec);
}

static int measure(void (*fn)(Sample *, void *), void *arg, Sample *ret) {
        Sample *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pid_t pid;

        if (s == MAP_FAILED)
                return -errno;
        memset(s, 0, sizeof(*s));
        pid = fork();
        if (pid == 0) {
                fn(s, arg);
                _exit(0);
        }
        (void) waitpid(pid, NULL, 0);
        *ret = *s;
        munmap(s, sizeof(*s));
        return ret->ok ? 0 : -EIO;
}

typedef struct Args {
        const char *guest_dir, *cmdline;
} Args;

static void sim_fn(Sample *s, void *p) {
        run_sim(((Args *) p)->cmdline, s);
}

static void bare_fn(Sample *s, void *p) {
        run_bare(((Args *) p)->guest_dir, ((Args *) p)->cmdline, s);
}

int main(int argc, char **argv) {
        unsigned long writes = argc > 2 ? strtoul(argv[2], NULL, 0) : 200000;
        char cmdline[64];
        Args a;
        Sample sim, bare;
        double rs, rb, cs, cb;

        if (argc < 2) {
                fprintf(stderr, "usage: %s <guest-dir> [writes]\n", argv[0]);
                return 2;
        }
        setenv("GUNYAH_TEST_GUEST_DIR", argv[1], 1);
        snprintf(cmdline, sizeof(cmdline), "flood=%lu", writes);
        a = (Args) { argv[1], cmdline };
        if (measure(bare_fn, &a, &bare) < 0 || measure(sim_fn, &a, &sim) < 0) {
                fprintf(stderr, "a run did not end with SYSTEM_OFF\n");
                return 1;
        }
        rs = (double) sim.exits / sim.seconds;
        rb = (double) bare.exits / bare.seconds;
        cs = (double) sim.exits / sim.cpu_seconds;
        cb = (double) bare.exits / bare.cpu_seconds;
        printf("%-28s %12s %10s %14s %10s %14s %12s\n", "mmio-flood, 1 vCPU", "writes", "seconds", "writes/s",
               "CPU s", "writes/CPU s", "peak RSS");
        printf("%-28s %12" PRIu64 " %10.3f %14.0f %10.3f %14.0f %9ld KiB\n", "bare unicorn loop", bare.exits,
               bare.seconds, rb, bare.cpu_seconds, cb, bare.rss_kib);
        printf("%-28s %12" PRIu64 " %10.3f %14.0f %10.3f %14.0f %9ld KiB\n", "hv_sim_ops vcpu_run + PL011", sim.exits,
               sim.seconds, rs, sim.cpu_seconds, cs, sim.rss_kib);
        /* On a busy machine the wall-clock rates also measure the scheduler;
         * the CPU-time ratio is the one to compare across runs. */
        printf("cost ratio (bare rate / sim rate): %.2fx wall clock, %.2fx CPU time (goal <= 1.25x)\n", rb / rs, cb / cs);
        return 0;
}
