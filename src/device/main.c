/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyah-device: serves one virtio device of one VM (device-protocol.h).
 * Maps what it needs while it still may, enters the sandbox, loads its
 * device type's seccomp filter, says READY and serves until the daemon
 * hangs up. Started by gunyahd only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "sandbox.h"
#include "string-table.h"
#include "test-hooks.h"

static const char *const device_type_table[_DEVICE_TYPE_MAX] = {
        [DEVICE_TYPE_BLOCK] = "block",
        [DEVICE_TYPE_RNG] = "rng",
        [DEVICE_TYPE_VSOCK] = "vsock",
};

DEFINE_STRING_TABLE(device_type, DeviceType, device_type_table);

static void help(void) {
        printf("gunyah-device --type=TYPE --vm=NAME --device=NAME (--uid=UID --gid=GID | --no-sandbox)\n"
               "              --memory=GPA:SIZE[,GPA:SIZE...] [--readonly] [--serial=SERIAL] [--cid=CID]\n"
               "              [--log-level=LEVEL] (err, warning, notice, info: default, debug)\n"
#if GUNYAH_SANDBOX_TEST_HOOKS
               "              --test-hook=ATTEMPT TEST ONLY: attempt ATTEMPT in the sandbox\n"
#endif
               "\nServes one virtio device of a VM in a sandboxed process. Started by gunyahd,\n"
               "which hands it its fds (see device-protocol.h); not meant to be run by hand.\n");
}

int device_parse_memory(const char *arg, DeviceOptions *o) {
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        o->n_memory = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *colon = strchr(tok, ':');

                if (o->n_memory >= DEVICE_MEMORY_REGIONS_MAX)
                        return log_error_errno(-E2BIG, "--memory: more than %d regions", DEVICE_MEMORY_REGIONS_MAX);
                if (!colon)
                        return log_error_errno(-EINVAL, "--memory: '%s' is not GPA:SIZE", tok);
                *colon = '\0';
                if (parse_u64(tok, &o->memory[o->n_memory].guest_addr) < 0 ||
                    parse_u64(colon + 1, &o->memory[o->n_memory].size) < 0 || o->memory[o->n_memory].size == 0)
                        return log_error_errno(-EINVAL, "--memory: '%s:%s' is not GPA:SIZE", tok, colon + 1);
                o->n_memory++;
        }
        if (o->n_memory == 0)
                return log_error_errno(-EINVAL, "--memory: no region");
        return 0;
}

/* 0, 1, 2 (the host) and 0xffffffff (any) are reserved. */
static int parse_cid(const char *arg, uint64_t *ret) {
        if (parse_u64(arg, ret) < 0 || *ret < 3 || *ret > UINT32_MAX - 1)
                return log_error_errno(-EINVAL, "--cid=%s: not a guest CID (3..4294967294)", arg);
        return 0;
}

static int parse_log_level(const char *arg) {
        int level = log_level_from_string(arg);

        if (level < 0)
                return log_error_errno(level, "--log-level=%s: unknown level", arg);
        log_set_max_level(level);
        return 0;
}

/* 1 when the options go together, else -EINVAL (logged). */
static int check_options(const DeviceOptions *o) {
        if (o->type < 0 || !o->vm || !o->device || o->n_memory == 0)
                return log_error_errno(-EINVAL, "--type, --vm, --device and --memory are required (see --help)");
        if ((o->type == DEVICE_TYPE_VSOCK) != (o->cid != 0))
                return log_error_errno(-EINVAL, "--cid is for, and required by, --type=vsock");
        if (sandbox_check_id_options(o->no_sandbox, o->uid, o->gid) < 0)
                return -EINVAL;
        return 1;
}

