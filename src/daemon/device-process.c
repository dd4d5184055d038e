/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device-process.h"
#include "device-protocol.h"
#include "id-util.h"
#include "log.h"
#include "process-util.h"
#include "virtio-blk.h"
#include "virtio-mmio.h"
#include "virtio-rng.h"
#include "virtio-vsock.h"
#include "vm-vsock.h"
#include "vm.h"

/* Writers exclusive, readers shared: two running VMs never both write one
 * image, nor does one read what another writes (as QEMU locks images). */
static int open_and_lock_disk(const VmDisk *disk, uint32_t index, int *ret_fd, char *errbuf, size_t errlen) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(disk->path, (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                snprintf(errbuf, errlen, "disks[%" PRIu32 "] %s: cannot open%s: %s", index, disk->path,
                         disk->readonly ? "" : " for writing", strerror(errno));
                return negative_errno();
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                snprintf(errbuf, errlen, "disks[%" PRIu32 "] %s: not a regular file or block device", index, disk->path);
                return -EINVAL;
        }
        if (flock(fd, (disk->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
                int r = negative_errno();
                snprintf(errbuf, errlen, "disks[%" PRIu32 "] %s: %s", index, disk->path,
                         r == -EWOULDBLOCK ? "in use by another running VM (it holds the image's lock)"
                                           : strerror(-r));
                return r == -EWOULDBLOCK ? -EBUSY : r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The register page as the guest first sees it: the daemon fills it before
 * any vCPU runs, so the driver never probes a half-made device. */
static int create_regs(uint32_t device_id, uint64_t features, unsigned n_queues, uint16_t queue_max,
                       const void *config, size_t config_len, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        void *p;
        int r;

        fd = memfd_create("gunyah-virtio-regs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, sizeof(VirtioMmioShared)) < 0)
                return negative_errno();
        /* Neither a worker nor the device can resize it under the other (SIGBUS). */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return negative_errno();
        p = mmap(NULL, sizeof(VirtioMmioShared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        r = virtio_mmio_init(p, device_id, features, n_queues, queue_max, config, config_len);
        (void) munmap(p, sizeof(VirtioMmioShared));
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int create_block_regs(DeviceProcess *d, int *ret_fd) {
        VirtioBlkConfig config;
        VirtioBlk blk;
        int r;

        r = virtio_blk_init(&blk, d->backing_fd, d->readonly, d->serial[0] ? d->serial : NULL);
        if (r < 0)
                return r;
        virtio_blk_config(&blk, &config);
        return create_regs(VIRTIO_ID_BLOCK, virtio_blk_device_features(&blk), 1, VIRTIO_BLK_QUEUE_SIZE_MAX, &config,
                           sizeof(config), ret_fd);
}

/* Doorbells: guest writes to QueueNotify signal kick_fd without a vCPU
 * exit (no DATAMATCH: broken in some android14 kernels, one notify address
 * per device instead); irq_fd rings the device's SPI. */
static int register_doorbells(DeviceProcess *d, const HvBackendOps *ops, HvVm *hv) {
        int r;

        d->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (d->kick_fd < 0 || d->irq_fd < 0)
                return negative_errno();
        r = ops->add_ioeventfd(hv, d->kick_fd, d->where.base + VIRTIO_MMIO_QUEUE_NOTIFY, 0, 0, 0);
        if (r < 0)
                return log_vm_error_errno(d->vm->name, r, "%s: cannot register its ioeventfd at 0x%" PRIx64 ": %m",
                                          d->name, d->where.base + VIRTIO_MMIO_QUEUE_NOTIFY);
        r = ops->add_irqfd(hv, d->irq_fd, d->where.spi, 0);
        if (r < 0)
                return log_vm_error_errno(d->vm->name, r, "%s: cannot register its irqfd (SPI %" PRIu32 "): %m",
                                          d->name, d->where.spi);
        return 0;
}

/* Named as logs, StateReason and gunyah-device's --type= name it. */
static DeviceProcess *device_process_alloc(Vm *vm, const VmLayoutDevice *where) {
        static const char *const types[_VM_DEVICE_KIND_MAX] = {
                [VM_DEVICE_VIRTIO_BLK] = "block",
                [VM_DEVICE_VIRTIO_VSOCK] = "vsock",
                [VM_DEVICE_VIRTIO_RNG] = "rng",
        };
        DeviceProcess *d;

        if ((unsigned) where->kind >= _VM_DEVICE_KIND_MAX)
                return NULL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        *d = (DeviceProcess) {
                .vm = vm,
                .type = types[where->kind],
                .where = *where,
                .regs_fd = -EBADF,
                .kick_fd = -EBADF,
                .irq_fd = -EBADF,
                .backing_fd = -EBADF,
                .pidfd = -EBADF,
                .control_fd = -EBADF,
        };
        if (where->kind == VM_DEVICE_VIRTIO_BLK)
                snprintf(d->name, sizeof(d->name), "disk%" PRIu32, where->spec_index);
        else
                snprintf(d->name, sizeof(d->name), "%s", d->type);
        return d;
}

int device_process_prepare_disk(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                                const VmDisk *disk, DeviceProcess **ret, char *errbuf, size_t errlen) {
        _cleanup_(device_process_freep) DeviceProcess *d = device_process_alloc(vm, where);
        int r;

        if (!d)
                return -ENOMEM;
        d->readonly = disk->readonly;
        snprintf(d->serial, sizeof(d->serial), "%s", disk->serial);
        r = open_and_lock_disk(disk, where->spec_index, &d->backing_fd, errbuf, errlen);
        if (r < 0)
                return r;
        r = create_block_regs(d, &d->regs_fd);
        if (r < 0) {
                snprintf(errbuf, errlen, "disks[%" PRIu32 "] %s: %s", where->spec_index, disk->path, strerror(-r));
                return r;
        }
        r = register_doorbells(d, ops, hv);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

/* The register page and doorbells of a device with no image to open. */
static int prepare_plain(DeviceProcess *d, const HvBackendOps *ops, HvVm *hv, uint32_t device_id, unsigned n_queues,
                         uint16_t queue_max, const void *config, size_t config_len) {
        int r;

        r = create_regs(device_id, UINT64_C(1) << VIRTIO_F_VERSION_1, n_queues, queue_max, config, config_len,
                        &d->regs_fd);
        if (r < 0)
                return log_vm_error_errno(d->vm->name, r, "%s: cannot create its register page: %m", d->name);
        return register_doorbells(d, ops, hv);
}

int device_process_prepare_vsock(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                                 uint32_t cid, const char *vsock_dir, int listen_fd, DeviceProcess **ret) {
        _cleanup_(device_process_freep) DeviceProcess *d = device_process_alloc(vm, where);
        uint8_t config[VIRTIO_VSOCK_CONFIG_SIZE];
        int r;

        if (!d) {
                safe_close(listen_fd);
                return -ENOMEM;
        }
        d->backing_fd = listen_fd;
        d->cid = cid;
        d->vsock_dir = vsock_dir;
        virtio_vsock_config(cid, config);
        r = prepare_plain(d, ops, hv, VIRTIO_VSOCK_DEVICE_ID, VIRTIO_VSOCK_QUEUES, VIRTIO_VSOCK_QUEUE_MAX, config,
                          sizeof(config));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int device_process_prepare_rng(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                               DeviceProcess **ret) {
        _cleanup_(device_process_freep) DeviceProcess *d = device_process_alloc(vm, where);
        int r;

        if (!d)
                return -ENOMEM;
        /* Keeps the fd numbers of device-protocol.h fixed; never used. */
        d->backing_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (d->backing_fd < 0)
                return log_vm_error_errno(vm->name, errno, "rng: cannot open /dev/null: %m");
        r = prepare_plain(d, ops, hv, VIRTIO_RNG_DEVICE_ID, 1, VIRTIO_RNG_QUEUE_MAX, NULL, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

/* A compromised device could say a lot: this much is logged, then no more. */
#define DEVICE_GUEST_ERRORS_LOGGED_MAX 16u

static void device_failed(DeviceProcess *d, const char *what, const VmExitInfo *e) {
        char detail[160];

        snprintf(detail, sizeof(detail), "device %s (virtio-%s at 0x%" PRIx64 ") %s", d->name,
                 streq(d->type, "block") ? "blk" : d->type, d->where.base, what);
        vm_on_device_failed(d->vm, detail, e);
}

/* The device runs as the worker user in an empty root: the daemon makes
 * the guest's connects to host sockets and hands each over, at once. */
static void broker_connect(DeviceProcess *d, const DeviceMessage *m) {
        DeviceReply reply = { .type = DEVICE_REPLY_VSOCK_CONNECTED, .port = m->port, .cookie = m->cookie };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!d->vsock_dir) {
                /* Only a compromised device asks: it gets a no, not a crash. */
                if (d->guest_errors_logged++ < DEVICE_GUEST_ERRORS_LOGGED_MAX)
                        log_vm_warning(d->vm->name, "device %s asked for a vsock connect it has no business with", d->name);
                reply.error = -EPERM;
        } else
                reply.error = vm_vsock_connect_host(d->vsock_dir, m->port, &fd);
        if (reply.error < 0)
                log_vm_debug(d->vm->name, "device %s: no host listener on vsock port %" PRIu32 ": %s", d->name,
                             m->port, errno_to_name(reply.error));
        r = device_reply_send(d->control_fd, &reply, fd);
        if (r < 0)
                log_vm_warning(d->vm->name, "device %s: cannot answer its connect to port %" PRIu32 ": %s", d->name,
                               m->port, strerror(-r));
}

static void on_device_message(DeviceProcess *d, const DeviceMessage *m) {
        char what[96];

        switch (m->type) {
        case DEVICE_MSG_READY:
                d->ready = true;
                log_vm_debug(d->vm->name, "device %s (pid %d) ready", d->name, (int) d->pid);
                break;
        case DEVICE_MSG_FAILED: {
                VmExitInfo e = { .vcpu = -1, .error = -m->error };

                snprintf(e.step, sizeof(e.step), "%s", m->step);
                snprintf(what, sizeof(what), "failed at %s: %s", m->step, errno_to_name(m->error));
                device_failed(d, what, &e);
                break;
        }
        case DEVICE_MSG_GUEST_ERROR:
                if (d->guest_errors_logged++ < DEVICE_GUEST_ERRORS_LOGGED_MAX)
                        log_vm_warning(d->vm->name, "device %s: the guest drove it wrong: %s (%s)", d->name,
                                       m->detail, errno_to_name(m->error));
                break;
        case DEVICE_MSG_VSOCK_CONNECT:
                broker_connect(d, m);
                break;
        }
}

static int on_device_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        DeviceProcess *d = userdata;
        DeviceMessage m;

        for (;;) {
                int r = device_message_receive(fd, d->name, &m);
                if (r == -EBADMSG)
                        continue;
                if (r == -EAGAIN)
                        break;
                if (r <= 0) {
                        d->control_source = sd_event_source_disable_unref(d->control_source);
                        break;
                }
                on_device_message(d, &m);
        }
        if (revents & (EPOLLHUP | EPOLLERR))
                d->control_source = sd_event_source_disable_unref(d->control_source);
        return 0;
}

static int on_device_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        DeviceProcess *d = userdata;
        char what[64];

        d->exited = true;
        /* What it said before dying comes first: it may name the step. */
        if (d->control_source)
                (void) on_device_control(NULL, d->control_fd, 0, d);
        if (si->si_code == CLD_EXITED)
                snprintf(what, sizeof(what), "exited with status %d", si->si_status);
        else
                snprintf(what, sizeof(what), "killed by SIG%s", sigabbrev_np(si->si_status) ?: "?");
        log_vm_full(si->si_code == CLD_EXITED && si->si_status == 0 ? LOG_DEBUG : LOG_ERR, d->vm->name,
                    "device %s (pid %d) %s", d->name, (int) d->pid, what);
        device_failed(d, what, &(VmExitInfo) {
                .vcpu = -1,
                .signal = si->si_code == CLD_EXITED ? 0 : si->si_status,
                .exit_code = si->si_code == CLD_EXITED ? si->si_status : 0,
        });
        return 0;
}

/* The command line says what the device is; the fds what it serves. */
static int device_argv(const DeviceProcess *d, const DeviceSpawnArgs *a, char ***ret) {
        _cleanup_free_ char *memory = NULL;
        char **argv = calloc(14, sizeof(char *));
        size_t n = 0;

        if (!argv)
                return -ENOMEM;
        *ret = argv;
        for (size_t i = 0; i < a->n_memory; i++) {
                char *next = NULL;
                if (asprintf(&next, "%s%s0x%" PRIx64 ":%" PRIu64, memory ?: "", memory ? "," : "",
                             a->memory[i].guest_addr, a->memory[i].size) < 0)
                        return -ENOMEM;
                free(memory);
                memory = next;
        }
        if (!(argv[n++] = strdup(a->binary)) ||
            asprintf(&argv[n++], "--type=%s", d->type) < 0 ||
            asprintf(&argv[n++], "--vm=%s", d->vm->name) < 0 ||
            asprintf(&argv[n++], "--device=%s", d->name) < 0 ||
            asprintf(&argv[n++], "--memory=%s", memory) < 0)
                return -ENOMEM;
        if (a->no_sandbox) {
                if (!(argv[n++] = strdup("--no-sandbox")))
                        return -ENOMEM;
        } else if (asprintf(&argv[n++], "--uid=%u", (unsigned) a->uid) < 0 ||
                   asprintf(&argv[n++], "--gid=%u", (unsigned) a->gid) < 0)
                return -ENOMEM;
        if (d->readonly && !(argv[n++] = strdup("--readonly")))
                return -ENOMEM;
        if (d->serial[0] && asprintf(&argv[n++], "--serial=%s", d->serial) < 0)
                return -ENOMEM;
        if (d->cid > 0 && asprintf(&argv[n++], "--cid=%" PRIu32, d->cid) < 0)
                return -ENOMEM;
        if (a->test_hook && asprintf(&argv[n++], "--test-hook=%s", a->test_hook) < 0)
                return -ENOMEM;
        /* The daemon's debug log includes its devices' (vsock's connection steps). */
        if (log_get_max_level() >= LOG_DEBUG && !(argv[n++] = strdup("--log-level=debug")))
                return -ENOMEM;
        return 0;
}

static void strv_freep(char ***p) {
        if (!*p)
                return;
        for (char **s = *p; *s; s++)
                free(*s);
        free(*p);
}

int device_process_spawn(DeviceProcess *d, sd_event *event, const DeviceSpawnArgs *a) {
        _cleanup_(strv_freep) char **argv = NULL;
        _cleanup_close_ int device_end = -EBADF;
        int pair[2], fds[5 + DEVICE_MEMORY_REGIONS_MAX], r;

        if (a->n_memory == 0 || a->n_memory > DEVICE_MEMORY_REGIONS_MAX)
                return -EINVAL;
        r = device_argv(d, a, &argv);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        d->control_fd = pair[0];
        device_end = pair[1];

        fds[DEVICE_FD_CONTROL - 3] = device_end;
        fds[DEVICE_FD_REGS - 3] = d->regs_fd;
        fds[DEVICE_FD_KICK - 3] = d->kick_fd;
        fds[DEVICE_FD_IRQ - 3] = d->irq_fd;
        fds[DEVICE_FD_BACKING - 3] = d->backing_fd;
        for (size_t i = 0; i < a->n_memory; i++)
                fds[DEVICE_FD_MEMORY - 3 + i] = a->memory[i].fd;
        r = process_spawn_with_fds(a->binary, argv, fds, DEVICE_FD_MEMORY - 3 + a->n_memory, &d->pid, &d->pidfd);
        if (r < 0)
                return log_vm_error_errno(d->vm->name, r, "cannot start the process of device %s: %m", d->name);

        r = sd_event_add_child_pidfd(event, &d->pid_source, d->pidfd, WEXITED, on_device_exit, d);
        if (r >= 0)
                r = sd_event_add_io(event, &d->control_source, d->control_fd, EPOLLIN, on_device_control, d);
        if (r < 0) {
                process_kill_and_reap(d->pid, d->pidfd);
                d->exited = true;
                return log_vm_error_errno(d->vm->name, r, "cannot watch device %s: %m", d->name);
        }
        log_vm_debug(d->vm->name, "device %s runs in pid %d", d->name, (int) d->pid);
        return 0;
}

/* Only a parent learns how a process ended: an adopted one's status
 * went with the daemon that forked it. */
static int on_adopted_device_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        DeviceProcess *d = userdata;

        d->pid_source = sd_event_source_disable_unref(d->pid_source);
        d->exited = true;
        if (d->control_source)
                (void) on_device_control(NULL, d->control_fd, 0, d);
        log_vm_error(d->vm->name, "device %s (pid %d) ended (not our child: how, only its parent knew)", d->name,
                     (int) d->pid);
        device_failed(d, "ended", &(VmExitInfo) { .vcpu = -1 });
        return 0;
}

static int on_adopted_device_gone(sd_event_source *s, void *userdata) {
        return on_adopted_device_exit(s, -EBADF, 0, userdata);
}

int device_process_adopt(Vm *vm, sd_event *event, const VmLayoutDevice *where, const char *vsock_dir, pid_t pid,
                         int pidfd, int control_fd, DeviceProcess **ret) {
        _cleanup_(device_process_freep) DeviceProcess *d = device_process_alloc(vm, where);
        int r;

        if (!d) {
                safe_close(pidfd);
                safe_close(control_fd);
                return -ENOMEM;
        }
        d->pid = pid;
        d->pidfd = pidfd;
        d->control_fd = control_fd;
        d->ready = true;
        d->exited = pidfd < 0; /* never killed by a PID that may be another's now */
        if (where->kind == VM_DEVICE_VIRTIO_VSOCK) {
                d->cid = vm->spec->vsock.cid;
                d->vsock_dir = vsock_dir;
        }
        /* Gone while no daemon ran: what it said is still queued on its socket. */
        if (pidfd < 0)
                r = sd_event_add_defer(event, &d->pid_source, on_adopted_device_gone, d);
        else
                r = sd_event_add_io(event, &d->pid_source, d->pidfd, EPOLLIN, on_adopted_device_exit, d);
        if (r >= 0)
                r = sd_event_add_io(event, &d->control_source, d->control_fd, EPOLLIN, on_device_control, d);
        if (r < 0)
                return log_vm_error_errno(vm->name, r, "cannot watch device %s: %m", d->name);
        log_vm_debug(vm->name, "device %s: adopted pid %d", d->name, (int) pid);
        *ret = TAKE_PTR(d);
        return 0;
}

DeviceProcess *device_process_free(DeviceProcess *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->pid_source);
        sd_event_source_disable_unref(d->control_source);
        if (d->pid > 0 && !d->exited)
                process_kill_and_reap(d->pid, d->pidfd);
        safe_close(d->pidfd);
        safe_close(d->control_fd);
        safe_close(d->regs_fd);
        safe_close(d->kick_fd);
        safe_close(d->irq_fd);
        safe_close(d->backing_fd); /* and with it the image's lock */
        free(d);
        return NULL;
}

DeviceProcess *device_process_release(DeviceProcess *d) {
        if (d)
                d->exited = true; /* as far as we are concerned: not killed */
        return device_process_free(d);
}
