/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot-images.h"
#include "config.h"
#include "console.h"
#include "device-process.h"
#include "log.h"
#include "process-util.h"
#include "test-die.h"
#include "macro.h"
#include "manager.h"
#include "vm-instance-devices.h"
#include "vm-instance-record.h"
#include "vm-instance.h"
#include "vm-keeper.h"
#include "vm-scope.h"
#include "vm.h"
#include "worker-protocol.h"
#include "worker.h"

static int on_console_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VmInstance *i = userdata;
        Vm *vm = i->vm;
        char buf[4096];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_vm_warning_errno(vm->name, errno, "console read failed: %m");
                        break;
                }
                if (n == 0) {
                        /* every worker end closed: stop watching */
                        i->console_source = sd_event_source_disable_unref(i->console_source);
                        break;
                }
                console_feed_output(vm->console, buf, (size_t) n);
        }
        return 0;
}

static int create_devices_page(VmInstance *i) {
        _cleanup_close_ int fd = -EBADF;

        fd = memfd_create("gunyah-devices", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, WORKER_DEVICES_SIZE) < 0)
                return negative_errno();
        /* Workers map it; nobody may change its size under them. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return negative_errno();
        i->devices_fd = TAKE_FD(fd);
        return 0;
}

/* The spec's memory mode in the backend's terms (vmconfig does not depend on src/hv). */
static HvMemAccess mem_access_of(VmMemoryMode mode) {
        switch (mode) {
        case VM_MEMORY_LEND:
                return HV_MEM_LEND;
        case VM_MEMORY_SHARE:
                return HV_MEM_SHARE;
        default:
                return _HV_MEM_ACCESS_INVALID; /* the backend refuses it */
        }
}

static int load_guest_memory(VmInstance *i, const VmBootImages *boot, char *errbuf, size_t errlen) {
        /* Everything loaded lies below the swiotlb pool, in the first memory. */
        uint64_t size = boot->layout.ram_size - boot->layout.swiotlb_size;
        void *ram;
        int r;

        ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, i->guest_mem_fd, 0);
        if (ram == MAP_FAILED)
                return negative_errno();

        r = vm_boot_images_load(boot, ram, size, errbuf, errlen);

        /* Lent memory must not stay mapped in the host when the VM starts. */
        if (munmap(ram, size) < 0 && r >= 0)
                r = negative_errno();
        return r;
}

/* One irqfd per doorbell the DT declares (spec §6 step 5, vmm-on-gunyah
 * §4.3): the label is the doorbell's SPI. Level, as QEMU does: a doorbell
 * rung while the guest has not handled it stays asserted. */
static int add_irqfds(VmInstance *inst, const VmLayout *l) {
        const HvBackendOps *ops = inst->vm->manager->ops;
        uint32_t labels[WORKER_IRQFDS_MAX];
        size_t n = 0;
        int r;

        if (l->have_pl011)
                labels[n++] = l->pl011_spi;
        labels[n++] = l->pl061_spi; /* the power button, always there */

        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (fd < 0)
                        return negative_errno();
                r = ops->add_irqfd(inst->hv, fd, labels[i], GUNYAH_IRQFD_FLAGS_LEVEL);
                if (r < 0)
                        return log_vm_error_errno(inst->vm->name, r,
                                                  "cannot register the irqfd of doorbell %" PRIu32 ": %m",
                                                  labels[i]);
                inst->irq_labels[inst->n_irqfds] = labels[i];
                inst->irqfds[inst->n_irqfds++] = TAKE_FD(fd);
                log_vm_debug(inst->vm->name, "irqfd registered for doorbell %" PRIu32, labels[i]);
        }
        return 0;
}

/* Whom the sandboxed workers run as: resolved at every start, so that a
 * user created after the daemon started works and a missing one fails the
 * VM, not the daemon. */
static int resolve_worker_user(Vm *vm, uid_t *ret_uid, gid_t *ret_gid, char *errbuf, size_t errlen) {
        Manager *m = vm->manager;
        int r;

        if (m->no_sandbox) {
                log_vm_warning(vm->name, "starting its vCPU workers WITHOUT their sandbox (--no-sandbox): "
                            "a guest escaping the emulator or a worker bug runs as root.");
                *ret_uid = 0;
                *ret_gid = 0;
                return 0;
        }
        r = worker_user_resolve(m->worker_user, ret_uid, ret_gid);
        if (r == -ESRCH)
                snprintf(errbuf, errlen, "worker user '%s' does not exist (create the system user, "
                         "or choose another with gunyahd --worker-user=)", m->worker_user);
        else if (r < 0)
                snprintf(errbuf, errlen, "cannot look up worker user '%s'", m->worker_user);
        return r;
}

