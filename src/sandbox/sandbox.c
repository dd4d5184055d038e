/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox of gunyahd's helper processes, vCPU workers and device
 * processes alike (design §4, docs/sandbox.md).
 *
 * The part that needs nothing of a VM runs first, before the process reads
 * its configuration (a spare worker: before it waits). Order matters:
 * namespaces and pivot_root need the capabilities the process still has as
 * root, the capability bounding set needs CAP_SETPCAP, so they all come
 * before the uid drop. The rest (fds, rlimits) follows once it holds every
 * fd it will use, before it touches anything a guest controls.
 */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "sandbox.h"

/* Caps up to this number are dropped from the bounding set; the kernel
 * answers EINVAL past its last one, which ends the loop earlier. */
#define SANDBOX_CAP_MAX 63
/* Lower than every process of the control plane (nice 0). */
#define SANDBOX_NICE 10

static int set_rlimit(int resource, rlim_t value) {
        struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

        return setrlimit(resource, &rl) < 0 ? negative_errno() : 0;
}

/* stdin and stdout become /dev/null (opened before the pivot: after it
 * there is no /dev); stderr stays the daemon's, which is the journal. */
static int sandbox_stdio(void) {
        _cleanup_close_ int null_fd = -EBADF;

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (null_fd < 0)
                return log_error_errno(errno, "cannot open /dev/null: %m");
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
                return log_error_errno(errno, "cannot point stdin/stdout at /dev/null: %m");
        return 0;
}

/* Only the fds it was handed stay. */
static int sandbox_fds(unsigned last_fd) {
        if (close_range(last_fd + 1, ~0U, 0) < 0)
                return log_error_errno(errno, "close_range(%u, ~0) failed: %m", last_fd + 1);
        return 0;
}

static int sandbox_namespaces(void) {
        /* No PID namespace: the simulator kicks the vCPUs of other workers
         * with tgkill() on pids they published in shared memory, which must
         * mean the same in every worker. No cgroup namespace: it would only
         * hide /proc/self/cgroup, and there is no /proc; gunyahd.service's
         * RestrictNamespaces= does not allow it (docs/sandbox.md). */
        if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
                return log_error_errno(errno, "unshare(mount, net, ipc, uts) failed: %m");
        return 0;
}

/* Makes an empty read-only tmpfs the root and detaches the host's tree from
 * this mount namespace, so that no path reaches a host file any more. */
static int sandbox_root(const char *name) {
        struct statfs sfs;

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return log_error_errno(errno, "cannot make / private: %m");
        /* Stacked on /: no mount point of the host's tree is needed. */
        if (mount(name, "/", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,nr_inodes=1,mode=0555") < 0)
                return log_error_errno(errno, "cannot mount the root tmpfs: %m");
        /* ".." of the process root crosses into what is mounted on it. */
        if (chdir("/..") < 0)
                return log_error_errno(errno, "cannot enter the root tmpfs: %m");
        if (statfs(".", &sfs) < 0)
                return log_error_errno(errno, "statfs(root tmpfs) failed: %m");
        if (sfs.f_type != TMPFS_MAGIC)
                return log_error_errno(-EXDEV, "the new root is not the tmpfs (f_type 0x%lx)",
                                       (unsigned long) sfs.f_type);
        /* new_root == put_old: the old root ends stacked below, then detached. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return log_error_errno(errno, "pivot_root failed: %m");
        if (umount2(".", MNT_DETACH) < 0)
                return log_error_errno(errno, "cannot detach the old root: %m");
        if (chdir("/") < 0)
                return log_error_errno(errno, "chdir(/) failed: %m");
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return log_error_errno(errno, "cannot make the root read-only: %m");
        return 0;
}

static int sandbox_drop_bounding_set(void) {
        for (unsigned long cap = 0; cap <= SANDBOX_CAP_MAX; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EINVAL) /* past the kernel's last capability */
                                break;
                        return log_error_errno(errno, "PR_CAPBSET_DROP(%lu) failed: %m", cap);
                }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return log_error_errno(errno, "PR_CAP_AMBIENT_CLEAR_ALL failed: %m");
        return 0;
}

/* setresuid() from root already empties permitted and effective; say so
 * explicitly, and check, rather than rely on SECBIT defaults. */
static int sandbox_clear_caps(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capset, &h, data) < 0)
                return log_error_errno(errno, "capset(0) failed: %m");
        if (syscall(SYS_capget, &h, data) < 0)
                return log_error_errno(errno, "capget failed: %m");
        for (size_t i = 0; i < ELEMENTSOF(data); i++)
                if (data[i].effective || data[i].permitted || data[i].inheritable)
                        return log_error_errno(-EPERM, "capabilities left after capset(0)");
        return 0;
}

