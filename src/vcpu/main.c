/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyah-vcpu: runs one vCPU of one VM for gunyahd (design §4).
 *
 * Started by the daemon only, with the fds of worker-protocol.h. It runs
 * the VCPU_RUN loop, emulates the guest's MMIO devices (devices.c) and
 * reports how the VM ended over the control socket.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "hv.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "sandbox.h"
#include "test-hooks.h"
#include "time-util.h"
#include "worker-protocol.h"

typedef struct WorkerArgs {
        const char *backend;
        const char *vm;
        uint32_t vcpu;
        size_t n_backend_fds;
        uint32_t irq_labels[WORKER_IRQFDS_MAX]; /* --irqfd: doorbells, fds after the backend's */
        size_t n_irqfds;
        bool spare; /* --spare: everything above comes with WORKER_MSG_ASSIGN */
        bool isolate; /* --isolate (spares): enter the namespaces and empty root while idle */
        bool isolated;
        bool no_sandbox;
        uid_t uid; /* identity the sandbox drops to (--uid/--gid from the daemon) */
        gid_t gid;
        DevicesConfig devices;
#if GUNYAH_SANDBOX_TEST_HOOKS
        TestHook test_hook;
#endif
} WorkerArgs;

/* Assigned fds are moved up here first, so that placing one onto 4, 5, ...
 * never overwrites another that is still to be placed. */
#define WORKER_FD_STAGING_BASE 100

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
        const WorkerArgs *a = userdata;
        uint64_t one = 1;

        if (!level)
                return;
        for (size_t i = 0; i < a->n_irqfds; i++)
                if (a->irq_labels[i] == spi) {
                        /* EAGAIN: the counter is full, the doorbell is rung anyway. */
                        (void) write(WORKER_FD_BACKEND + (int) (a->n_backend_fds + i), &one, sizeof(one));
                        return;
                }
}

static int console_ready(void *userdata) {
        return devices_console_ready(userdata);
}

static int parse_argv(int argc, char *argv[], WorkerArgs *a) {
        static const struct option options[] = {
                { "backend", required_argument, NULL, 'b' },
                { "vm", required_argument, NULL, 'm' },
                { "vcpu", required_argument, NULL, 'c' },
                { "backend-fds", required_argument, NULL, 'f' },
                { "no-sandbox", no_argument, NULL, 'n' },
                { "irqfd", required_argument, NULL, 'i' },
                { "spare", no_argument, NULL, 'P' },
                { "isolate", no_argument, NULL, 'I' },
                { "pl011", required_argument, NULL, 'u' },
                { "pl061", required_argument, NULL, 'g' },
                { "pl011-spi", required_argument, NULL, 's' },
                { "pl061-spi", required_argument, NULL, 'S' },
                { "uid", required_argument, NULL, 'U' },
                { "gid", required_argument, NULL, 'G' },
#if GUNYAH_SANDBOX_TEST_HOOKS
                { "test-hook", required_argument, NULL, 'T' },
#endif
                {}
        };
        uint32_t id;
        uint64_t n;
        int o, r;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (o) {
                case 'b':
                        a->backend = optarg;
                        break;
                case 'm':
                        a->vm = optarg;
                        break;
                case 'c':
                        r = parse_u32(optarg, &a->vcpu);
                        if (r < 0)
                                return log_error_errno(r, "--vcpu=%s: not a vCPU index", optarg);
                        break;
                case 'f':
                        r = parse_u64(optarg, &n);
                        if (r < 0 || n == 0 || n > HV_VCPU_EXPORT_FDS_MAX)
                                return log_error_errno(-EINVAL, "--backend-fds=%s: must be 1..%d", optarg,
                                                       HV_VCPU_EXPORT_FDS_MAX);
                        a->n_backend_fds = (size_t) n;
                        break;
                case 'n':
                        a->no_sandbox = true;
                        break;
                case 'i':
                        if (a->n_irqfds >= WORKER_IRQFDS_MAX)
                                return log_error_errno(-E2BIG, "--irqfd: at most %d", WORKER_IRQFDS_MAX);
                        r = parse_u32(optarg, &a->irq_labels[a->n_irqfds]);
                        if (r < 0)
                                return log_error_errno(r, "--irqfd=%s: not a doorbell label", optarg);
                        a->n_irqfds++;
                        break;
                case 'I':
                        a->isolate = true;
                        break;
                case 'P':
                        a->spare = true;
                        break;
                case 'u':
                case 'g':
                        r = parse_u64(optarg, o == 'u' ? &a->devices.pl011_base : &a->devices.pl061_base);
                        if (r < 0)
                                return log_error_errno(r, "--%s=%s: not an address", o == 'u' ? "pl011" : "pl061",
                                                       optarg);
                        break;
                case 's':
                case 'S':
                        r = parse_u32(optarg, o == 's' ? &a->devices.pl011_spi : &a->devices.pl061_spi);
                        if (r < 0)
                                return log_error_errno(r, "--%s=%s: not an SPI number", o == 's' ? "pl011-spi" : "pl061-spi",
                                                       optarg);
                        break;
                case 'U':
                case 'G':
                        r = parse_u32(optarg, &id);
                        if (r < 0 || id == UINT32_MAX)
                                return log_error_errno(r < 0 ? r : -EINVAL, "--%s=%s: not a numeric id",
                                                       o == 'U' ? "uid" : "gid", optarg);
                        if (o == 'U')
                                a->uid = (uid_t) id;
                        else
                                a->gid = (gid_t) id;
                        break;
#if GUNYAH_SANDBOX_TEST_HOOKS
                case 'T':
                        a->test_hook = test_hook_from_string(optarg);
                        if (a->test_hook < 0)
                                return log_error_errno(-EINVAL, "--test-hook=%s: unknown attempt", optarg);
                        break;
#endif
                default:
                        return -EINVAL;
                }
        }
        if (a->spare) {
                if (a->backend || a->vm || a->n_backend_fds > 0 || optind < argc)
                        return log_error_errno(-EINVAL, "--spare takes no other argument than --isolate");
                return 0;
        }
        if (a->isolate)
                return log_error_errno(-EINVAL, "--isolate is for spare workers (--spare)");
        if (optind < argc)
                return log_error_errno(-EINVAL, "unexpected argument '%s'", argv[optind]);
        if (!a->backend || !a->vm || a->n_backend_fds == 0)
                return log_error_errno(-EINVAL, "gunyah-vcpu is started by gunyahd only "
                                       "(missing --backend, --vm or --backend-fds)");
        /* The sandbox never guesses whom to run as (docs/sandbox.md). */
        if (!a->no_sandbox && (a->uid == (uid_t) -1 || a->gid == (gid_t) -1))
                return log_error_errno(-EINVAL, "--uid and --gid are required unless --no-sandbox");
        return 0;
}

