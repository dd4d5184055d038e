/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyah-vcpu: runs one vCPU of one VM for gunyahd (design §4).
 *
 * Started by the daemon only, with its control socket on fd 3
 * (worker-protocol.h). It enters the part of its sandbox that needs nothing
 * of a VM, waits for its WorkerConfig, attaches to its vCPU, completes the
 * sandbox, runs the VCPU_RUN loop, emulates the guest's MMIO devices
 * (devices.c) and reports how the VM ended over the control socket.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices.h"
#include "eventfd-util.h"
#include "hv.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "sandbox-seccomp.h"
#include "sandbox.h"
#include "test-hooks.h"
#include "time-util.h"
#include "worker-protocol.h"

/* The command line: who this process is, nothing of a VM. */
typedef struct WorkerOptions {
        bool spare; /* started ahead of time by the daemon's pool: a label */
        bool no_sandbox;
        uid_t uid;  /* identity the sandbox drops to */
        gid_t gid;
#if GUNYAH_SANDBOX_TEST_HOOKS
        TestHook test_hook;
#endif
} WorkerOptions;

static const HvBackendOps *ops;
static HvVcpu *vcpu;

static void on_kick(int sig) {
        if (ops && vcpu)
                ops->vcpu_kick(vcpu);
}

static void irq_line(uint32_t spi, bool level, void *userdata) {
        (void) ops->vcpu_irq_line(vcpu, spi, level);
}

/* Kernel backend: a device line goes to the guest through the irqfd of its
 * doorbell, registered level by the daemon. An eventfd can only ring, not
 * lower a line: the doorbell stays asserted until the guest has handled it
 * (Gunyah clears it on the guest's acknowledge), and every device access that
 * leaves the line high rings again, so a condition that outlives the guest's
 * handler is delivered once more. A low level needs no action. */
static void ring_doorbell(uint32_t spi, bool level, void *userdata) {
        const WorkerConfig *c = userdata;

        if (!level)
                return;
        for (size_t i = 0; i < c->n_irqfds; i++)
                if (c->irq_labels[i] == spi) {
                        (void) eventfd_ring(WORKER_FD_BACKEND + (int) (c->n_backend_fds + i));
                        return;
                }
}

static int console_ready(void *userdata) {
        return devices_console_ready(userdata);
}

static void help(void) {
        printf("gunyah-vcpu [--spare] (--uid=UID --gid=GID | --no-sandbox)\n\n"
               "Runs one vCPU of a VM for gunyahd, which starts it with its control socket\n"
               "on fd 3 (SOCK_SEQPACKET); not meant to be started by hand. It enters its\n"
               "sandbox as UID/GID, then receives which vCPU of which VM it runs, and that\n"
               "VM's fds, from gunyahd.\n\n"
               "  -h --help             show this help\n"
               "     --uid=UID          sandbox user (never 0)\n"
               "     --gid=GID          sandbox group (never 0)\n"
               "     --no-sandbox       DEBUG ONLY: run without the sandbox\n"
               "     --spare            started ahead of time by gunyahd's worker pool\n"
#if GUNYAH_SANDBOX_TEST_HOOKS
               "     --test-hook=ATTEMPT TEST ONLY: attempt ATTEMPT in the sandbox\n"
#endif
               );
}

/* 1: run; 0: done (--help); -errno: bad command line. */
static int parse_argv(int argc, char *argv[], WorkerOptions *o) {
        enum { ARG_UID = 0x100, ARG_GID, ARG_NO_SANDBOX, ARG_SPARE, ARG_TEST_HOOK };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "uid", required_argument, NULL, ARG_UID },
                { "gid", required_argument, NULL, ARG_GID },
                { "no-sandbox", no_argument, NULL, ARG_NO_SANDBOX },
                { "spare", no_argument, NULL, ARG_SPARE },
#if GUNYAH_SANDBOX_TEST_HOOKS
                { "test-hook", required_argument, NULL, ARG_TEST_HOOK },
#endif
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_UID:
                case ARG_GID:
                        if (sandbox_parse_id_option(c == ARG_UID, optarg, &o->uid, &o->gid) < 0)
                                return -EINVAL;
                        break;
                case ARG_NO_SANDBOX:
                        o->no_sandbox = true;
                        break;
                case ARG_SPARE:
                        o->spare = true;
                        break;