const char *vm_test_hook_for(const Vm *vm, const char *h) {
        const char *colon;

        if (!GUNYAH_SANDBOX_TEST_HOOKS || !h)
                return NULL;
        colon = strchr(h, ':');
        if (!colon || strlen(vm->name) != (size_t) (colon - h) || !strneq(h, vm->name, (size_t) (colon - h)))
                return NULL;
        return colon + 1;
}

/* What every worker of the instance gets; per vCPU: vcpu and the backend fds. */
static WorkerSpawnArgs worker_args(VmInstance *i, const VmLayout *layout, int console_worker_fd, uid_t uid,
                                   gid_t gid) {
        Manager *m = i->vm->manager;

        return (WorkerSpawnArgs) {
                .binary = m->worker_binary,
                .backend = m->ops->name,
                .vm_name = i->vm->name,
                .console_fd = console_worker_fd,
                .devices_fd = i->devices_fd,
                .no_sandbox = m->no_sandbox,
                .uid = uid,
                .gid = gid,
                .test_hook = vm_test_hook_for(i->vm, m->worker_test_hook),
                .pl011_base = layout->have_pl011 ? layout->pl011_base : UINT64_MAX,
                .pl061_base = layout->pl061_base,
                .pl011_spi = layout->pl011_spi,
                .pl061_spi = layout->pl061_spi,
                /* Where the worker drives lines itself (the sim's
                 * vcpu_irq_line), it has no use for the irqfds. */
                .irqfds = m->ops->vcpu_irq_line ? NULL : i->irqfds,
                .irq_labels = i->irq_labels,
                .n_irqfds = m->ops->vcpu_irq_line ? 0 : i->n_irqfds,
                .n_virtio = i->n_devices,
        };
}

/* Every worker process first, then the record lists them, then each is
 * configured: a worker running guest code does not notice its daemon's
 * death, so the next daemon must find it in the record to kill it. */
static int spawn_workers(VmInstance *i, const VmLayout *layout, int console_worker_fd, uid_t uid, gid_t gid) {
        Vm *vm = i->vm;
        Manager *m = vm->manager;
        WorkerSpawnArgs args = worker_args(i, layout, console_worker_fd, uid, gid);
        uint64_t virtio_bases[VM_INSTANCE_DEVICES_MAX];
        int virtio_regs[VM_INSTANCE_DEVICES_MAX], virtio_kicks[VM_INSTANCE_DEVICES_MAX];
        bool replaced = false;
        int r;

        vm_instance_virtio_for_workers(i, virtio_bases, virtio_regs, virtio_kicks);
        args.virtio_bases = virtio_bases;
        args.virtio_regs_fds = virtio_regs;
        args.virtio_kick_fds = virtio_kicks;

        i->workers = calloc(vm->spec->vcpus, sizeof(Worker *));
        if (!i->workers)
                return -ENOMEM;
        for (uint32_t v = 0; v < vm->spec->vcpus; v++) {
                args.vcpu = v;
                r = worker_acquire(vm, m->event, &args, m->pool, &i->workers[v]);
                if (r < 0)
                        return r;
                i->n_workers++;
        }
        r = vm_instance_record_processes(i);
        if (r < 0)
                return r;
        for (uint32_t v = 0; v < vm->spec->vcpus; v++) {
                int fds[HV_VCPU_EXPORT_FDS_MAX];
                size_t n_fds = ELEMENTSOF(fds);

                r = m->ops->vcpu_export(i->hv, v, fds, &n_fds);
                if (r < 0)
                        return r;
                args.vcpu = v;
                args.backend_fds = fds;
                args.n_backend_fds = n_fds;
                r = worker_configure(i->workers[v], m->event, &args);
                if (r < 0)
                        return r;
                replaced = replaced || r > 0;
                if (v == 0)
                        test_die_at(vm, "first-worker");
        }
        return replaced ? vm_instance_record_processes(i) : 0;
}

/* The console pipe: the workers write guest output into one end, the
 * daemon reads the other and feeds the console (log, clients). */
static int watch_console(VmInstance *i) {
        int r;

        r = sd_event_add_io(i->vm->manager->event, &i->console_source, i->console_read_fd, EPOLLIN,
                            on_console_output, i);
        if (r < 0)
                return r;
        console_attach_input(i->vm->console, i->console_read_fd);
        return 0;
}

