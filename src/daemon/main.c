/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "log-journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "test-die.h"
#include "worker.h"

static void help(void) {
        printf("gunyahd [OPTIONS...]\n\n"
               "The Gunyah hypervisor VM manager daemon.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --backend=BACKEND      auto (default), kernel or sim\n"
               "     --device=PATH          Gunyah device node (default /dev/gunyah)\n"
               "     --system               Connect to the system bus (default)\n"
               "     --user                 Connect to the user's session bus\n"
               "     --bus-address=ADDRESS  Connect to the bus at ADDRESS\n"
               "     --state-dir=DIR        Persisted VM definitions (default $STATE_DIRECTORY or /var/lib/gunyahd)\n"
               "     --log-dir=DIR          Console logs (default $LOGS_DIRECTORY or /var/log/gunyahd)\n"
               "     --runtime-dir=DIR      Sockets (default $RUNTIME_DIRECTORY or /run/gunyahd)\n"
               "     --config-dir=DIR       Admin VM definitions (default " GUNYAH_SYSCONFDIR "/gunyah/vms)\n"
               "     --worker-binary=PATH   gunyah-vcpu (default " GUNYAH_LIBEXECDIR "/gunyah/gunyah-vcpu)\n"
               "     --device-binary=PATH   gunyah-device (default " GUNYAH_LIBEXECDIR "/gunyah/gunyah-device)\n"
               "     --keeper-binary=PATH   gunyah-keeper (default " GUNYAH_LIBEXECDIR "/gunyah/gunyah-keeper)\n"
               "     --worker-user=NAME|UID vCPU workers run as this user (default " GUNYAH_WORKER_USER_DEFAULT ")\n"
               "     --vsock-group=NAME|GID The group that may use the VMs' vsock sockets directly (default: root only)\n"
               "     --stop-vms-on-exit     Stop running VMs when gunyahd exits (default: they run on\n"
               "                            and the next gunyahd adopts them)\n"
               "     --no-sandbox           DEBUG ONLY: run vCPU workers without their sandbox\n"
#if GUNYAH_SANDBOX_TEST_HOOKS
               "     --worker-test-hook=VM:ATTEMPT\n"
               "                            TEST ONLY: VM's workers attempt ATTEMPT in their sandbox\n"
               "     --device-test-hook=VM:ATTEMPT\n"
               "                            TEST ONLY: VM's device processes attempt ATTEMPT in their sandbox\n"
               "     --test-die-at=VM:STEP  TEST ONLY: gunyahd kills itself (SIGKILL) when VM's start reaches STEP\n"
               "     --list-test-die-steps  TEST ONLY: list the STEPs of --test-die-at, in the order a start reaches them\n"
#endif

               "     --log-level=LEVEL      err, warning, notice, info (default), debug\n");
}

enum {
        ARG_VERSION = 0x100,
        ARG_BACKEND,
        ARG_DEVICE,
        ARG_SYSTEM,
        ARG_USER,
        ARG_BUS_ADDRESS,
        ARG_STATE_DIR,
        ARG_LOG_DIR,
        ARG_RUNTIME_DIR,
        ARG_CONFIG_DIR,
        ARG_WORKER_BINARY,
        ARG_DEVICE_BINARY,
        ARG_KEEPER_BINARY,
        ARG_NO_SANDBOX,
        ARG_STOP_VMS_ON_EXIT,
        ARG_WORKER_USER,
        ARG_VSOCK_GROUP,
        ARG_WORKER_TEST_HOOK,
        ARG_DEVICE_TEST_HOOK,
        ARG_TEST_DIE_AT,
        ARG_LIST_TEST_DIE_STEPS,
        ARG_LOG_LEVEL,
};

/* Options that only name a path or a place of the configuration. */
static const struct {
        int id;
        size_t offset; /* of a const char * in ManagerConfig */
} string_options[] = {
        { ARG_DEVICE, offsetof(ManagerConfig, device_path) },
        { ARG_STATE_DIR, offsetof(ManagerConfig, state_dir) },
        { ARG_LOG_DIR, offsetof(ManagerConfig, log_dir) },
        { ARG_RUNTIME_DIR, offsetof(ManagerConfig, runtime_dir) },
        { ARG_CONFIG_DIR, offsetof(ManagerConfig, config_dir) },
        { ARG_WORKER_BINARY, offsetof(ManagerConfig, worker_binary) },
        { ARG_DEVICE_BINARY, offsetof(ManagerConfig, device_binary) },
        { ARG_KEEPER_BINARY, offsetof(ManagerConfig, keeper_binary) },
        { ARG_VSOCK_GROUP, offsetof(ManagerConfig, vsock_group) },
};

