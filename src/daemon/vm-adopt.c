/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "keeper-protocol.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "process-util.h"
#include "vm-adopt.h"
#include "vm-instance.h"
#include "vm-keeper.h"
#include "vm-record.h"
#include "vm-spec.h"
#include "vm.h"

/* What a record's processes are now: pidfds[i] >= 0 for those still
 * running as recorded, else -ESRCH. */
static void open_pidfds(const VmRecord *r, int *pidfds) {
        for (size_t i = 0; i < r->n_processes; i++) {
                uint64_t start_time;
                int fd = pidfd_open(r->processes[i].pid, 0);

                /* Opened first, checked after: the pidfd then names the checked process. */
                if (fd >= 0 && (process_start_time(r->processes[i].pid, &start_time) < 0 ||
                                start_time != r->processes[i].start_time))
                        fd = safe_close(fd);
                pidfds[i] = fd >= 0 ? fd : -ESRCH;
        }
}

static void close_pidfds(int *pidfds, size_t n) {
        for (size_t i = 0; i < n; i++)
                pidfds[i] = safe_close(pidfds[i]);
}

static void remove_files(const char *dir) {
        _cleanup_free_ char *sock = NULL;

        (void) vm_record_remove(dir);
        if (asprintf(&sock, "%s/" KEEPER_SOCKET, dir) >= 0)
                (void) unlink(sock);
        if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
                log_warning_errno(errno, "cannot remove %s: %m", dir);
}

static void tear_down(Manager *m, const char *dir, const VmRecord *r, int *pidfds, const char *why) {
        Vm *vm = manager_get_vm(m, r->name);

        log_warning("VM %s: a previous gunyahd left it %s; %s: tearing it down", r->name,
                    vm_record_phase_to_string(r->phase), why);
        /* Files first: whoever sees the processes gone finds nothing left either. */
        remove_files(dir);
        for (size_t i = 0; i < r->n_processes; i++)
                if (pidfds[i] >= 0)
                        (void) pidfd_send_signal(pidfds[i], SIGKILL, NULL, 0);
        if (vm && r->phase == VM_RECORD_STARTING && !vm_is_active(vm))
                vm_mark_start_interrupted(vm);
}

/* Connects to the VM's keeper. SO_PEERCRED names whoever called listen():
 * the daemon that spawned the keeper, so only root is checked for (the
 * directory may be the vsock group's, whose members could plant a socket). */
static int keeper_connect(const char *dir, int *ret_fd) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (fd < 0)
                return negative_errno();
        if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" KEEPER_SOCKET, dir) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        if (cred.uid != 0)
                return -EPERM;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Connects and asks for the held fds; keeper_receive_fds() takes them. */
static int keeper_ask(const char *dir, int *ret_fd) {
        _cleanup_close_ int sock = -EBADF;
        int r;

        r = keeper_connect(dir, &sock);
        if (r >= 0)
                r = keeper_message_send(sock, &(KeeperMessage) { .type = KEEPER_MSG_HANDBACK }, NULL);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(sock);
        return 0;
}

/* The held fds, in deposit order, into fds (room for max); how many. */
static int keeper_receive_fds(int sock, int *fds, size_t max, size_t *ret_n) {
        size_t n = 0, total = SIZE_MAX;
        int r = 0;

        while (r >= 0 && n < total) {
                int got[KEEPER_FDS_PER_MESSAGE];
                KeeperMessage m;

                r = keeper_message_receive(sock, &m, got);
                if (r == 0 || (r > 0 && (m.type != KEEPER_MSG_FDS || n + m.n_fds > MIN((size_t) m.total, max) ||
                                         (total != SIZE_MAX && m.total != total)))) {
                        for (size_t i = 0; r > 0 && i < m.n_fds; i++)
                                safe_close(got[i]);
                        r = -EBADMSG;
                }
                if (r < 0)
                        break;
                total = m.total;
                memcpy(fds + n, got, m.n_fds * sizeof(int));
                n += m.n_fds;
                if (m.n_fds == 0 && n < total)
                        r = -EBADMSG;
        }
        if (r < 0) {
                close_pidfds(fds, n);
                return r;
        }
        *ret_n = n;
        return 0;
}

