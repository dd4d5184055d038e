/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker half of the simulator: VCPU_RUN as the U17 kernel implements
 * it (gunyah-abi §5), for one vCPU attached from the fds vcpu_export gave.
 *
 * A powered-off vCPU blocks in run on its futex until CPU_ON or the end of
 * the VM. A running vCPU takes the VM's execution lock, runs one slice of
 * guest code, and gives the lock up at every exit, on WFI and at the end of
 * the slice.
 */
#include <endian.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "psci.h"
#include "sim-exec-lock.h"
#include "sim-internal.h"

/* The vCPUs attached in this process, for the kick signal's handler. */
static HvVcpu *volatile attached[SIM_VCPUS_MAX];

static void sim_kick_handler(int sig) {
        /* A spurious stop only ends the current slice early. */
        for (unsigned i = 0; i < SIM_VCPUS_MAX; i++) {
                HvVcpu *v = attached[i];

                if (v)
                        sim_emu_request_stop(v);
        }
}

static int sim_install_kick_handler(void) {
        struct sigaction sa = { .sa_handler = sim_kick_handler }, old;

        /* No SA_RESTART: a futex wait must return to look at the VM state. */
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIM_KICK_SIGNAL, NULL, &old) < 0)
                return -errno;
        if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != sim_kick_handler)
                return -EBUSY; /* the program uses SIGURG itself */
        return sigaction(SIM_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

static int sim_vcpu_map_fds(HvVcpu *v, const int *fds, size_t n_fds) {
        struct stat st;
        SimShared *s;

        if (fstat(fds[0], &st) < 0)
                return -errno;
        if ((size_t) st.st_size < sizeof(SimShared))
                return -EINVAL;
        s = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
        if (s == MAP_FAILED)
                return -errno;
        v->shared = s;
        v->shared_size = (size_t) st.st_size;
        if (s->magic != SIM_SHARED_MAGIC || s->n_guest_mems > SIM_GUEST_MEMS_MAX ||
            s->n_doorbells > SIM_DOORBELLS_MAX || n_fds != 1 + (size_t) s->n_guest_mems + s->n_doorbells)
                return -EINVAL;
        if (v->id >= SIM_VCPUS_MAX || !s->vcpus[v->id].present)
                return -ENOENT;

        for (size_t i = 1; i <= s->n_guest_mems; i++) {
                const SimGuestMemShared *m = &s->guest_mems[i - 1];

                if (fstat(fds[i], &st) < 0)
                        return -errno;
                if (st.st_dev != m->dev || st.st_ino != m->ino)
                        return -EINVAL;
        }
        return 0;
}

/* Guest memory is mapped only once the VM runs: a worker attached before
 * start must not hold a host view of lent memory (start would refuse it). */
static int sim_vcpu_map_guest_mem(HvVcpu *v) {
        const SimShared *s = v->shared;

        for (unsigned i = v->n_mems; i < s->n_guest_mems; i++) {
                v->mem[i] = mmap(NULL, s->guest_mems[i].size, PROT_READ | PROT_WRITE, MAP_SHARED, v->mem_fds[i], 0);
                if (v->mem[i] == MAP_FAILED) {
                        v->mem[i] = NULL;
                        return -errno;
                }
                v->mem_size[i] = s->guest_mems[i].size;
                v->n_mems = i + 1;
        }
        return 0;
}

int sim_vcpu_attach(const int *fds, size_t n_fds, uint32_t id, HvVcpu **ret) {
        HvVcpu *v;
        int r;

        if (!fds || n_fds < 1 || n_fds > 1 + SIM_GUEST_MEMS_MAX + SIM_DOORBELLS_MAX || !ret)
                return -EINVAL;
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->id = id;
        v->shared_fd = -EBADF;
        v->watch_fd = -EBADF;
        for (unsigned i = 0; i < SIM_GUEST_MEMS_MAX; i++)
                v->mem_fds[i] = -EBADF;

        r = sim_vcpu_map_fds(v, fds, n_fds);
        if (r >= 0 && attached[id])
                r = -EBUSY; /* one attachment per vCPU and process */
        if (r >= 0) {
                v->run = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (v->run == MAP_FAILED) {
                        v->run = NULL;
                        r = -ENOMEM;
                }
        }
        if (r >= 0)
                r = sim_emu_create(v);
        if (r >= 0)
                r = sim_install_kick_handler();
        if (r < 0) {
                sim_vcpu_detach(v);
                return r;
        }

        /* Ownership of the fds moves to us only on success. */
        v->shared_fd = fds[0];
        for (size_t i = 1; i <= v->shared->n_guest_mems; i++)
                v->mem_fds[i - 1] = fds[i];
        sim_doorbell_attach(v, fds + 1 + v->shared->n_guest_mems, v->shared->n_doorbells);
        attached[id] = v;
        __atomic_store_n(&v->shared->vcpus[id].pid, getpid(), __ATOMIC_RELEASE);
        __atomic_store_n(&v->shared->vcpus[id].tid, (int32_t) syscall(SYS_gettid), __ATOMIC_RELEASE);
        *ret = v;
        return 0;
}

void sim_vcpu_detach(HvVcpu *v) {
        if (!v)
                return;
        if (v->id < SIM_VCPUS_MAX && attached[v->id] == v) {
                attached[v->id] = NULL;
                __atomic_store_n(&v->shared->vcpus[v->id].tid, 0, __ATOMIC_RELEASE);
                __atomic_store_n(&v->shared->vcpus[v->id].pid, 0, __ATOMIC_RELEASE);
        }
        sim_emu_destroy(v);
        sim_doorbell_detach(v);
        for (unsigned i = 0; i < v->n_mems; i++)
                if (v->mem[i])
                        munmap(v->mem[i], v->mem_size[i]);
        if (v->shared)
                munmap(v->shared, v->shared_size);
        if (v->run)
                munmap(v->run, 4096);
        safe_close(v->shared_fd);
        for (unsigned i = 0; i < SIM_GUEST_MEMS_MAX; i++)
                safe_close(v->mem_fds[i]);
        free(v);
}

struct gunyah_vcpu_run *sim_vcpu_run_block(HvVcpu *v) {
        return v->run;
}

void sim_vcpu_kick(HvVcpu *v) {
        __atomic_store_n(&v->shared->vcpus[v->id].kick, 1, __ATOMIC_RELEASE);
        sim_vcpu_shared_wake(v->shared, v->id);
        sim_emu_request_stop(v);
}

int sim_vcpu_irq_line(HvVcpu *v, uint32_t label, bool level) {
        /* Doorbell labels are SPI numbers; INTIDs 32..1019 are SPIs. */
        if (label >= SIM_GIC_SPURIOUS - 3 - SIM_GIC_SPI_BASE)
                return -EINVAL;
        sim_gic_set_spi_level(v->shared, SIM_GIC_SPI_BASE + label, level);
        return 0;
}

/* Checked on every run: a plain load first, as a locked exchange on every
 * MMIO round trip costs more than the rest of the check. A kick landing just
 * after the load is not lost: it also asks the running slice to stop. */
static bool sim_vcpu_take_kick(HvVcpu *v) {
        uint32_t *kick = &v->shared->vcpus[v->id].kick;

        return sim_load(kick) && __atomic_exchange_n(kick, 0, __ATOMIC_ACQ_REL) != 0;
}

static int sim_vcpu_report_status(HvVcpu *v) {
        struct gunyah_vcpu_run *run = v->run;

        run->exit_reason = GUNYAH_VCPU_EXIT_STATUS;
        memset(&run->status, 0, sizeof(run->status));
        run->status.status = v->shared->status;
        run->status.exit_info = v->shared->exit_info;
        return 0;
}

static int sim_vcpu_report_mmio(HvVcpu *v) {
        struct gunyah_vcpu_run *run = v->run;

        run->exit_reason = GUNYAH_VCPU_EXIT_MMIO;
        memset(&run->mmio, 0, sizeof(run->mmio));
        run->mmio.phys_addr = v->exit_addr;
        run->mmio.len = v->mmio_len;
        run->mmio.is_write = v->mmio_is_write;
        run->mmio.resume_action = GUNYAH_VCPU_RESUME_HANDLED;
        if (v->mmio_is_write) {
                /* mmio_write() kept only the access's bytes: the rest stay 0. */
                uint64_t le = htole64(v->mmio_value);

                memcpy(run->mmio.data, &le, sizeof(le));
        }
        v->mmio_pending = true;
        return 0;
}

static int sim_vcpu_report_page_fault(HvVcpu *v) {
        struct gunyah_vcpu_run *run = v->run;

        run->exit_reason = GUNYAH_VCPU_EXIT_PAGE_FAULT;
        memset(&run->page_fault, 0, sizeof(run->page_fault));
        run->page_fault.phys_addr = v->exit_addr;
        run->page_fault.attempt = v->fault_attempt;
        run->page_fault.resume_action = GUNYAH_VCPU_RESUME_FAULT;
        v->page_fault_pending = true;
        return 0;
}

/* Takes the answer to the MMIO exit. Returns 1 to resume the access, 0
 * when the VM ended instead, -EINVAL for an invalid resume_action. */
static int sim_vcpu_complete_mmio(HvVcpu *v) {
        struct gunyah_vcpu_run *run = v->run;
        uint8_t action = run->mmio.resume_action;

        if (action > GUNYAH_VCPU_RESUME_RETRY)
                return -EINVAL;
        v->mmio_pending = false;
        if (action != GUNYAH_VCPU_RESUME_HANDLED) {
                /* FAULT injects an abort the guest cannot take (no vector
                 * delivery yet); RETRY would re-execute the access, which the
                 * sim cannot do mid-instruction. Both halt the vCPU. */
                sim_emu_crash(v, action == GUNYAH_VCPU_RESUME_FAULT ? "MMIO access faulted by the VMM"
                                                                    : "MMIO access retried by the VMM",
                              v->exit_addr);
                return 0;
        }
        if (!v->mmio_is_write) {
                uint64_t le;

                memcpy(&le, run->mmio.data, sizeof(le));
                /* Only the access's bytes count, whatever the VMM left after them. */
                v->mmio_value = v->mmio_len < 8 ? le64toh(le) & ((UINT64_C(1) << (8 * v->mmio_len)) - 1) : le64toh(le);
        }
        return 1;
}

/* Blocks until this vCPU is powered on. 0: on; -EINTR: kicked; 1: the VM
 * ended or went away. */
static int sim_vcpu_wait_power(HvVcpu *v) {
        SimShared *s = v->shared;
        SimVcpuShared *vs = &s->vcpus[v->id];

        for (;;) {
                uint32_t seq = sim_load(&vs->wake);
                uint32_t power = sim_load(&vs->power);

                if (sim_load(&s->vm_state) != SIM_VM_RUNNING)
                        return 1;
                if (sim_vcpu_take_kick(v))
                        return -EINTR;
                if (power == SIM_POWER_ON)
                        return 0;
                if (power == SIM_POWER_ON_PENDING) {
                        int r = sim_emu_power_on(v);

                        if (r < 0)
                                return r;
                        sim_store(&vs->power, SIM_POWER_ON);
                        return 0;
                }
                (void) sim_futex_wait(&vs->wake, seq, NULL);
        }
}

int sim_vcpu_watch_fd(HvVcpu *v, int fd, int (*ready)(void *userdata), void *userdata) {
        if (fd < 0 || !ready)
                return -EINVAL;
        v->watch_fd = fd;
        v->watch_ready = ready;
        v->watch_userdata = userdata;
        return 0;
}

/* Sleeps in ppoll on the watched fd and the irqfds instead of the futex.
 * The kick signal is blocked from announcing fd_wait until ppoll unblocks
 * it atomically, so a waker that saw fd_wait cannot signal too early.
 * Returns whether the watched fd stays watched in this WFI. */
static bool sim_vcpu_wait_fds(HvVcpu *v, uint32_t seq, const struct timespec *timeout, bool watch) {
        SimVcpuShared *vs = &v->shared->vcpus[v->id];
        struct pollfd p[1 + SIM_DOORBELLS_MAX];
        unsigned slots[SIM_DOORBELLS_MAX], n_irqfds, first = watch ? 1 : 0;
        sigset_t kick, old;
        int n = 0;

        if (watch)
                p[0] = (struct pollfd) { .fd = v->watch_fd, .events = POLLIN };
        n_irqfds = sim_doorbell_irqfd_pollfds(v, p + first, slots);
        sigemptyset(&kick);
        sigaddset(&kick, SIM_KICK_SIGNAL);
        pthread_sigmask(SIG_BLOCK, &kick, &old);
        __atomic_store_n(&vs->fd_wait, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&vs->wake, __ATOMIC_SEQ_CST) == seq)
                n = ppoll(p, first + n_irqfds, timeout, &old);
        __atomic_store_n(&vs->fd_wait, 0, __ATOMIC_SEQ_CST);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (n <= 0)
                return watch;
        sim_doorbell_irqfds_ready(v, p + first, slots, n_irqfds);
        if (!watch || !p[0].revents)
                return watch;
        if (!(p[0].revents & POLLIN))
                return false; /* hung up: nothing more will come */
        return v->watch_ready(v->watch_userdata) <= 0;
}

