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

#include "config.h"
#include "console.h"
#include "dtb.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm-start.h"
#include "worker-protocol.h"
#include "worker.h"

static int on_console_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Vm *vm = userdata;
        char buf[4096];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "VM %s: console read failed: %m", vm->name);
                        break;
                }
                if (n == 0) {
                        /* every worker end closed: stop watching */
                        vm->console_source = sd_event_source_disable_unref(vm->console_source);
                        break;
                }
                console_feed_output(vm->console, buf, (size_t) n);
        }
        return 0;
}

static int create_devices_page(Vm *vm) {
        _cleanup_close_ int fd = -EBADF;

        fd = memfd_create("gunyah-devices", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, WORKER_DEVICES_SIZE) < 0)
                return negative_errno();
        /* Workers map it; nobody may change its size under them. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return negative_errno();
        vm->devices_fd = TAKE_FD(fd);
        return 0;
}

static int load_guest_memory(Vm *vm, const VmBootImages *boot, char *errbuf, size_t errlen) {
        uint64_t size = vm->spec->memory.size;
        void *ram;
        int r;

        ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->guest_mem_fd, 0);
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
static int add_irqfds(Vm *vm, const VmLayout *l) {
        const HvBackendOps *ops = vm->manager->ops;
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
                r = ops->add_irqfd(vm->hv, fd, labels[i], GUNYAH_IRQFD_FLAGS_LEVEL);
                if (r < 0)
                        return log_error_errno(r, "VM %s: cannot register the irqfd of doorbell %" PRIu32 ": %m",
                                               vm->name, labels[i]);
                vm->irq_labels[vm->n_irqfds] = labels[i];
                vm->irqfds[vm->n_irqfds++] = TAKE_FD(fd);
                log_debug("VM %s: irqfd registered for doorbell %" PRIu32, vm->name, labels[i]);
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
                log_warning("VM %s: starting its vCPU workers WITHOUT their sandbox (--no-sandbox): "
                            "a guest escaping the emulator or a worker bug runs as root.", vm->name);
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

/* TEST ONLY (hook builds): "VM:ATTEMPT" applies to the workers of VM. */
static const char *worker_test_hook_for(const Vm *vm) {
        const char *h = vm->manager->worker_test_hook, *colon;

        if (!GUNYAH_SANDBOX_TEST_HOOKS || !h)
                return NULL;
        colon = strchr(h, ':');
        if (!colon || strlen(vm->name) != (size_t) (colon - h) || !strneq(h, vm->name, (size_t) (colon - h)))
                return NULL;
        return colon + 1;
}

static int spawn_workers(Vm *vm, const VmLayout *layout, int console_worker_fd, uid_t uid, gid_t gid) {
        Manager *m = vm->manager;
        int r;

        vm->workers = calloc(vm->spec->vcpus, sizeof(Worker *));
        if (!vm->workers)
                return -ENOMEM;

        for (uint32_t i = 0; i < vm->spec->vcpus; i++) {
                int fds[HV_VCPU_EXPORT_FDS_MAX];
                size_t n_fds = ELEMENTSOF(fds);

                r = m->ops->vcpu_export(vm->hv, i, fds, &n_fds);
                if (r < 0)
                        return r;

                WorkerSpawnArgs args = {
                        .binary = m->worker_binary,
                        .backend = m->ops->name,
                        .vm_name = vm->name,
                        .vcpu = i,
                        .console_fd = console_worker_fd,
                        .devices_fd = vm->devices_fd,
                        .backend_fds = fds,
                        .n_backend_fds = n_fds,
                        .no_sandbox = m->no_sandbox,
                        .uid = uid,
                        .gid = gid,
                        .test_hook = worker_test_hook_for(vm),
                        .pl011_base = layout->have_pl011 ? layout->pl011_base : UINT64_MAX,
                        .pl061_base = layout->pl061_base,
                        .pl011_spi = layout->pl011_spi,
                        .pl061_spi = layout->pl061_spi,
                        /* Where the worker drives lines itself (the sim's
                         * vcpu_irq_line), it has no use for the irqfds. */
                        .irqfds = m->ops->vcpu_irq_line ? NULL : vm->irqfds,
                        .irq_labels = vm->irq_labels,
                        .n_irqfds = m->ops->vcpu_irq_line ? 0 : vm->n_irqfds,
                };
                r = worker_spawn(vm, m->event, &args, m->pool, &vm->workers[i]);
                if (r < 0)
                        return r;
                vm->n_workers++;
        }
        return 0;
}

#define STEP(name, expr)                \
        do {                            \
                *ret_step = (name);     \
                r = (expr);             \
                if (r < 0)              \
                        return r;       \
        } while (0)