static int parse_argv(int argc, char *argv[], DeviceOptions *o) {
        enum { ARG_TYPE = 0x100, ARG_VM, ARG_DEVICE, ARG_UID, ARG_GID, ARG_NO_SANDBOX, ARG_MEMORY, ARG_READONLY,
               ARG_SERIAL, ARG_CID, ARG_TEST_HOOK, ARG_LOG_LEVEL };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "type", required_argument, NULL, ARG_TYPE },
                { "vm", required_argument, NULL, ARG_VM },
                { "device", required_argument, NULL, ARG_DEVICE },
                { "uid", required_argument, NULL, ARG_UID },
                { "gid", required_argument, NULL, ARG_GID },
                { "no-sandbox", no_argument, NULL, ARG_NO_SANDBOX },
                { "memory", required_argument, NULL, ARG_MEMORY },
                { "readonly", no_argument, NULL, ARG_READONLY },
                { "serial", required_argument, NULL, ARG_SERIAL },
                { "cid", required_argument, NULL, ARG_CID },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
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
                case ARG_TYPE:
                        o->type = device_type_from_string(optarg);
                        if (o->type < 0)
                                return log_error_errno(-EINVAL, "--type=%s: unknown device type", optarg);
                        break;
                case ARG_VM:
                        o->vm = optarg;
                        break;
                case ARG_DEVICE:
                        o->device = optarg;
                        break;
                case ARG_UID:
                case ARG_GID:
                        if (sandbox_parse_id_option(c == ARG_UID, optarg, &o->uid, &o->gid) < 0)
                                return -EINVAL;
                        break;
                case ARG_NO_SANDBOX:
                        o->no_sandbox = true;
                        break;
                case ARG_MEMORY:
                        if (device_parse_memory(optarg, o) < 0)
                                return -EINVAL;
                        break;
                case ARG_READONLY:
                        o->readonly = true;
                        break;
                case ARG_SERIAL:
                        o->serial = optarg;
                        break;
                case ARG_CID:
                        if (parse_cid(optarg, &o->cid) < 0)
                                return -EINVAL;
                        break;
                case ARG_LOG_LEVEL:
                        if (parse_log_level(optarg) < 0)
                                return -EINVAL;
                        break;
#if GUNYAH_SANDBOX_TEST_HOOKS
                case ARG_TEST_HOOK:
                        o->test_hook = device_test_hook_from_string(optarg);
                        if (o->test_hook < 0)
                                return log_error_errno(-EINVAL, "--test-hook=%s: unknown attempt", optarg);
                        break;
#endif
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "unexpected argument '%s'", argv[optind]);
        return check_options(o);
}

static void send_failure(int error, const char *step) {
        DeviceMessage m = { .type = DEVICE_MSG_FAILED, .error = error < 0 ? error : -EIO };

        snprintf(m.step, sizeof(m.step), "%s", step);
        (void) device_message_send(DEVICE_FD_CONTROL, &m);
}

static int fail_at(int error, const char *step) {
        send_failure(error, step);
        return log_error_errno(error, "failed at %s: %m", step);
}

/* fd 3 must be the daemon's control socket; nothing above the last memory
 * fd stays open. */