/* WFI: sleeps until the GIC signals an interrupt to this vCPU (whatever
 * PSTATE.I says, as WFI does), its next timer deadline, a kick, the end of
 * the VM, input on the watched fd or a signalled irqfd. Whoever raises an interrupt for us
 * bumps our wake word, so an idle guest costs no host CPU. */
static void sim_vcpu_wfi(HvVcpu *v) {
        SimShared *s = v->shared;
        SimVcpuShared *vs = &s->vcpus[v->id];
        bool watch = v->watch_fd >= 0;

        for (;;) {
                uint32_t seq = sim_load(&vs->wake);
                struct timespec ts, *timeout = NULL;
                uint64_t now;

                if (sim_load(&s->vm_state) != SIM_VM_RUNNING || sim_load(&vs->kick) ||
                    sim_load(&vs->power) != SIM_POWER_ON)
                        return;
                sim_timer_update(v);
                if (sim_gic_signaled(v))
                        return;
                if (v->timer_deadline_ns != UINT64_MAX) {
                        now = sim_timer_now_ns();
                        if (now >= v->timer_deadline_ns)
                                continue;
                        ts.tv_sec = (time_t) ((v->timer_deadline_ns - now) / 1000000000u);
                        ts.tv_nsec = (long) ((v->timer_deadline_ns - now) % 1000000000u);
                        timeout = &ts;
                }
                if (watch || v->has_irqfds)
                        watch = sim_vcpu_wait_fds(v, seq, timeout, watch);
                else
                        (void) sim_futex_wait(&vs->wake, seq, timeout);
        }
}