#if GUNYAH_SANDBOX_TEST_HOOKS
                case ARG_TEST_HOOK:
                        o->test_hook = test_hook_from_string(optarg);
                        if (o->test_hook < 0)
                                return log_error_errno(-EINVAL, "--test-hook=%s: unknown attempt", optarg);
                        break;
#endif
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "unexpected argument '%s' (the VM comes from gunyahd, not "
                                       "the command line)", argv[optind]);
        if (sandbox_check_id_options(o->no_sandbox, o->uid, o->gid) < 0)
                return -EINVAL;
        return 1;
}

static void send_message(WorkerMessage *msg, const Devices *d) {
        msg->unhandled_mmio = d ? devices_unhandled_count(d) : 0;
        /* A gone daemon is not our problem here. */
        (void) worker_message_send(WORKER_FD_CONTROL, msg, 0);
}

static void report_failure(uint32_t id, int error, const char *step, const Devices *d) {
        WorkerMessage msg = { .type = WORKER_MSG_FAILED, .vcpu = id, .error = error };

        snprintf(msg.step, sizeof(msg.step), "%s", step);
        send_message(&msg, d);
}

/* Reports and logs a failure at step; returns error. */
static int fail_at(uint32_t id, int error, const char *step, const Devices *d) {
        report_failure(id, error, step, d);
        return log_error_errno(error, "failed at %s: %m", step);
}

/* fd 3 must be the daemon's control socket; everything above it is closed,
 * so that the fds of the configuration arrive on 4, 5, ... */
