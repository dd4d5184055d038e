/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Boots a test guest (tests/guests) on the simulator the way gunyahd will:
 * VM through hv_sim_ops, guest memory loaded by the vmconfig loader (ELF +
 * DTB), lent, unmapped from the host, started, then one forked worker
 * process per vCPU attaching and looping on vcpu_run, answering MMIO with a
 * minimal PL011 and sending console bytes to the parent through a pipe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

#define SIM_HARNESS_VCPUS_MAX 8
#define SIM_HARNESS_CONSOLE_MAX (256 * 1024)
#define SIM_HARNESS_RAM_SIZE (64 * 1024 * 1024)
#define SIM_HARNESS_RAM_BASE UINT64_C(0x80000000)

typedef struct SimHarnessOptions {
        const char *guest;     /* name: $GUNYAH_TEST_GUEST_DIR/<guest>.elf */
        unsigned vcpus;
        const char *cmdline;   /* bootargs, may be NULL */
        const char *input;     /* bytes the PL011 receives, may be NULL */
        /* When the console has printed this, kick vCPU 0's worker (signal
         * → vcpu_kick), and once it left run with -EINTR destroy the VM. */
        const char *kick_after;
        uint32_t prot;         /* HV_PROT_* of the RAM binding; 0: RWX */
        uint64_t bind_size;    /* bytes of RAM bound from its base; 0: all */
        /* Called once the vCPUs are added, before start: registers doorbells. */
        int (*before_start)(HvVm *vm, void *userdata);
        void *userdata;
} SimHarnessOptions;

/* An MMIO exit outside the PL011's page (VM_DEFAULT_PL011_BASE). */
typedef struct SimHarnessMmio {
        uint64_t addr, value;
        uint32_t len;
        bool is_write;
} SimHarnessMmio;
#define SIM_HARNESS_OTHER_MMIO_MAX 16

typedef struct SimHarnessVcpu {
        int rc;                        /* what ended the worker's loop: 0 STATUS, else -errno */
        struct gunyah_vcpu_run last;   /* the run block at that point */
        uint64_t mmio_exits;
        uint64_t mmio_write_exits;
        int exit_code;                 /* worker process exit status */
        SimHarnessMmio other_mmio[SIM_HARNESS_OTHER_MMIO_MAX]; /* the first ones */
        unsigned n_other_mmio;         /* all of them */
} SimHarnessVcpu;

typedef struct SimHarnessResult {
        char console[SIM_HARNESS_CONSOLE_MAX + 1];
        size_t console_len;
        SimHarnessVcpu vcpu[SIM_HARNESS_VCPUS_MAX];
        uint64_t entry, dtb_addr, dtb_window, dtb_size;
} SimHarnessResult;

/* Path of a guest ELF or expected file; NULL when the guests are not built. */
char *sim_harness_guest_path(const char *guest);
char *sim_harness_expected(const char *guest);

/* cmocka counts a skip() as a pass in what cmocka_run_group_tests() returns,
 * so a build without the guests would look fully tested: a test skips with
 * SIM_HARNESS_SKIP(), and main() returns sim_harness_exit_status(failed),
 * which is 77 (meson's SKIP) when nothing failed but something skipped. */
extern unsigned sim_harness_skipped;
#define SIM_HARNESS_SKIP(...)                   \
        do {                                    \
                fprintf(stderr, __VA_ARGS__);   \
                sim_harness_skipped++;          \
                skip();                         \
        } while (0)
int sim_harness_exit_status(int failed);

/* In a cmocka test: sim_harness_run(o, res), skipping when the guest is not
 * built and failing on an error. */
#define SIM_HARNESS_RUN(o, res)                                                                         \
        do {                                                                                            \
                char *_path = sim_harness_guest_path((o)->guest);                                       \
                int _r;                                                                                 \
                                                                                                        \
                if (!_path)                                                                             \
                        SIM_HARNESS_SKIP("guest %s not built (GUNYAH_TEST_GUEST_DIR)\n", (o)->guest);   \
                free(_path);                                                                            \
                _r = sim_harness_run((o), (res));                                                       \
                if (_r < 0)                                                                             \
                        fail_msg("sim_harness_run(%s): %s", (o)->guest, strerror(-_r));                 \
        } while (0)

/* Creates, loads and starts a VM (without forking workers). */
int sim_harness_create_vm(const SimHarnessOptions *o, HvBackend **ret_b, HvVm **ret_vm, SimHarnessResult *res);

/* sim_harness_create_vm, then vCPU 0 exported and attached in this process
 * (no worker): for loops that measure vcpu_run itself. */
int sim_harness_attach(const SimHarnessOptions *o, HvBackend **ret_b, HvVm **ret_vm, HvVcpu **ret_vcpu);
void sim_harness_detach(HvBackend *b, HvVm *vm, HvVcpu *vcpu);

/* Whole run; res is caller memory (large). */
int sim_harness_run(const SimHarnessOptions *o, SimHarnessResult *res);

/* The worker loop for one vCPU attached in this process (exported so that
 * single-process tests and the benchmark reuse it). console_fd gets every
 * transmitted byte. Returns like SimHarnessVcpu.rc. */
int sim_harness_vcpu_loop(HvVcpu *vcpu, int console_fd, const char *input, uint64_t *ret_mmio_exits);
/* The same, also recording the exits outside the PL011 into out. */
int sim_harness_vcpu_loop_record(HvVcpu *vcpu, int console_fd, const char *input, SimHarnessVcpu *out);