static int open_console(VmInstance *i, int *ret_worker_fd) {
        int pair[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        /* While no daemon reads (a restart, vm-adopt.h) the guest's output
         * waits here: room for about 10000 lines (each send is one) before
         * its UART writes block. Root may go past wmem_max. */
        if (setsockopt(pair[1], SOL_SOCKET, SO_SNDBUFFORCE, &(int) { VM_CONSOLE_SOCKET_BUFFER }, sizeof(int)) < 0)
                (void) setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &(int) { VM_CONSOLE_SOCKET_BUFFER }, sizeof(int));
        i->console_read_fd = pair[0];
        *ret_worker_fd = pair[1];
        console_begin_run(i->vm->console);
        r = watch_console(i);
        return r;
}

/* Without a boot context (A14) the layout put the entry at the base of the
 * DTB's region, where the Resource Manager starts the VM. */
static int set_boot_context(VmInstance *i, const VmLayout *l, bool have_boot_context) {
        const HvBackendOps *ops = i->vm->manager->ops;
        int r;

        r = ops->set_boot_context(i->hv, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0), l->entry);
        if (r >= 0)
                r = ops->set_boot_context(i->hv, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 0),
                                          l->dtb_addr);
        if (r == -ENOTTY && !have_boot_context)
                return 0;
        return r;
}