static void send_message(WorkerMessage *msg, const Devices *d) {
        msg->unhandled_mmio = devices_unhandled_count(d);
        /* SEQPACKET keeps it one message; a gone daemon is not our problem here. */
        (void) send(WORKER_FD_CONTROL, msg, sizeof(*msg), MSG_NOSIGNAL);
}

static void report_failure(uint32_t id, int error, const char *step, const Devices *d) {
        WorkerMessage msg = { .type = WORKER_MSG_FAILED, .vcpu = id, .error = error };

        snprintf(msg.step, sizeof(msg.step), "%s", step);
        send_message(&msg, d);
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

static int run_loop(const WorkerArgs *a, Devices *d) {
        struct gunyah_vcpu_run *run = ops->vcpu_run_block(vcpu);
        WorkerMessage msg;
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
                        report_failure(a->vcpu, r, "vcpu-run", d);
                        return log_error_errno(r, "VCPU_RUN failed: %m");
                }

                switch (run->exit_reason) {
                case GUNYAH_VCPU_EXIT_MMIO:
                        devices_handle_mmio(d, run);
                        break;

                case GUNYAH_VCPU_EXIT_STATUS:
                        devices_flush(d);
                        msg = (WorkerMessage) {
                                .type = WORKER_MSG_VM_EXITED,
                                .vcpu = a->vcpu,
                                .status = run->status.status,
                                .exit_info = run->status.exit_info,
                        };
                        send_message(&msg, d);
                        return 0;

                case GUNYAH_VCPU_EXIT_PAGE_FAULT:
                        devices_flush(d);
                        msg = (WorkerMessage) {
                                .type = WORKER_MSG_PAGE_FAULT,
                                .vcpu = a->vcpu,
                                .error = run->page_fault.attempt,
                                .addr = run->page_fault.phys_addr,
                        };
                        send_message(&msg, d);
                        return 0;

                default:
                        report_failure(a->vcpu, -EPROTO, "unknown-exit", d);
                        return log_error_errno(-EPROTO, "unknown exit reason %u", run->exit_reason);
                }
        }
}

/* Moves the fds an assignment carried onto WORKER_FD_CONSOLE, ... (they
 * arrive on the lowest free numbers, which need not be those). */
static int place_assigned_fds(const int *fds, size_t n) {
        int staged[WORKER_ASSIGN_FDS_MAX];

        for (size_t i = 0; i < n; i++) {
                staged[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, WORKER_FD_STAGING_BASE);
                if (staged[i] < 0)
                        return log_error_errno(errno, "cannot move assigned fd %d: %m", fds[i]);
                (void) close(fds[i]);
        }
        for (size_t i = 0; i < n; i++) {
                if (dup2(staged[i], WORKER_FD_CONSOLE + (int) i) < 0)
                        return log_error_errno(errno, "cannot place assigned fd on %zu: %m",
                                               WORKER_FD_CONSOLE + i);
                (void) close(staged[i]);
        }
        return 0;
}