/* Takes the lock for one slice (or the rest of a suspended MMIO access).
 * false: the VM no longer runs, the lock is not held. */
static bool sim_vcpu_slice_begin(HvVcpu *v) {
        SimShared *s = v->shared;

        sim_exec_lock(s);
        if (sim_load(&s->vm_state) != SIM_VM_RUNNING) {
                sim_exec_unlock(s);
                return false;
        }
        v->stop = SIM_STOP_NONE;
        /* Resuming an access suspended inside uc_emu_start (an MMIO exit):
         * covers cannot be mapped there, and the block hook already looks at
         * the GIC's update flag at every block and at the timers every
         * SIM_SLICE_CHECK_BLOCKS blocks, as it does between MMIO exits. */
        if (!v->in_emu_start) {
                sim_va_cover_sync(v);
                sim_emu_sync_irqs(v);
        }
        return true;
}

/* After the emulation context yielded: gives the lock up and turns why into
 * an exit. Returns 0 with an exit in the run block, 1 to go round again. */
static int sim_vcpu_slice_end(HvVcpu *v) {
        SimShared *s = v->shared;
        int r;

        sim_exec_unlock(s);
        /* The vCPU leaves guest code: the device must not wait for a batch. */
        sim_doorbell_flush(v);
        if (v->yield == SIM_YIELD_MMIO)
                return sim_vcpu_report_mmio(v);
        switch (v->stop) {
        case SIM_STOP_PAGE_FAULT:
                return sim_vcpu_report_page_fault(v);
        case SIM_STOP_VA_COVER:
                sim_exec_lock(s);
                r = sim_va_cover(v, v->va_cover_fetch);
                sim_exec_unlock(s);
                if (r < 0)
                        sim_emu_crash(v, "no VA cover for an instruction fetch", v->va_cover_fetch);
                return 1;
        case SIM_STOP_CPU_OFF:
        case SIM_STOP_VM_ENDED:
                return 1;
        case SIM_STOP_NONE:
                break;
        }
        if (v->emu_err != UC_ERR_OK) {
                sim_emu_crash(v, uc_strerror(v->emu_err), v->emu_err);
                return 1;
        }
        if (sim_emu_stopped_on_wfi(v))
                sim_vcpu_wfi(v);
        return 1;
}