static int take_fds(const DeviceOptions *o) {
        int type = 0;
        socklen_t len = sizeof(type);

        if (getsockopt(DEVICE_FD_CONTROL, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
                return log_error_errno(-EBADF, "gunyah-device is started by gunyahd only: fd %d must be its "
                                       "control socket (see --help)", DEVICE_FD_CONTROL);
        if (close_range(DEVICE_FD_MEMORY + o->n_memory, ~0U, 0) < 0)
                return log_error_errno(errno, "close_range failed: %m");
        return 0;
}

static int map_everything(const DeviceOptions *o, DeviceContext *c) {
        void *p;
        int r;

        p = mmap(NULL, sizeof(VirtioMmioShared), PROT_READ | PROT_WRITE, MAP_SHARED, DEVICE_FD_REGS, 0);
        if (p == MAP_FAILED)
                return log_error_errno(errno, "cannot map the register page: %m");
        c->regs = p;
        for (unsigned i = 0; i < o->n_memory; i++) {
                r = guest_memory_map(&c->memory, o->memory[i].guest_addr, o->memory[i].size, DEVICE_FD_MEMORY + (int) i, 0);
                if (r < 0)
                        return log_error_errno(r, "cannot map guest memory region %u (0x%" PRIx64 ", %" PRIu64
                                               " bytes): %m", i, o->memory[i].guest_addr, o->memory[i].size);
        }
        return 0;
}

/* The fds a device holds when it enters the sandbox: up to the last
 * memory fd, and a vsock device's epoll fd right after it. */
static unsigned last_fd(const DeviceOptions *o) {
        return DEVICE_FD_MEMORY + o->n_memory - 1 + (o->type == DEVICE_TYPE_VSOCK);
}

/* What a device type needs that the sandbox will not let it make. */
static int prepare(const DeviceOptions *o, DeviceContext *c) {
        if (o->type != DEVICE_TYPE_VSOCK)
                return 0;
        c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (c->epoll_fd < 0)
                return log_error_errno(errno, "epoll_create1 failed: %m");
        /* take_fds() closed everything above the memory fds: it is the next. */
        if ((unsigned) c->epoll_fd != last_fd(o))
                return log_error_errno(-EBADF, "epoll fd %d, expected %u", c->epoll_fd, last_fd(o));
        return 0;
}

static int enter_sandbox(const DeviceOptions *o, const char **ret_step) {
        bool log_only = false;
        int r;

        if (o->no_sandbox) {
                *ret_step = NULL;
                return 0;
        }
        r = sandbox_enter_idle("gunyah-device", o->uid, o->gid, ret_step);
        if (r >= 0)
                r = sandbox_confine_nofile(last_fd(o),
                                           o->type == DEVICE_TYPE_VSOCK ? vsock_device_nofile(last_fd(o)) : last_fd(o) + 1,
                                           ret_step);
        if (r >= 0) {
                *ret_step = "sandbox-seccomp";
#if GUNYAH_SANDBOX_TEST_HOOKS
                log_only = o->test_hook == DEVICE_TEST_HOOK_SECCOMP_LOG;
#endif
                r = device_seccomp_install(o->type, log_only);
        }
        return r;
}

static int run(const DeviceOptions *o) {
        DeviceContext c = {
                .options = o,
                .kick_fd = DEVICE_FD_KICK,
                .irq_fd = DEVICE_FD_IRQ,
                .control_fd = DEVICE_FD_CONTROL,
                .epoll_fd = -1,
        };
        const char *step = NULL;
        int r;

        r = map_everything(o, &c);
        if (r < 0)
                return fail_at(r, "map");
        r = prepare(o, &c);
        if (r < 0)
                return fail_at(r, "prepare");
        r = enter_sandbox(o, &step);
        if (r < 0)
                return fail_at(r, strna(step));
        r = device_message_send(DEVICE_FD_CONTROL, &(DeviceMessage) { .type = DEVICE_MSG_READY });
        if (r < 0)
                return log_error_errno(r, "cannot tell the daemon it is ready: %m");
#if GUNYAH_SANDBOX_TEST_HOOKS
        if (o->test_hook == DEVICE_TEST_HOOK_ALLOWED)
                (void) device_test_hook_allowed(); /* then serves: a kill fails the VM */
        if (o->test_hook > DEVICE_TEST_HOOK_NONE && o->test_hook < DEVICE_TEST_HOOK_SECCOMP_LOG) {
                r = device_test_hook_attempt(o->test_hook);
                return fail_at(r < 0 ? r : -EEXIST, "hook-survived");
        }
#endif
        switch (o->type) {
        case DEVICE_TYPE_BLOCK:
                r = block_device_serve(&c, DEVICE_FD_BACKING);
                break;
        case DEVICE_TYPE_RNG:
                r = rng_device_serve(&c);
                break;
        case DEVICE_TYPE_VSOCK:
                r = vsock_device_serve(&c, DEVICE_FD_BACKING);
                break;
        default:
                r = -EOPNOTSUPP;
        }
        if (r < 0)
                return fail_at(r, "serve");
        return 0;
}

int main(int argc, char *argv[]) {
        DeviceOptions o = { .type = _DEVICE_TYPE_INVALID, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        static char prefix[128];
        int r;

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        snprintf(prefix, sizeof(prefix), "gunyah-device[%s/%s]", o.vm, o.device);
        log_set_prefix(prefix);
        r = take_fds(&o);
        if (r < 0)
                return EXIT_FAILURE;
        return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
