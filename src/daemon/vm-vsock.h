/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A VM's vsock on the host side (hybrid vsock, as Firecracker's): the
 * per-VM directory <runtime_dir>/vms/NAME (0700, root's; 2770 with the
 * group of gunyahd --vsock-group), the listening
 * socket "vsock" in it that host clients connect to (handed to the vsock
 * device process, which speaks "CONNECT <port>\n" on it), the guest's
 * connects to host port P as connects to "vsock_P" there (made by the
 * daemon, as root, for the sandboxed device), and the rule that two
 * starting or running VMs never share a CID.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vm-error.h"

typedef struct Vm Vm;
typedef struct Manager Manager;

#define VM_VSOCK_SOCKET "vsock"          /* <vmdir>/vsock: host → guest */
#define VM_VSOCK_HOST_PORT_FMT "vsock_%u" /* <vmdir>/vsock_P: guest → host port P */

/* --vsock-group: NULL → (gid_t) -1 (root only); a group name or a number. */
int vm_vsock_resolve_group(const char *group, gid_t *ret);

/* "<vmdir>/vsock" while the VM runs with vsock, else NULL (also on ENOMEM). */
char *vm_vsock_path(const Vm *vm);

/* -EADDRINUSE, errbuf naming the other VM, when a starting or running VM
 * other than vm has its CID. */
int vm_vsock_check_cid(Vm *vm, uint32_t cid, char *errbuf, size_t errlen);

/* Creates <runtime_dir>/vms/NAME (kept if it exists) and the listening
 * socket in it (a stale one from a daemon that died is replaced): its
 * non-blocking fd and the directory. errbuf says what failed. */
int vm_vsock_open(Vm *vm, char **ret_dir, int *ret_listen_fd, char *errbuf, size_t errlen);

/* Removes the listening socket and the directory if nothing else is left
 * in it (the host applications' vsock_P sockets are theirs). */
void vm_vsock_close(const char *dir);

/* The broker: a non-blocking connect to <dir>/vsock_<port>; -errno when
 * nothing listens there (-ENOENT, -ECONNREFUSED, -EAGAIN for a full
 * backlog) or the path is not a socket. */
int vm_vsock_connect_host(const char *dir, uint32_t port, int *ret_fd);

/* ConnectVsock: a connected socket to the VM's listening socket with
 * "CONNECT <port>\n" written; the caller reads "OK <hostport>\n" or EOF.
 * VM_ERROR_INVALID_STATE when the VM is not running or has no vsock. */
int vm_vsock_connect_guest(Vm *vm, uint32_t port, int *ret_fd, VmError *error);