/* Everything before a slice. Returns 1 to run one, 0 with an exit in the
 * run block, -errno. */
static int sim_vcpu_prepare(HvVcpu *v) {
        SimShared *s = v->shared;
        int r;

        for (;;) {
                uint32_t state = sim_load(&s->vm_state);

                if (state == SIM_VM_ENDED)
                        return sim_vcpu_report_status(v);
                if (state != SIM_VM_RUNNING)
                        return -ENODEV;
                /* The answer to an MMIO exit, the common case: the run that
                 * reported the exit passed the checks below, and while the VM
                 * runs nothing undoes them (the sim never removes a vCPU,
                 * rules leave RUNNING only with vm_state, the memory is
                 * mapped once, a page fault is never resumed). */
                if (v->mmio_pending) {
                        r = sim_vcpu_complete_mmio(v);
                        if (r != 0)
                                return r;
                        continue; /* the VMM's answer ended the VM */
                }
                r = gh_rules_vcpu_run(&s->rules, v->id);
                if (r < 0)
                        return r;
                if (v->page_fault_pending) /* re-running re-faults: nothing changed */
                        return sim_vcpu_report_page_fault(v);
                if (!v->memory_mapped) {
                        r = sim_vcpu_map_guest_mem(v);
                        if (r >= 0)
                                r = sim_emu_map_memory(v);
                        if (r < 0)
                                return log_debug_errno(r, "sim: vCPU %" PRIu32 ": cannot map guest memory: %m", v->id);
                }
                r = sim_vcpu_wait_power(v);
                if (r <= 0)
                        return r < 0 ? r : 1;
        }
}

int sim_vcpu_run(HvVcpu *v) {
        int r;

        if (v->run->immediate_exit || sim_vcpu_take_kick(v))
                return -EINTR;

        for (;;) {
                r = sim_vcpu_prepare(v);
                if (r <= 0)
                        return r;
                if (!sim_vcpu_slice_begin(v))
                        continue;
                /* The switch is expanded here, not in a helper: every frame
                 * between it and our caller is a mispredicted return when the
                 * emulation context yields (sim-switch.h). */
                if (v->emu_started)
                        SIM_SWITCH(&v->caller_sw, &v->emu_sw);
                else
                        sim_emu_enter(v);
                r = sim_vcpu_slice_end(v);
                if (r <= 0)
                        return r;
                if (sim_vcpu_take_kick(v))
                        return -EINTR;
        }
}