/* The VM a record is of: its definition, or one made from the recorded spec. */
static int vm_for_record(Manager *m, const VmRecord *r, Vm **ret) {
        VmSpecError e = {};
        VmSpec *spec = NULL;
        Vm *vm = manager_get_vm(m, r->name);
        int k;

        if (vm) {
                *ret = vm;
                return vm_is_active(vm) ? -EBUSY : 0;
        }
        k = vm_spec_parse(r->spec_json, strlen(r->spec_json), VM_SPEC_ABSOLUTE_PATHS, &spec, &e);
        if (k < 0)
                return k;
        k = vm_new(m, spec, &vm);
        if (k < 0) {
                vm_spec_free(spec);
                return k;
        }
        k = manager_add_vm(m, vm);
        if (k < 0) {
                vm_free(vm);
                return k;
        }
        *ret = vm;
        return 0;
}

/* The record's keeper, or -1. */
static ssize_t keeper_of(const VmRecord *r) {
        for (size_t i = 0; i < r->n_processes; i++)
                if (r->processes[i].role == VM_RECORD_KEEPER)
                        return (ssize_t) i;
        return -1;
}

/* A copy for a part of the instance: the caller's pidfds stay the caller's
 * (to kill with, should the adoption fail half way). */
static int pidfd_copy(int pidfd) {
        int fd;

        if (pidfd < 0)
                return pidfd;
        fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
        return fd >= 0 ? fd : negative_errno();
}

/* One worker or device of the instance: fd is its control socket (taken). */
static int adopt_member(VmInstance *i, const VmRecordProcess *p, int pidfd, int fd) {
        int copy = pidfd_copy(pidfd);

        if (copy < 0 && copy != -ESRCH) {
                safe_close(fd);
                return copy;
        }
        if (p->role == VM_RECORD_VCPU)
                return vm_instance_add_adopted_worker(i, p->index, p->pid, copy, fd);
        return vm_instance_add_adopted_device(i, p->index, p->pid, copy, fd);
}

/* Builds the instance from the keeper's fds (n_members control sockets,
 * the console socket, the device page; all taken). Processes that ended
 * while no daemon ran are adopted too: what they said before is read and
 * their end reported as the event loop runs (exit info and all). */
static int adopt_instance(Vm *vm, const char *dir, const VmRecord *r, const int *pidfds, int keeper_sock, int *fds,
                          size_t n_members) {
        _cleanup_(vm_instance_freep) VmInstance *i = NULL;
        ssize_t keeper = keeper_of(r);
        size_t next = 0;
        int k, keeper_pidfd;

        k = vm_instance_new_adopted(vm, fds[n_members], fds[n_members + 1], &i);
        if (k >= 0 && !(i->record_dir = strdup(dir)))
                k = -ENOMEM;
        for (size_t p = 0; p < r->n_processes; p++) {
                if ((ssize_t) p == keeper)
                        continue;
                if (k >= 0)
                        k = adopt_member(i, &r->processes[p], pidfds[p], fds[next]);
                else
                        safe_close(fds[next]);
                next++;
        }
        keeper_pidfd = k >= 0 ? pidfd_copy(pidfds[keeper]) : k;
        if (keeper_pidfd < 0) {
                safe_close(keeper_sock);
                return keeper_pidfd;
        }
        k = vm_keeper_adopt(r->processes[keeper].pid, keeper_pidfd, keeper_sock, dir, &i->keeper);
        if (k < 0)
                return k;
        vm_adopt(vm, TAKE_PTR(i), r->uuid, r->started_realtime_usec, r->console_log_offset);
        return 0;
}

/* sock: our connection to its keeper, HANDBACK asked (taken). */
static int adopt(Manager *m, const char *dir, const VmRecord *r, const int *pidfds, int keeper_sock) {
        _cleanup_close_ int sock = keeper_sock;
        int fds[2 * VM_RECORD_PROCESSES_MAX + 2];
        ssize_t keeper = keeper_of(r);
        size_t n, n_members;
        Vm *vm;
        int k;

        if (!hv_vm_outlives_handle(m->ops, m->backend))
                return -EOPNOTSUPP; /* A14: the VM did not outlive the daemon's handle */
        if (keeper < 0 || pidfds[keeper] < 0)
                return -ESRCH; /* nobody kept the sockets: what the VM said is lost */
        if (sock < 0)
                return sock;
        n_members = r->n_processes - 1;
        k = keeper_receive_fds(sock, fds, 2 * n_members + 2, &n);
        if (k < 0)
                return k;
        if (n != 2 * n_members + 2)
                k = -EBADMSG;
        /* Its pidfds: ours were opened and checked against the record already. */
        if (k >= 0)
                close_pidfds(fds + n_members + 2, n_members);
        if (k >= 0)
                k = vm_for_record(m, r, &vm);
        if (k < 0) {
                close_pidfds(fds, n);
                return k;
        }
        return adopt_instance(vm, dir, r, pidfds, TAKE_FD(sock), fds, n_members);
}