static void close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                (void) close(fds[i]);
}

/* --spare: says it is idle, then waits for the VM it will run. The command
 * line it was not given comes in msg; returns 1 when the daemon went away. */
static int wait_for_assignment(WorkerAssign *msg, WorkerArgs *a) {
        WorkerMessage idle = { .type = WORKER_MSG_IDLE };
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * WORKER_ASSIGN_FDS_MAX)];
        } control;
        int fds[WORKER_ASSIGN_FDS_MAX];
        size_t n_fds = 0;
        ssize_t n;

        if (send(WORKER_FD_CONTROL, &idle, sizeof(idle), MSG_NOSIGNAL) < 0)
                return log_error_errno(errno, "cannot report idle: %m");

        for (;;) {
                struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = &control, .msg_controllen = sizeof(control),
                };

                n = recvmsg(WORKER_FD_CONTROL, &mh, MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_error_errno(errno, "cannot receive an assignment: %m");
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                memcpy(fds, CMSG_DATA(c), MIN(k, ELEMENTSOF(fds)) * sizeof(int));
                                n_fds = MIN(k, ELEMENTSOF(fds));
                        }
                break;
        }
        if (n == 0)
                return 1; /* the daemon exited: a spare has nothing to clean up */

        if ((size_t) n != sizeof(*msg) || msg->type != WORKER_MSG_ASSIGN || msg->n_backend_fds == 0 || msg->n_backend_fds > HV_VCPU_EXPORT_FDS_MAX ||
            msg->n_irqfds > WORKER_IRQFDS_MAX || n_fds != 2 + msg->n_backend_fds + msg->n_irqfds) {
                close_fds(fds, n_fds);
                return log_error_errno(-EPROTO, "malformed assignment (%zd bytes, type %u, %zu fds)", n,
                                       msg->type, n_fds);
        }
        msg->backend[sizeof(msg->backend) - 1] = '\0';
        msg->vm[sizeof(msg->vm) - 1] = '\0';

        a->backend = msg->backend;
        a->vm = msg->vm;
        a->vcpu = msg->vcpu;
        a->n_backend_fds = msg->n_backend_fds;
        a->n_irqfds = msg->n_irqfds;
        memcpy(a->irq_labels, msg->irq_labels, sizeof(a->irq_labels));
        a->no_sandbox = msg->flags & WORKER_ASSIGN_NO_SANDBOX;
        a->uid = (uid_t) msg->uid;
        a->gid = (gid_t) msg->gid;
        a->devices.pl011_base = msg->pl011_base;
        a->devices.pl061_base = msg->pl061_base;
        a->devices.pl011_spi = msg->pl011_spi;
        a->devices.pl061_spi = msg->pl061_spi;

        return place_assigned_fds(fds, n_fds);
}

static int enter_sandbox(const WorkerArgs *a) {
        SandboxConfig c = {
                .backend = ops->name,
                /* the irqfds follow the backend fds and stay open too */
                .n_backend_fds = a->n_backend_fds + a->n_irqfds,
                .uid = a->uid,
                .gid = a->gid,
                .isolated = a->isolated,
        };
        const char *step = NULL;
        int r;

#if GUNYAH_SANDBOX_TEST_HOOKS
        bool seccomp_log = a->test_hook == TEST_HOOK_SECCOMP_LOG;
        if (a->test_hook == TEST_HOOK_LAYERS || seccomp_log) {
                r = sandbox_confine(&c, &step);
                if (r >= 0 && a->test_hook == TEST_HOOK_LAYERS)
                        r = test_hook_check_layers(&step);
                if (r >= 0) {
                        step = "sandbox-seccomp";
                        r = sandbox_seccomp_install(c.backend, seccomp_log);
                }
        } else
#endif
                r = sandbox_enter(&c, &step);
        if (r < 0) {
                /* Sent before the seccomp filter, or allowed by it: send is. */
                report_failure(a->vcpu, r, strna(step), NULL);
                return log_error_errno(r, "cannot enter the sandbox at %s: %m", strna(step));
        }
        return 0;
}