static int sandbox_identity(uid_t uid, gid_t gid, const char **ret_step) {
        uid_t ruid, euid, suid;

        *ret_step = "sandbox-setgroups";
        if (setgroups(0, NULL) < 0)
                return log_error_errno(errno, "setgroups(0) failed: %m");
        *ret_step = "sandbox-setgid";
        if (gid == 0)
                return log_error_errno(-EPERM, "refusing to run as gid 0: the sandbox needs an unprivileged group");
        if (setresgid(gid, gid, gid) < 0)
                return log_error_errno(errno, "setresgid(%u) failed: %m", (unsigned) gid);
        *ret_step = "sandbox-setuid";
        if (uid == 0)
                return log_error_errno(-EPERM, "refusing to run as uid 0: the sandbox needs an unprivileged user");
        if (setresuid(uid, uid, uid) < 0)
                return log_error_errno(errno, "setresuid(%u) failed: %m", (unsigned) uid);
        if (getresuid(&ruid, &euid, &suid) < 0 || ruid != uid || euid != uid || suid != uid)
                return log_error_errno(-EPERM, "uid did not change to %u", (unsigned) uid);
        return 0;
}

static int sandbox_rlimits(unsigned nofile) {
        static const struct {
                int resource;
                const char *name;
        } zero[] = {
                { RLIMIT_CORE, "RLIMIT_CORE" },         /* no core of guest memory */
                { RLIMIT_NPROC, "RLIMIT_NPROC" },       /* no fork or thread, whatever seccomp says */
                { RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK" },
                { RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE" },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(zero); i++) {
                r = set_rlimit(zero[i].resource, 0);
                if (r < 0)
                        return log_error_errno(r, "setrlimit(%s, 0) failed: %m", zero[i].name);
        }
        /* The handed fds only (and what the caller will be handed: nofile). */
        r = set_rlimit(RLIMIT_NOFILE, (rlim_t) nofile);
        if (r < 0)
                return log_error_errno(r, "setrlimit(RLIMIT_NOFILE) failed: %m");
        return 0;
}

#define SANDBOX_STEP(name, expr)        \
        do {                            \
                *ret_step = (name);     \
                r = (expr);             \
                if (r < 0)              \
                        return r;       \
        } while (0)

/* Guest code may spin on every vCPU: the daemon, the bus and its clients
 * must still get the CPU at once, so workers yield to them. */
static int sandbox_priority(void) {
        if (setpriority(PRIO_PROCESS, 0, SANDBOX_NICE) < 0)
                return log_error_errno(errno, "setpriority(%d) failed: %m", SANDBOX_NICE);
        return 0;
}

/* After the uid change, which resets it: no ptrace by the other workers of
 * the same user, no core. */
static int sandbox_not_dumpable(void) {
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(errno, "PR_SET_DUMPABLE(0) failed: %m");
        return 0;
}

static int sandbox_no_new_privs(void) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(errno, "PR_SET_NO_NEW_PRIVS failed: %m");
        return 0;
}

int sandbox_enter_idle(const char *root_name, uid_t uid, gid_t gid, const char **ret_step) {
        int r;

        SANDBOX_STEP("sandbox-stdio", sandbox_stdio());
        SANDBOX_STEP("sandbox-namespaces", sandbox_namespaces());
        SANDBOX_STEP("sandbox-root", sandbox_root(root_name));
        SANDBOX_STEP("sandbox-capbset", sandbox_drop_bounding_set());
        r = sandbox_identity(uid, gid, ret_step);
        if (r < 0)
                return r;
        SANDBOX_STEP("sandbox-caps", sandbox_clear_caps());
        SANDBOX_STEP("sandbox-dumpable", sandbox_not_dumpable());
        SANDBOX_STEP("sandbox-priority", sandbox_priority());
        SANDBOX_STEP("sandbox-no-new-privs", sandbox_no_new_privs());
        *ret_step = NULL;
        return 0;
}

int sandbox_confine_nofile(unsigned last_fd, unsigned nofile, const char **ret_step) {
        int r;

        SANDBOX_STEP("sandbox-fds", sandbox_fds(last_fd));
        SANDBOX_STEP("sandbox-rlimits", sandbox_rlimits(MAX(nofile, last_fd + 1)));
        *ret_step = NULL;
        return 0;
}

int sandbox_confine(unsigned last_fd, const char **ret_step) {
        return sandbox_confine_nofile(last_fd, last_fd + 1, ret_step);
}

int sandbox_parse_id_option(bool is_uid, const char *arg, uid_t *uid, gid_t *gid) {
        uint32_t id;
        int r = parse_u32(arg, &id);

        if (r < 0 || id == UINT32_MAX)
                return log_error_errno(r < 0 ? r : -EINVAL, "--%s=%s: not a numeric id", is_uid ? "uid" : "gid", arg);
        if (is_uid)
                *uid = (uid_t) id;
        else
                *gid = (gid_t) id;
        return 0;
}

int sandbox_check_id_options(bool no_sandbox, uid_t uid, gid_t gid) {
        if (!no_sandbox && (uid == (uid_t) -1 || gid == (gid_t) -1))
                return log_error_errno(-EINVAL, "--uid and --gid are required unless --no-sandbox");
        return 0;
}