static int take_control_socket(void) {
        int type = 0;
        socklen_t len = sizeof(type);

        if (getsockopt(WORKER_FD_CONTROL, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
                return log_error_errno(-EBADF, "gunyah-vcpu is started by gunyahd only: fd %d must be its "
                                       "control socket (see --help)", WORKER_FD_CONTROL);
        if (close_range(WORKER_FD_CONTROL + 1, ~0U, 0) < 0)
                return log_error_errno(errno, "close_range(%d, ~0) failed: %m", WORKER_FD_CONTROL + 1);
        return 0;
}

/* Test hooks that look below seccomp, or replace its kill by a log, need
 * the idle filter out of their way. */
static bool idle_filter_wanted(const WorkerOptions *o) {
#if GUNYAH_SANDBOX_TEST_HOOKS
        return !IN_SET(o->test_hook, TEST_HOOK_LAYERS, TEST_HOOK_SECCOMP_LOG);
#else
        return true;
#endif
}

/* Everything of the sandbox that needs nothing of a VM, before waiting. */
static int enter_idle_sandbox(const WorkerOptions *o) {
        const char *step = NULL;
        int r;

        if (o->no_sandbox)
                return 0;
        r = sandbox_enter_idle("gunyah-vcpu", o->uid, o->gid, &step);
        if (r >= 0 && idle_filter_wanted(o)) {
                step = "sandbox-seccomp-idle";
                r = sandbox_seccomp_install_idle();
        }
        if (r < 0)
                return fail_at(WORKER_VCPU_UNKNOWN, r, strna(step), NULL);
        return 0;
}

/* Says it is idle, then waits for the VM it runs. 1: configured, its fds on
 * WORKER_FD_CONSOLE, ...; 0: the daemon went away. */
static int receive_config(WorkerConfig *ret) {
        WorkerMessage idle = { .type = WORKER_MSG_IDLE, .vcpu = WORKER_VCPU_UNKNOWN };
        int fds[WORKER_CONFIG_FDS_MAX];
        size_t n_fds;
        int r;

        send_message(&idle, NULL);
        r = worker_config_receive(WORKER_FD_CONTROL, ret, fds, &n_fds);
        if (r < 0)
                return fail_at(WORKER_VCPU_UNKNOWN, r, "config", NULL);
        if (r == 0)
                return 0; /* nothing to clean up yet */
        /* Only 0-3 were open: the kernel put them on the lowest free numbers. */
        for (size_t i = 0; i < n_fds; i++)
                if (fds[i] != WORKER_FD_CONSOLE + (int) i) {
                        log_error("config fd %zu arrived as fd %d, expected %d", i, fds[i], WORKER_FD_CONSOLE + (int) i);
                        return fail_at(ret->vcpu, -EBADF, "config-fds", NULL);
                }
        return 1;
}

static void set_log_prefix(const WorkerConfig *c) {
        static char prefix[128];

        snprintf(prefix, sizeof(prefix), "gunyah-vcpu[%s/%" PRIu32 "]", c->vm, c->vcpu);
        log_set_prefix(prefix);
}

/* Attaches to the vCPU and maps the devices; kick handler and lines. */
static int attach(const WorkerConfig *c, Devices **ret) {
        int first_virtio_fd = WORKER_FD_BACKEND + (int) (c->n_backend_fds + c->n_irqfds);
        const DevicesConfig dc = {
                .pl011_base = c->pl011_base, .pl061_base = c->pl061_base,
                .pl011_spi = c->pl011_spi, .pl061_spi = c->pl061_spi,
                .virtio_bases = c->virtio_base, .n_virtio = c->n_virtio,
                .virtio_regs_fd = first_virtio_fd, .virtio_kick_fd = first_virtio_fd + (int) c->n_virtio,
        };
        /* No SA_RESTART: a kick must interrupt a blocking run. */
        struct sigaction sa = { .sa_handler = on_kick };
        int fds[HV_VCPU_EXPORT_FDS_MAX];
        Devices *d = NULL;
        int r;

        ops = hv_backend_lookup(c->backend);
        if (!ops) {
                log_error("unknown backend '%s'", c->backend);
                return fail_at(c->vcpu, -EINVAL, "backend", NULL);
        }
        r = devices_open(WORKER_FD_DEVICES, WORKER_FD_CONSOLE, c->vcpu, &dc, &d);
        if (r < 0)
                return fail_at(c->vcpu, r, "devices", NULL);
        *ret = d;

        for (size_t i = 0; i < c->n_backend_fds; i++)
                fds[i] = WORKER_FD_BACKEND + (int) i;
        r = ops->vcpu_attach(fds, c->n_backend_fds, c->vcpu, &vcpu);
        if (r < 0)
                return fail_at(c->vcpu, r, "vcpu-attach", d);

        sigemptyset(&sa.sa_mask);
        if (sigaction(WORKER_KICK_SIGNAL, &sa, NULL) < 0)
                return fail_at(c->vcpu, negative_errno(), "signals", d);

        /* Backends whose interrupt controller lives with the workers (the
         * sim) let the devices drive their lines and wake a vCPU in WFI when
         * console input arrives. */
        if (ops->vcpu_irq_line)
                devices_set_irq_line(d, irq_line, NULL);
        else if (c->n_irqfds > 0)
                devices_set_irq_line(d, ring_doorbell, (void *) c);
        if (ops->vcpu_watch_fd) {
                r = ops->vcpu_watch_fd(vcpu, WORKER_FD_CONSOLE, console_ready, d);
                if (r < 0)
                        return fail_at(c->vcpu, r, "watch-console", d);
        }
        return 0;
}

/* The rest of the sandbox, now that the VM's fds are known, then the
 * backend's seccomp filter. */
static int enter_vm_sandbox(const WorkerOptions *o, const WorkerConfig *c) {
        const char *step = NULL;
        bool log_only = false;
        int r;

        if (o->no_sandbox)
                return 0;
        /* the irqfds, virtio register pages and kicks follow the backend fds and stay open too */
        r = sandbox_confine(WORKER_FD_BACKEND + c->n_backend_fds + c->n_irqfds + 2 * c->n_virtio - 1, &step);
#if GUNYAH_SANDBOX_TEST_HOOKS
        if (r >= 0 && o->test_hook == TEST_HOOK_LAYERS)
                r = test_hook_check_layers(&step);
        log_only = o->test_hook == TEST_HOOK_SECCOMP_LOG;
#endif
        if (r >= 0) {
                step = "sandbox-seccomp";
                r = sandbox_seccomp_install(ops->name, log_only,
                                            WORKER_FD_BACKEND + (int) (c->n_backend_fds + c->n_irqfds + c->n_virtio),
                                            c->n_virtio);
        }
        if (r < 0) /* sent before the filter, or allowed by it: send is */
                return fail_at(c->vcpu, r, strna(step), NULL);
        return 0;
}

/* Reads what the daemon sent; returns 1 when told to leave. */
static int handle_control(Devices *d) {
        WorkerMessage msg;

        for (;;) {
                ssize_t n = recv(WORKER_FD_CONTROL, &msg, sizeof(msg), MSG_DONTWAIT);
                if (n < 0)
                        return 0;
                if (n == 0)
                        return 1; /* the daemon closed our control socket */
                if ((size_t) n != sizeof(msg))
                        continue;
                switch (msg.type) {
                case WORKER_MSG_STOP:
                        return 1;
                case WORKER_MSG_POWER_BUTTON:
                        devices_press_power_button(d);
                        break;
                default:
                        log_warning("unknown control message %u, ignoring", msg.type);
                }
        }
}

/* Reports how the VM ended for this vCPU; 0 when the loop is over. */
static int handle_exit(const WorkerConfig *c, const struct gunyah_vcpu_run *run, Devices *d) {
        WorkerMessage msg = { .vcpu = c->vcpu };

        switch (run->exit_reason) {
        case GUNYAH_VCPU_EXIT_STATUS:
                msg.type = WORKER_MSG_VM_EXITED;
                msg.status = run->status.status;
                msg.exit_info = run->status.exit_info;
                msg.realtime_usec = now_realtime_usec();
                break;
        case GUNYAH_VCPU_EXIT_PAGE_FAULT:
                msg.type = WORKER_MSG_PAGE_FAULT;
                msg.error = run->page_fault.attempt;
                msg.addr = run->page_fault.phys_addr;
                break;
        default:
                report_failure(c->vcpu, -EPROTO, "unknown-exit", d);
                return log_error_errno(-EPROTO, "unknown exit reason %u", run->exit_reason);
        }
        devices_flush(d);
        send_message(&msg, d);
        return 0;
}

static int run_loop(const WorkerConfig *c, Devices *d) {
        struct gunyah_vcpu_run *run = ops->vcpu_run_block(vcpu);
        int r;

        for (;;) {
                r = ops->vcpu_run(vcpu);
                if (r == -EINTR) {
                        run->immediate_exit = 0;
                        devices_flush(d);
                        if (handle_control(d) > 0)
                                return 0;
                        continue;
                }
                if (r < 0) {
                        report_failure(c->vcpu, r, "vcpu-run", d);
                        return log_error_errno(r, "VCPU_RUN failed: %m");
                }
                if (run->exit_reason != GUNYAH_VCPU_EXIT_MMIO)
                        return handle_exit(c, run, d);
                devices_handle_mmio(d, run);
        }
}

/* Ready, then guest code until the VM or the daemon ends it. */
static int run(const WorkerOptions *o, const WorkerConfig *c, Devices *d) {
        WorkerMessage ready = { .type = WORKER_MSG_READY, .vcpu = c->vcpu };

        send_message(&ready, d);
#if GUNYAH_SANDBOX_TEST_HOOKS
        if (o->test_hook == TEST_HOOK_CLOCK_SYSCALLS)
                (void) test_hook_clock_syscalls(); /* then runs on: a kill fails the VM */
        if (o->test_hook > TEST_HOOK_NONE && o->test_hook < TEST_HOOK_LAYERS) {
                /* Running: a kill now is a worker failure, not a failed start. */
                int r = test_hook_attempt(o->test_hook);
                report_failure(c->vcpu, r < 0 ? r : -EEXIST, "hook-survived", d);
                return log_error_errno(r < 0 ? r : -EEXIST, "test-hook %s: survived (%d)",
                                       test_hook_to_string(o->test_hook), r);
        }
#endif
        return run_loop(c, d);
}

static void detach(Devices *d) {
        sigset_t kick;
        HvVcpu *v = vcpu;

        /* A late kick must not reach a detached vCPU. */
        sigemptyset(&kick);
        sigaddset(&kick, WORKER_KICK_SIGNAL);
        (void) sigprocmask(SIG_BLOCK, &kick, NULL);
        devices_set_irq_line(d, NULL, NULL);
        vcpu = NULL;
        ops->vcpu_detach(v);
        devices_close(d);
}

int main(int argc, char *argv[]) {
        WorkerOptions o = { .uid = (uid_t) -1, .gid = (gid_t) -1 };
        WorkerConfig c;
        Devices *d = NULL;
        int r;

        log_set_prefix("gunyah-vcpu");
        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (o.spare)
                log_set_prefix("gunyah-vcpu[spare]");

        r = take_control_socket();
        if (r >= 0)
                r = enter_idle_sandbox(&o);
        if (r >= 0)
                r = receive_config(&c);
        if (r <= 0) /* 0: the daemon went away before it said which VM */
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        set_log_prefix(&c);

        r = attach(&c, &d);
        if (r >= 0)
                r = enter_vm_sandbox(&o, &c);
        if (r < 0)
                return EXIT_FAILURE;
        r = run(&o, &c, d);
        detach(d);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
