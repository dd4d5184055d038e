/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "manager.h"
#include "parse-util.h"
#include "vm-instance.h"
#include "vm-vsock.h"
#include "vm.h"

char *vm_vsock_path(const Vm *vm) {
        char *path;

        if (vm->state != VM_STATE_RUNNING || !vm->instance || !vm->instance->vsock_dir)
                return NULL;
        if (asprintf(&path, "%s/" VM_VSOCK_SOCKET, vm->instance->vsock_dir) < 0)
                return NULL;
        return path;
}

int vm_vsock_check_cid(Vm *vm, uint32_t cid, char *errbuf, size_t errlen) {
        size_t state = 0;
        Vm *other;

        while (hashmap_iterate(vm->manager->vms, &state, (void **) &other))
                if (other != vm && other->instance && other->instance->vsock_cid == cid) {
                        snprintf(errbuf, errlen, "vsock.cid %" PRIu32 " is taken by VM %s, which is %s; "
                                 "a CID belongs to one running VM", cid, other->name,
                                 vm_state_to_string(other->state));
                        return -EADDRINUSE;
                }
        return 0;
}

static int sockaddr_for(const char *dir, const char *file, struct sockaddr_un *ret) {
        *ret = (struct sockaddr_un) { .sun_family = AF_UNIX };
        if ((size_t) snprintf(ret->sun_path, sizeof(ret->sun_path), "%s/%s", dir, file) >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;
        return 0;
}

int vm_vsock_resolve_group(const char *group, gid_t *ret) {
        struct group *g;
        uint32_t gid;

        *ret = (gid_t) -1;
        if (!group)
                return 0;
        if (parse_u32(group, &gid) >= 0 && gid != UINT32_MAX) {
                *ret = (gid_t) gid;
                return 0;
        }
        errno = 0;
        g = getgrnam(group);
        if (!g)
                return errno > 0 ? -errno : -ENOENT;
        *ret = g->gr_gid;
        return 0;
}

/* root's alone, or shared with the --vsock-group (setgid: what host
 * applications create there stays the group's). */
static void vm_dir_mode(const Vm *vm, mode_t *ret_dir, mode_t *ret_socket, gid_t *ret_gid) {
        bool group = vm->manager->vsock_gid != (gid_t) -1;

        *ret_dir = group ? 02770 : 0700;
        *ret_socket = group ? 0660 : 0600;
        *ret_gid = group ? vm->manager->vsock_gid : 0;
}

static int make_dir(const Vm *vm, const char *path, char *errbuf, size_t errlen) {
        mode_t mode, socket_mode;
        gid_t gid;

        vm_dir_mode(vm, &mode, &socket_mode, &gid);
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                snprintf(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
                return negative_errno();
        }
        /* One a previous daemon left, or someone made: ours, and closed. */
        if (chown(path, 0, gid) < 0 && geteuid() == 0) {
                snprintf(errbuf, errlen, "cannot own %s: %s", path, strerror(errno));
                return negative_errno();
        }
        if (chmod(path, mode) < 0) {
                snprintf(errbuf, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
                return negative_errno();
        }
        return 0;
}

static int listen_at(const Vm *vm, const char *dir, int *ret_fd, char *errbuf, size_t errlen) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        mode_t mode, socket_mode;
        gid_t gid;
        int r;

        vm_dir_mode(vm, &mode, &socket_mode, &gid);
        r = sockaddr_for(dir, VM_VSOCK_SOCKET, &sa);
        if (r < 0) {
                snprintf(errbuf, errlen, "%s/" VM_VSOCK_SOCKET ": path too long for a socket", dir);
                return r;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void) unlink(sa.sun_path); /* a stale one: a daemon before us died */
        /* The directory keeps everyone else out until the mode is right. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (chown(sa.sun_path, 0, gid) < 0 && geteuid() == 0) ||
            chmod(sa.sun_path, socket_mode) < 0 || listen(fd, SOMAXCONN) < 0) {
                snprintf(errbuf, errlen, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
                return negative_errno();
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_vsock_open(Vm *vm, char **ret_dir, int *ret_listen_fd, char *errbuf, size_t errlen) {
        _cleanup_free_ char *vms = NULL, *dir = NULL;
        int r;

        if (asprintf(&vms, "%s/vms", vm->manager->runtime_dir) < 0 || asprintf(&dir, "%s/%s", vms, vm->name) < 0)
                return -ENOMEM;
        /* Everyone may look for their VM's directory; what is in it is guarded. */
        if (mkdir(vms, 0755) < 0 && errno != EEXIST) {
                snprintf(errbuf, errlen, "cannot create %s: %s", vms, strerror(errno));
                return negative_errno();
        }
        r = make_dir(vm, dir, errbuf, errlen);
        if (r >= 0)
                r = listen_at(vm, dir, ret_listen_fd, errbuf, errlen);
        if (r < 0) {
                vm_vsock_close(dir);
                return r;
        }
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

void vm_vsock_close(const char *dir) {
        struct sockaddr_un sa;

        if (!dir)
                return;
        if (sockaddr_for(dir, VM_VSOCK_SOCKET, &sa) >= 0 && unlink(sa.sun_path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "cannot remove %s: %m", sa.sun_path);
        if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
                log_warning_errno(errno, "cannot remove %s: %m", dir);
}

static int connect_to(const char *dir, const char *file, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        int r;

        r = sockaddr_for(dir, file, &sa);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        /* A Unix socket connects at once or not at all (-EAGAIN: backlog full). */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_vsock_connect_host(const char *dir, uint32_t port, int *ret_fd) {
        char file[32];

        snprintf(file, sizeof(file), VM_VSOCK_HOST_PORT_FMT, port);
        return connect_to(dir, file, ret_fd);
}

int vm_vsock_connect_guest(Vm *vm, uint32_t port, int *ret_fd, VmError *error) {
        _cleanup_close_ int fd = -EBADF;
        char line[32];
        ssize_t written;
        int n, r;

        if (!vm->spec->has_vsock && !(vm->instance && vm->instance->vsock_dir))
                return vm_error_set(error, VM_ERROR_INVALID_STATE, -EINVAL, NULL,
                                    "VM %s has no vsock (spec key \"vsock\")", vm->name);
        if (vm->state != VM_STATE_RUNNING || !vm->instance || !vm->instance->vsock_dir)
                return vm_error_set(error, VM_ERROR_INVALID_STATE, -ENOTCONN, NULL,
                                    "VM %s is %s: vsock connects need it running%s", vm->name,
                                    vm_state_to_string(vm->state),
                                    vm->instance && !vm->instance->vsock_dir ? " with the vsock it was started with" : "");
        r = connect_to(vm->instance->vsock_dir, VM_VSOCK_SOCKET, &fd);
        if (r < 0)
                return vm_error_set(error, VM_ERROR_FAILED, r, NULL, "Cannot reach the vsock device of VM %s: %s",
                                    vm->name, strerror(-r));
        /* A fresh socket's buffer takes a line: the write is whole. */
        n = snprintf(line, sizeof(line), "CONNECT %" PRIu32 "\n", port);
        written = write(fd, line, (size_t) n);
        if (written != n) {
                r = written < 0 ? -errno : -EIO;
                return vm_error_set(error, VM_ERROR_FAILED, r, NULL,
                                    "Cannot ask the vsock device of VM %s for port %" PRIu32 ": %s", vm->name, port,
                                    strerror(-r));
        }
        /* The caller gets an ordinary blocking socket. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return vm_error_set(error, VM_ERROR_SYSTEM, -errno, NULL, "fcntl: %s", strerror(errno));
        *ret_fd = TAKE_FD(fd);
        return 0;
}