int main(int argc, char *argv[]) {
        WorkerArgs a = {
                .uid = (uid_t) -1,
                .gid = (gid_t) -1,
                .devices = { .pl011_base = UINT64_MAX, .pl061_base = UINT64_MAX,
                             .pl011_spi = UINT32_MAX, .pl061_spi = UINT32_MAX },
        };
        WorkerAssign assignment; /* a spare's arguments live here */
        Devices *d = NULL;
        int fds[HV_VCPU_EXPORT_FDS_MAX];
        struct sigaction sa = { .sa_handler = on_kick };
        char prefix[128];
        int r;

        log_set_prefix("gunyah-vcpu");
        r = parse_argv(argc, argv, &a);
        if (r < 0)
                return EXIT_FAILURE;
        if (a.spare) {
                log_set_prefix("gunyah-vcpu[spare]");
                /* What does not depend on the VM happens before it is assigned. */
                if (a.isolate) {
                        const char *step = NULL;
                        r = sandbox_isolate(&step);
                        if (r < 0)
                                return log_error_errno(r, "spare: cannot isolate at %s: %m", strna(step)),
                                       EXIT_FAILURE;
                        a.isolated = true;
                }
                r = wait_for_assignment(&assignment, &a);
                if (r < 0) {
                        report_failure(a.vcpu, r, "assign", NULL);
                        return EXIT_FAILURE;
                }
                if (r > 0)
                        return EXIT_SUCCESS;
        }
        snprintf(prefix, sizeof(prefix), "gunyah-vcpu[%s/%" PRIu32 "]", a.vm, a.vcpu);
        log_set_prefix(prefix);

        ops = hv_backend_lookup(a.backend);
        if (!ops) {
                log_error("unknown backend '%s'", a.backend);
                report_failure(a.vcpu, -EINVAL, "backend", NULL);
                return EXIT_FAILURE;
        }

        r = devices_open(WORKER_FD_DEVICES, WORKER_FD_CONSOLE, a.vcpu, &a.devices, &d);
        if (r < 0) {
                report_failure(a.vcpu, r, "devices", NULL);
                return log_error_errno(r, "cannot map the device page: %m"), EXIT_FAILURE;
        }

        for (size_t i = 0; i < a.n_backend_fds; i++)
                fds[i] = WORKER_FD_BACKEND + (int) i;
        r = ops->vcpu_attach(fds, a.n_backend_fds, a.vcpu, &vcpu);
        if (r < 0) {
                report_failure(a.vcpu, r, "vcpu-attach", d);
                return log_error_errno(r, "cannot attach to vCPU %" PRIu32 ": %m", a.vcpu), EXIT_FAILURE;
        }

        /* No SA_RESTART: a kick must interrupt a blocking run. */
        sigemptyset(&sa.sa_mask);
        if (sigaction(WORKER_KICK_SIGNAL, &sa, NULL) < 0) {
                r = negative_errno();
                report_failure(a.vcpu, r, "signals", d);
                return EXIT_FAILURE;
        }

        /* Backends whose interrupt controller lives with the workers (the
         * sim) let the devices drive their lines and wake a vCPU in WFI when
         * console input arrives. */
        if (ops->vcpu_irq_line)
                devices_set_irq_line(d, irq_line, NULL);
        else if (a.n_irqfds > 0)
                devices_set_irq_line(d, ring_doorbell, &a);
        if (ops->vcpu_watch_fd) {
                r = ops->vcpu_watch_fd(vcpu, WORKER_FD_CONSOLE, console_ready, d);
                if (r < 0) {
                        report_failure(a.vcpu, r, "watch-console", d);
                        return log_error_errno(r, "cannot watch the console: %m"), EXIT_FAILURE;
                }
        }

        if (!a.no_sandbox) {
                r = enter_sandbox(&a);
                if (r < 0)
                        return EXIT_FAILURE;
        }

        WorkerMessage ready = { .type = WORKER_MSG_READY, .vcpu = a.vcpu };
        send_message(&ready, d);

#if GUNYAH_SANDBOX_TEST_HOOKS
        if (a.test_hook > TEST_HOOK_NONE && a.test_hook < TEST_HOOK_LAYERS) {
                /* Running: a kill now is a worker failure, not a failed start. */
                r = test_hook_attempt(a.test_hook);
                report_failure(a.vcpu, r < 0 ? r : -EEXIST, "hook-survived", d);
                return log_error_errno(r < 0 ? r : -EEXIST, "test-hook %s: survived (%d)",
                                       test_hook_to_string(a.test_hook), r), EXIT_FAILURE;
        }
#endif

        r = run_loop(&a, d);

        /* A late kick must not reach a detached vCPU. */
        sigset_t kick;
        sigemptyset(&kick);
        sigaddset(&kick, WORKER_KICK_SIGNAL);
        (void) sigprocmask(SIG_BLOCK, &kick, NULL);
        devices_set_irq_line(d, NULL, NULL);
        HvVcpu *v = vcpu;
        vcpu = NULL;
        ops->vcpu_detach(v);
        devices_close(d);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