static int add_vcpus(VmInstance *i) {
        for (uint32_t v = 0; v < i->vm->spec->vcpus; v++) {
                int r = i->vm->manager->ops->add_vcpu(i->hv, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* START is where a real Resource Manager says no: its errno alone tells an
 * administrator little, so StateReason gets what it meant (gunyahd(8),
 * TROUBLESHOOTING). */
static int start_vm(VmInstance *i, char *errbuf, size_t errlen) {
        const char *meaning;
        int r;

        r = i->vm->manager->ops->start(i->hv);
        if (r < 0 && (meaning = hv_start_error_meaning(r)))
                snprintf(errbuf, errlen, "%s", meaning);
        return r;
}

#define STEP(name, expr)                \
        do {                            \
                *ret_step = (name);     \
                r = (expr);             \
                if (r < 0)              \
                        return r;       \
        } while (0)

static int bring_up(VmInstance *i, const char **ret_step, char *errbuf, size_t errlen) {
        _cleanup_(vm_boot_images_freep) VmBootImages *boot = NULL;
        _cleanup_close_ int console_worker_fd = -EBADF;
        Vm *vm = i->vm;
        Manager *m = vm->manager;
        const HvBackendOps *ops = m->ops;
        bool have_boot_context = ops->abi(m->backend) != HV_ABI_A14;
        uid_t worker_uid;
        gid_t worker_gid;
        int r;

        STEP("start-keeper", vm_instance_record_begin(i, errbuf, errlen));
        test_die_at(vm, "keeper");
        STEP("worker-user", resolve_worker_user(vm, &worker_uid, &worker_gid, errbuf, errlen));
        STEP("prepare-images", vm_boot_images_prepare(vm->spec, have_boot_context, &boot, errbuf, errlen));
        const VmLayout *l = &boot->layout;

        STEP("create-vm", ops->vm_create(m->backend, &i->hv));
        STEP("create-guest-memory", vm_instance_create_memory(i, l, mem_access_of(vm->spec->memory.mode)));
        test_die_at(vm, "guest-memory");
        STEP("load-images", load_guest_memory(i, boot, errbuf, errlen));
        STEP("set-dtb-config", ops->set_dtb_config(i->hv, l->dtb_addr, l->dtb_window));
        STEP("set-boot-context", set_boot_context(i, l, have_boot_context));
        STEP("add-vcpu", add_vcpus(i));
        STEP("add-irqfds", add_irqfds(i, l));
        STEP("prepare-devices", vm_instance_prepare_devices(i, l, errbuf, errlen));

        /* Kept for GetDeviceTree. */
        i->dtb = TAKE_PTR(boot->dtb);
        i->dtb_size = boot->dtb_size;

        STEP("create-devices", create_devices_page(i));
        STEP("create-console", open_console(i, &console_worker_fd));
        STEP("start-devices", vm_instance_spawn_devices(i, l, worker_uid, worker_gid));
        test_die_at(vm, "devices");
        STEP("start", start_vm(i, errbuf, errlen));
        test_die_at(vm, "started");
        STEP("spawn-workers", spawn_workers(i, l, console_worker_fd, worker_uid, worker_gid));
        test_die_at(vm, "workers");
        *ret_step = NULL;
        return 0;
}

/* Every process of the instance into its own scope unit, vCPU 0's worker
 * first, the keeper last (it must outlive a restart of gunyahd.service). */
static int attach_scope(VmInstance *i) {
        pid_t pids[VM_VCPUS_MAX + VM_INSTANCE_DEVICES_MAX + 1];
        size_t n = vm_instance_worker_pids(i, pids, VM_VCPUS_MAX);

        for (size_t d = 0; d < i->n_devices; d++)
                pids[n++] = i->devices[d]->pid;
        if (i->keeper)
                pids[n++] = i->keeper->pid;
        return vm_scope_new(i->vm, pids, n, &i->scope);
}

static VmInstance *instance_alloc(Vm *vm) {
        VmInstance *i = calloc(1, sizeof(*i));

        if (i)
                *i = (VmInstance) {
                        .vm = vm,
                        .guest_mem_fd = -EBADF,
                        .swiotlb_mem_fd = -EBADF,
                        .devices_fd = -EBADF,
                        .console_read_fd = -EBADF,
                };
        return i;
}

int vm_instance_new_adopted(Vm *vm, int console_fd, int devices_fd, VmInstance **ret) {
        _cleanup_(vm_instance_freep) VmInstance *i = instance_alloc(vm);
        int r;

        if (!i) {
                safe_close(console_fd);
                safe_close(devices_fd);
                return -ENOMEM;
        }
        i->console_read_fd = console_fd;
        i->devices_fd = devices_fd;
        r = watch_console(i);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(i);
        return 0;
}

int vm_instance_add_adopted_worker(VmInstance *i, uint32_t vcpu, pid_t pid, int pidfd, int control_fd) {
        Worker **workers, *w;
        int r;

        workers = reallocarray(i->workers, i->n_workers + 1, sizeof(Worker *));
        if (!workers) {
                safe_close(pidfd);
                safe_close(control_fd);
                return -ENOMEM;
        }
        i->workers = workers;
        r = worker_adopt(i->vm, i->vm->manager->event, vcpu, pid, pidfd, control_fd, &w);
        if (r < 0)
                return r;
        i->workers[i->n_workers++] = w;
        return 0;
}

int vm_instance_add_adopted_device(VmInstance *i, uint32_t index, pid_t pid, int pidfd, int control_fd) {
        const VmSpec *spec = i->vm->spec;
        VmLayoutDevice where;
        int r;

        /* The record's devices are the spec's transports, in layout order. */
        if (index != i->n_devices || index >= vm_spec_n_transports(spec) || index >= VM_INSTANCE_DEVICES_MAX) {
                safe_close(pidfd);
                safe_close(control_fd);
                return -EBADMSG;
        }
        vm_layout_transport(spec, index, &where);
        if (where.kind == VM_DEVICE_VIRTIO_VSOCK) {
                /* The CID is the instance's again, its directory where the record is. */
                i->vsock_cid = spec->vsock.cid;
                i->vsock_dir = strdup(i->record_dir);
                if (!i->vsock_dir) {
                        safe_close(pidfd);
                        safe_close(control_fd);
                        return -ENOMEM;
                }
        }
        r = device_process_adopt(i->vm, i->vm->manager->event, &where, i->vsock_dir, pid, pidfd, control_fd,
                                 &i->devices[i->n_devices]);
        if (r < 0)
                return r;
        i->n_devices++;
        return 0;
}

int vm_instance_new(Vm *vm, VmInstance **ret, const char **ret_step, char *errbuf, size_t errlen) {
        _cleanup_(vm_instance_freep) VmInstance *i = NULL;
        int r;

        i = instance_alloc(vm);
        if (!i)
                return -ENOMEM;
        r = bring_up(i, ret_step, errbuf, errlen);
        if (r < 0)
                return r;
        r = attach_scope(i);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(i);
        return 0;
}

/* end: the instance ends (processes killed, hypervisor VM destroyed,
 * files removed); else only our side of it goes (vm_instance_detach). */
static VmInstance *instance_free(VmInstance *i, bool end) {
        if (!i)
                return NULL;

        /* Workers first: they hold vCPU fds that keep the VM alive. */
        for (size_t w = 0; w < i->n_workers; w++) {
                Worker *wk = i->workers[w];
                if (end && !wk->exited)
                        process_kill_and_reap(wk->pid, wk->pidfd);
                worker_free(wk);
        }
        free(i->workers);
        /* Devices next: they hold guest memory and the images' locks. */
        vm_instance_free_devices(i, end);
        (end ? vm_scope_free : vm_scope_release)(i->scope);
        sd_event_source_disable_unref(i->grace_timer);
        sd_event_source_disable_unref(i->gone_event);

        if (i->hv)
                (end ? i->vm->manager->ops->vm_destroy : i->vm->manager->ops->vm_release)(i->hv);
        safe_close(i->guest_mem_fd);
        safe_close(i->swiotlb_mem_fd);
        safe_close(i->devices_fd);
        for (size_t q = 0; q < i->n_irqfds; q++)
                safe_close(i->irqfds[q]);
        /* The workers are gone: what they wrote last is still in the socket. */
        if (i->console_source)
                (void) on_console_output(i->console_source, i->console_read_fd, EPOLLIN, i);
        sd_event_source_disable_unref(i->console_source);
        if (i->console_read_fd >= 0)
                console_attach_input(i->vm->console, -EBADF);
        safe_close(i->console_read_fd);
        free(i->dtb);
        /* Last: a record with nothing behind it is what a new daemon must not find. */
        if (end)
                vm_instance_record_end(i);
        else
                vm_instance_record_release(i);
        free(i);
        return NULL;
}

VmInstance *vm_instance_free(VmInstance *i) {
        return instance_free(i, true);
}

bool vm_instance_can_detach(const VmInstance *i) {
        Manager *m = i->vm->manager;

        return i->recorded_running && i->keeper && hv_vm_outlives_handle(m->ops, m->backend);
}

VmInstance *vm_instance_detach(VmInstance *i) {
        return instance_free(i, false);
}

int vm_instance_press_power_button(VmInstance *i) {
        int r = -ENOTCONN;

        /* The power button lives in the shared device page: one worker is enough. */
        for (size_t w = 0; w < i->n_workers; w++) {
                WorkerMessage msg = { .type = WORKER_MSG_POWER_BUTTON, .vcpu = i->workers[w]->vcpu };

                if (i->workers[w]->exited)
                        continue;
                r = worker_send(i->workers[w], &msg);
                if (r >= 0)
                        return 0;
        }
        return r;
}

void vm_instance_workers_kill(VmInstance *i) {
        for (size_t w = 0; w < i->n_workers; w++)
                if (!i->workers[w]->exited)
                        worker_kill(i->workers[w]);
}

static int on_grace_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        VmInstance *i = userdata;

        for (size_t w = 0; w < i->n_workers; w++)
                if (!i->workers[w]->exited)
                        log_vm_warning(i->vm->name, "worker of vCPU %u did not leave, killing it",
                                    i->workers[w]->vcpu);
        vm_instance_workers_kill(i);
        return 0;
}

void vm_instance_workers_leave(VmInstance *i) {
        int r;

        for (size_t w = 0; w < i->n_workers; w++)
                if (!i->workers[w]->exited)
                        (void) worker_request_stop(i->workers[w]);
        i->grace_timer = sd_event_source_disable_unref(i->grace_timer);
        r = sd_event_add_time_relative(i->vm->manager->event, &i->grace_timer, CLOCK_MONOTONIC,
                                       VM_WORKER_STOP_GRACE_USEC, 0, on_grace_expired, i);
        if (r < 0)
                log_vm_error_errno(i->vm->name, r, "failed to arm the workers' grace timer: %m");
}

bool vm_instance_workers_ready(const VmInstance *i) {
        if (i->n_workers != i->vm->spec->vcpus)
                return false;
        for (size_t w = 0; w < i->n_workers; w++)
                if (!i->workers[w]->ready)
                        return false;
        return true;
}

bool vm_instance_workers_gone(const VmInstance *i) {
        for (size_t w = 0; w < i->n_workers; w++)
                if (!i->workers[w]->exited)
                        return false;
        return true;
}

/* Finishing a stop frees the workers and may free the VM itself, so it
 * never runs inside a worker's or a caller's callback. */
void vm_instance_watch_workers_gone(VmInstance *i, sd_event_handler_t done, void *userdata) {
        int r;

        if (i->gone_event || !vm_instance_workers_gone(i))
                return;
        r = sd_event_add_defer(i->vm->manager->event, &i->gone_event, done, userdata);
        if (r < 0)
                log_vm_error_errno(i->vm->name, r, "cannot schedule the end of its stop: %m");
}

size_t vm_instance_worker_pids(const VmInstance *i, pid_t *pids, size_t max) {
        size_t n = 0;

        for (size_t w = 0; i && w < i->n_workers && n < max; w++)
                if (!i->workers[w]->exited)
                        pids[n++] = i->workers[w]->pid;
        return n;
}