/* One option: 0 when taken, 1 when gunyahd should exit successfully (--help), -errno. */
static int apply_option(int o, const char *arg, ManagerConfig *c) {
        int level;

        for (size_t i = 0; i < ELEMENTSOF(string_options); i++)
                if (string_options[i].id == o) {
                        *(const char **) ((char *) c + string_options[i].offset) = arg;
                        return 0;
                }
        switch (o) {
        case 'h':
                help();
                return 1;
        case ARG_VERSION:
                printf("gunyahd %s\n", PACKAGE_VERSION);
                return 1;
        case ARG_BACKEND:
                if (!streq(arg, "auto") && !streq(arg, "kernel") && !streq(arg, "sim"))
                        return log_error_errno(-EINVAL, "--backend=%s: must be auto, kernel or sim.", arg);
                c->backend = arg;
                return 0;
        case ARG_SYSTEM:
        case ARG_USER:
                c->bus_kind = o == ARG_SYSTEM ? BUS_SYSTEM : BUS_USER;
                return 0;
        case ARG_BUS_ADDRESS:
                c->bus_kind = BUS_ADDRESS;
                c->bus_address = arg;
                return 0;
        case ARG_NO_SANDBOX:
                c->no_sandbox = true;
                return 0;
        case ARG_STOP_VMS_ON_EXIT:
                c->stop_vms_on_exit = true;
                return 0;
        case ARG_WORKER_USER:
                if (!*arg)
                        return log_error_errno(-EINVAL, "--worker-user= needs a user name or uid.");
                c->worker_user = arg;
                return 0;
#if GUNYAH_SANDBOX_TEST_HOOKS
        case ARG_WORKER_TEST_HOOK:
        case ARG_DEVICE_TEST_HOOK:
                if (!strchr(arg, ':'))
                        return log_error_errno(-EINVAL, "--%s-test-hook=%s: expected VM:ATTEMPT.",
                                               o == ARG_WORKER_TEST_HOOK ? "worker" : "device", arg);
                *(o == ARG_WORKER_TEST_HOOK ? &c->worker_test_hook : &c->device_test_hook) = arg;
                return 0;
        case ARG_TEST_DIE_AT:
                if (!strchr(arg, ':') || !test_die_step_is_known(strchr(arg, ':') + 1))
                        return log_error_errno(-EINVAL, "--test-die-at=%s: expected VM:STEP, STEP one of "
                                               "--list-test-die-steps.", arg);
                c->test_die_at = arg;
                return 0;
        case ARG_LIST_TEST_DIE_STEPS:
                for (size_t i = 0; test_die_steps[i]; i++)
                        puts(test_die_steps[i]);
                return 1;
#endif
        case ARG_LOG_LEVEL:
                level = log_level_from_string(arg);
                if (level < 0)
                        return log_error_errno(level, "--log-level=%s: unknown level.", arg);
                log_set_max_level(level);
                return 0;
        default: /* '?': getopt said what was wrong */
                return -EINVAL;
        }
}

/* 1: go on and run; 0: done (--help, --version); -errno: bad command line. */
static int parse_argv(int argc, char *argv[], ManagerConfig *c) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "device", required_argument, NULL, ARG_DEVICE },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "log-dir", required_argument, NULL, ARG_LOG_DIR },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "worker-binary", required_argument, NULL, ARG_WORKER_BINARY },
                { "device-binary", required_argument, NULL, ARG_DEVICE_BINARY },
                { "keeper-binary", required_argument, NULL, ARG_KEEPER_BINARY },
                { "vsock-group", required_argument, NULL, ARG_VSOCK_GROUP },
                { "no-sandbox", no_argument, NULL, ARG_NO_SANDBOX },
                { "stop-vms-on-exit", no_argument, NULL, ARG_STOP_VMS_ON_EXIT },
                { "worker-user", required_argument, NULL, ARG_WORKER_USER },
#if GUNYAH_SANDBOX_TEST_HOOKS
                { "worker-test-hook", required_argument, NULL, ARG_WORKER_TEST_HOOK },
                { "device-test-hook", required_argument, NULL, ARG_DEVICE_TEST_HOOK },
                { "test-die-at", required_argument, NULL, ARG_TEST_DIE_AT },
                { "list-test-die-steps", no_argument, NULL, ARG_LIST_TEST_DIE_STEPS },
#endif
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                {}
        };
        int o, r;

        while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                r = apply_option(o, optarg, c);
                if (r != 0)
                        return r > 0 ? 0 : r;
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; gunyahd takes only options.", argv[optind]);
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerConfig config = { .backend = "auto", .bus_kind = BUS_SYSTEM, .worker_user = GUNYAH_WORKER_USER_DEFAULT };
        sigset_t mask;
        int r;

        log_set_prefix("gunyahd");
        /* Under systemd: structured lines (GUNYAH_VM=) to the journal, or
         * at least <N> priority prefixes on the stream. */
        if (!log_journal_open() && (getenv("JOURNAL_STREAM") || getenv("INVOCATION_ID")))
                log_set_use_kmsg_prefix(true);

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (config.no_sandbox)
                log_warning("--no-sandbox: vCPU workers run unconfined. For debugging only.");

        /* sd-event takes signals and child exits through signalfd/pidfd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        /* A console reader going away must not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);

        r = manager_new(&config, &m);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=Failed to start: %s\nERRNO=%d", strerror(-r), -r);
                return EXIT_FAILURE;
        }

#if GUNYAH_SANDBOX_TEST_HOOKS
        /* Not manager_new's to copy: no VM starts before manager_run. */
        m->test_die_at = config.test_die_at;
#endif
        r = manager_run(m);
        (void) sd_notify(false, "STATUS=Exiting.");
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
