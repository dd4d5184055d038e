/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a virtio-vsock device process may do beyond the common device table
 * (seccomp-device.c): wait on its epoll set, accept on its listener (fd 7),
 * move bytes on the sockets it accepted or the daemon handed it, shut them
 * down and close them. No socket(), no connect(): guest → host connects
 * are the daemon's (DEVICE_MSG_VSOCK_CONNECT).
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "device-protocol.h"
#include "device.h"
#include "macro.h"
#include "seccomp-util.h"

static const SeccompRule vsock_rules[] = {
        SECCOMP_ALLOW(epoll_pwait, "wait for kicks, the daemon, clients and connections (epoll_wait() on arm64)"),
#ifdef __NR_epoll_wait
        SECCOMP_ALLOW(epoll_wait, "the same on x86_64"),
#endif
        SECCOMP_ALLOW(epoll_ctl, "watch accepted and handed sockets, unwatch clients"),
        SECCOMP_ALLOW_IF_EQ(accept4, 0, DEVICE_FD_BACKING, "accept clients of <vmdir>/vsock (fd 7) only"),
        SECCOMP_ALLOW(readv, "bytes from a connection's host socket into guest buffers"),
        SECCOMP_ALLOW(sendmsg, "guest bytes to a connection's host socket"),
        SECCOMP_ALLOW(recvfrom, "peek and read a client's CONNECT line"),
        SECCOMP_ALLOW(sendto, "the OK line to a client (and messages to the daemon)"),
        SECCOMP_ALLOW(shutdown, "the guest shut down its sending side"),
        /* Connections come and go at run time: their buffers are malloc'ed
         * (glibc maps when the heap cannot grow; ASan's allocator always). */
        SECCOMP_ALLOW_IF_MASKED_EQ(mmap, 2, PROT_EXEC, 0, "malloc of connection buffers; never PROT_EXEC"),
        SECCOMP_ALLOW(munmap, "free of such memory"),
};

const SeccompTable seccomp_table_vsock = {
        .backend = "vsock",
        .rules = vsock_rules,
        .n_rules = ELEMENTSOF(vsock_rules),
};