int vm_instance_start(Vm *vm, const char **ret_step, char *errbuf, size_t errlen) {
        _cleanup_(vm_boot_images_freep) VmBootImages *boot = NULL;
        _cleanup_close_ int console_worker_fd = -EBADF;
        Manager *m = vm->manager;
        const HvBackendOps *ops = m->ops;
        bool have_boot_context = ops->abi(m->backend) != HV_ABI_A14;
        uid_t worker_uid;
        gid_t worker_gid;
        int pair[2];
        int r;

        if (vm->hv)
                return -EBUSY;

        STEP("worker-user", resolve_worker_user(vm, &worker_uid, &worker_gid, errbuf, errlen));

        STEP("prepare-images", vm_boot_images_prepare(vm->spec, have_boot_context, &boot, errbuf, errlen));
        const VmLayout *l = &boot->layout;

        STEP("create-vm", ops->vm_create(m->backend, &vm->hv));
        STEP("create-guest-memory", ops->guest_mem_create(vm->hv, vm->spec->memory.size, &vm->guest_mem_fd));

        HvMemBinding binding = {
                .guest_addr = l->ram_base,
                .offset = 0,
                .size = vm->spec->memory.size,
                .guest_mem_fd = vm->guest_mem_fd,
                .access = vm->spec->memory.mode,
                .prot = HV_PROT_RWX,
                .label = 0,
        };
        STEP("map-memory", ops->map_mem(vm->hv, &binding));
        STEP("load-images", load_guest_memory(vm, boot, errbuf, errlen));
        STEP("set-dtb-config", ops->set_dtb_config(vm->hv, l->dtb_addr, l->dtb_window));

        /* Without a boot context (A14) the layout put the entry at the base
         * of the DTB's region, where the Resource Manager starts the VM. */
        *ret_step = "set-boot-context";
        r = ops->set_boot_context(vm->hv, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC, 0), l->entry);
        if (r >= 0)
                r = ops->set_boot_context(vm->hv, GUNYAH_VM_BOOT_CONTEXT_REG(GUNYAH_VM_BOOT_CONTEXT_REG_SET_X, 0),
                                          l->dtb_addr);
        if (r < 0 && !(r == -ENOTTY && !have_boot_context))
                return r;

        for (uint32_t i = 0; i < vm->spec->vcpus; i++)
                STEP("add-vcpu", ops->add_vcpu(vm->hv, i));
        STEP("add-irqfds", add_irqfds(vm, l));

        /* Keep the DTB for GetDeviceTree. */
        free(vm->dtb);
        vm->dtb = TAKE_PTR(boot->dtb);
        vm->dtb_size = boot->dtb_size;

        STEP("create-devices", create_devices_page(vm));

        *ret_step = "create-console";
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        vm->console_read_fd = pair[0];
        console_worker_fd = pair[1];
        r = sd_event_add_io(m->event, &vm->console_source, vm->console_read_fd, EPOLLIN, on_console_output, vm);
        if (r < 0)
                return r;
        console_attach_input(vm->console, vm->console_read_fd);

        STEP("start", ops->start(vm->hv));
        STEP("spawn-workers", spawn_workers(vm, l, console_worker_fd, worker_uid, worker_gid));

        *ret_step = NULL;
        return 0;
}

void vm_instance_teardown(Vm *vm) {
        Manager *m = vm->manager;

        /* Workers first: they hold vCPU fds that keep the VM alive. */
        for (size_t i = 0; i < vm->n_workers; i++) {
                Worker *w = vm->workers[i];
                if (!w->exited) {
                        int status;
                        (void) kill(w->pid, SIGKILL);
                        (void) waitpid(w->pid, &status, 0);
                }
                worker_free(w);
        }
        free(vm->workers);
        vm->workers = NULL;
        vm->n_workers = 0;

        if (vm->hv) {
                m->ops->vm_destroy(vm->hv);
                vm->hv = NULL;
        }
        vm->guest_mem_fd = safe_close(vm->guest_mem_fd);
        vm->devices_fd = safe_close(vm->devices_fd);
        for (size_t i = 0; i < vm->n_irqfds; i++)
                vm->irqfds[i] = safe_close(vm->irqfds[i]);
        vm->n_irqfds = 0;
        /* The workers are gone: what they wrote last is still in the socket. */
        if (vm->console_source)
                (void) on_console_output(vm->console_source, vm->console_read_fd, EPOLLIN, vm);
        vm->console_source = sd_event_source_disable_unref(vm->console_source);
        if (vm->console)
                console_attach_input(vm->console, -EBADF);
        vm->console_read_fd = safe_close(vm->console_read_fd);
}

int vm_instance_request_poweroff(Vm *vm) {
        int r = -ENOTCONN;

        /* The power button lives in the shared device page: one worker is enough. */
        for (size_t i = 0; i < vm->n_workers; i++) {
                WorkerMessage msg = { .type = WORKER_MSG_POWER_BUTTON, .vcpu = vm->workers[i]->vcpu };

                if (vm->workers[i]->exited)
                        continue;
                r = worker_send(vm->workers[i], &msg);
                if (r >= 0)
                        return 0;
        }
        return r;
}