static bool fd_is_pidfd(int fd) {
        char path[64], target[32];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return streq(target, "anon_inode:[pidfd]");
}

/* A record that does not parse names no process we could trust; the keeper
 * (if one answers) holds the VM's processes' pidfds, which name them
 * exactly: they are killed, the keeper is told to quit, the files go. */
static void tear_down_unreadable(const char *dir, int error, int keeper_sock) {
        _cleanup_close_ int sock = keeper_sock;
        int fds[KEEPER_FDS_MAX];
        size_t n = 0;
        int k = sock;

        if (k >= 0)
                k = keeper_receive_fds(sock, fds, KEEPER_FDS_MAX, &n);
        remove_files(dir); /* before the kill, as in tear_down() */
        for (size_t i = 0; i < n; i++)
                if (fd_is_pidfd(fds[i]))
                        (void) pidfd_send_signal(fds[i], SIGKILL, NULL, 0);
        close_pidfds(fds, n);
        if (k >= 0)
                k = keeper_message_send(sock, &(KeeperMessage) { .type = KEEPER_MSG_QUIT }, NULL);
        log_error_errno(error, "%s: the VM's record is unreadable (%m); %s, removing it", dir,
                        k >= 0 ? "its processes were killed, its keeper told to quit" : "no keeper answered");
}

/* keeper_sock: our connection to the VM's keeper, HANDBACK asked, or
 * negative (taken). */
static void adopt_one(Manager *m, const char *dir, int keeper_sock) {
        _cleanup_(vm_record_freep) VmRecord *r = NULL;
        _cleanup_close_ int sock = keeper_sock;
        int pidfds[VM_RECORD_PROCESSES_MAX], k;

        k = vm_record_read(dir, &r);
        if (k == -ENOENT)
                return; /* a directory of vsock sockets only */
        if (IN_SET(k, -EPROTONOSUPPORT, -EPERM, -ELOOP)) {
                /* A newer daemon's, or not ours: not for us to judge. */
                log_error_errno(k, "%s: cannot use the VM's record, leaving it alone: %m", dir);
                return;
        }
        if (k < 0) {
                tear_down_unreadable(dir, k, TAKE_FD(sock));
                return;
        }
        if (r->backend && !streq(r->backend, m->ops->name)) {
                /* Another daemon's, on this runtime directory: not ours to end. */
                log_error("%s: VM %s runs on the %s backend, this gunyahd on %s: leaving it alone", dir, r->name,
                          r->backend, m->ops->name);
                return;
        }
        open_pidfds(r, pidfds);
        if (r->phase != VM_RECORD_RUNNING)
                tear_down(m, dir, r, pidfds, "it was only starting");
        else if ((k = adopt(m, dir, r, pidfds, TAKE_FD(sock))) < 0) {
                errno = -k;
                tear_down(m, dir, r, pidfds,
                          k == -EOPNOTSUPP ? "it cannot be adopted"
                          : k == -ESRCH    ? "its keeper is gone"
                                           : "adopting it failed");
                log_debug_errno(k, "VM %s: adoption: %m", r->name);
        }
        close_pidfds(pidfds, r->n_processes);
}

/* Every keeper is asked first and answers while the others are: their
 * round trips overlap (50 VMs: about 12 ms less under load). */
void manager_adopt_vms(Manager *m) {
        _cleanup_free_ char *vms = NULL;
        char **dirs = NULL;
        int *socks = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        if (asprintf(&vms, "%s/vms", m->runtime_dir) < 0) {
                log_oom();
                return;
        }
        d = opendir(vms);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char **more_dirs;
                int *more_socks;

                if (de->d_name[0] == '.' || !vm_name_is_valid(de->d_name))
                        continue;
                more_dirs = reallocarray(dirs, n + 1, sizeof(char *));
                if (more_dirs)
                        dirs = more_dirs;
                more_socks = reallocarray(socks, n + 1, sizeof(int));
                if (more_socks)
                        socks = more_socks;
                if (!more_dirs || !more_socks || asprintf(&dirs[n], "%s/%s", vms, de->d_name) < 0) {
                        log_oom();
                        break;
                }
                if (keeper_ask(dirs[n], &socks[n]) < 0)
                        socks[n] = -EBADF; /* none answers: no keeper, or not one of ours */
                n++;
        }
        closedir(d);
        for (size_t i = 0; i < n; i++) {
                adopt_one(m, dirs[i], socks[i]);
                free(dirs[i]);
        }
        free(dirs);
        free(socks);
}
