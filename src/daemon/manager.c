/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-manager.h"
#include "bus-polkit.h"
#include "bus-vm.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm-adopt.h"
#include "varlink.h"
#include "vm-vsock.h"
#include "vm-spec.h"
#include "worker-pool.h"
#include "worker.h"
#include "vm.h"

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

/* $STATE_DIRECTORY etc. may list several paths separated by ':'; we use the first. */
static int pick_dir(const char *option, const char *env, const char *fallback, char **ret) {
        const char *v = option;
        char *s;

        if (!v) {
                v = getenv(env);
                if (v && *v) {
                        s = strndup(v, strcspn(v, ":"));
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
                v = fallback;
        }
        s = strdup(v);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int manager_pick_backend(Manager *m, const ManagerConfig *c) {
        const char *want = c->backend ?: "auto";
        const HvBackendOps *kernel = hv_backend_lookup("kernel"), *sim = hv_backend_lookup("sim");
        int r;

        if (!streq(want, "auto") && !streq(want, "kernel") && !streq(want, "sim"))
                return log_error_errno(-EINVAL, "Unknown backend '%s': use auto, kernel or sim.", want);

        if (!streq(want, "sim")) {
                r = kernel ? kernel->open(c->device_path, &m->backend) : -EOPNOTSUPP;
                if (r >= 0) {
                        m->ops = kernel;
                        if (asprintf(&m->backend_reason, "%s opened, ABI %s", c->device_path ?: "/dev/gunyah",
                                     hv_abi_to_string(kernel->abi(m->backend))) < 0)
                                m->backend_reason = NULL;
                        log_info("Using the kernel backend: %s.", strna(m->backend_reason));
                        return 0;
                }
                if (streq(want, "kernel"))
                        return log_error_errno(r, "Kernel backend unavailable (%s): %m",
                                               c->device_path ?: "/dev/gunyah");
                if (asprintf(&m->backend_reason, "%s unusable (%s)", c->device_path ?: "/dev/gunyah",
                             strerror(-r)) < 0)
                        m->backend_reason = NULL;
        }

        if (!sim)
                return log_error_errno(-EOPNOTSUPP, "No simulator is built into this gunyahd (-Dsim=disabled)%s%s.",
                                       m->backend_reason ? ", and " : "", m->backend_reason ?: "");
        r = sim->open(NULL, &m->backend);
        if (r < 0)
                return log_error_errno(r, "Failed to open the simulator backend: %m");
        m->ops = sim;
        if (streq(want, "auto"))
                log_notice("Using the simulator backend: %s; guests run in software emulation.",
                           strna(m->backend_reason));
        else
                log_info("Using the simulator backend (requested).");
        if (!m->backend_reason)
                m->backend_reason = strdup("requested");
        return 0;
}

static int manager_connect_bus(Manager *m, const ManagerConfig *c) {
        int r;

        switch (c->bus_kind) {
        case BUS_USER:
                r = sd_bus_open_user(&m->bus);
                break;
        case BUS_ADDRESS:
                r = sd_bus_new(&m->bus);
                if (r < 0)
                        break;
                r = sd_bus_set_address(m->bus, c->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(m->bus, true);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
                break;
        default:
                r = sd_bus_open_system(&m->bus);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

/* Where everything is: options first, then systemd's environment, then
 * the build's defaults. */
static int manager_pick_paths(Manager *m, const ManagerConfig *c) {
        int r;

        r = pick_dir(c->state_dir, "STATE_DIRECTORY", "/var/lib/gunyahd", &m->state_dir);
        if (r >= 0)
                r = pick_dir(c->log_dir, "LOGS_DIRECTORY", "/var/log/gunyahd", &m->log_dir);
        if (r >= 0)
                r = pick_dir(c->runtime_dir, "RUNTIME_DIRECTORY", "/run/gunyahd", &m->runtime_dir);
        if (r >= 0)
                r = pick_dir(c->config_dir, "GUNYAH_CONFIG_DIRECTORY", GUNYAH_SYSCONFDIR "/gunyah/vms",
                             &m->config_dir);
        if (r >= 0)
                r = pick_dir(c->worker_binary, "GUNYAH_VCPU_BINARY", GUNYAH_LIBEXECDIR "/gunyah/gunyah-vcpu",
                             &m->worker_binary);
        if (r >= 0)
                r = pick_dir(c->device_binary, "GUNYAH_DEVICE_BINARY", GUNYAH_LIBEXECDIR "/gunyah/gunyah-device",
                             &m->device_binary);
        if (r >= 0)
                r = pick_dir(c->keeper_binary, "GUNYAH_KEEPER_BINARY", GUNYAH_LIBEXECDIR "/gunyah/gunyah-keeper",
                             &m->keeper_binary);
        return r;
}

int manager_new(const ManagerConfig *c, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        r = hashmap_new(&m->vms);
        if (r < 0)
                return log_oom();
        m->no_sandbox = c->no_sandbox;
        m->stop_vms_on_exit = c->stop_vms_on_exit;
        m->worker_user = strdup(c->worker_user ?: GUNYAH_WORKER_USER_DEFAULT);
        if (!m->worker_user)
                return log_oom();
        if ((c->worker_test_hook && !(m->worker_test_hook = strdup(c->worker_test_hook))) ||
            (c->device_test_hook && !(m->device_test_hook = strdup(c->device_test_hook))))
                return log_oom();

        r = manager_pick_paths(m, c);
        if (r < 0)
                return log_oom();
        r = vm_vsock_resolve_group(c->vsock_group, &m->vsock_gid);
        if (r < 0)
                return log_error_errno(r, "--vsock-group=%s: no such group: %m", c->vsock_group);
        if (asprintf(&m->vm_state_dir, "%s/vms", m->state_dir) < 0)
                return log_oom();

        /* The runtime directory holds the varlink socket, which everyone may
         * read from: it must be searchable (systemd makes it 0755 too). */
        const struct {
                const char *path;
                mode_t mode;
        } dirs[] = { { m->vm_state_dir, 0700 }, { m->log_dir, 0750 }, { m->runtime_dir, 0755 } };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                r = mkdir_p(dirs[i].path, dirs[i].mode);
                if (r < 0)
                        return log_error_errno(r, "Failed to create directory %s: %m", dirs[i].path);
        }

        if (access(m->worker_binary, X_OK) < 0)
                return log_error_errno(errno, "Worker binary %s is not executable: %m (use --worker-binary=)",
                                       m->worker_binary);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");

        r = manager_pick_backend(m, c);
        if (r < 0)
                return r;

        r = worker_pool_new(m->event, m->worker_binary, m->no_sandbox ? NULL : m->worker_user, &m->pool);
        if (r < 0)
                return log_oom();

        r = manager_connect_bus(m, c);
        if (r < 0)
                return r;

        r = bus_manager_register(m);
        if (r >= 0)
                r = bus_polkit_setup(m);
        if (r >= 0)
                r = varlink_start(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        varlink_stop(m);
        bus_polkit_done(m);
        if (m->vms) {
                size_t state = 0;
                Vm *vm;
                while (hashmap_iterate(m->vms, &state, (void **) &vm))
                        vm_free(vm);
                hashmap_free(m->vms);
        }
        worker_pool_free(m->pool);
        free(m->subscribers);
        if (m->backend && m->ops)
                m->ops->close(m->backend);
        sd_bus_flush_close_unref(m->bus);
        sd_bus_flush_close_unref(m->system_bus);
        sd_event_unref(m->event);
        free(m->backend_reason);
        free(m->state_dir);
        free(m->vm_state_dir);
        free(m->log_dir);
        free(m->runtime_dir);
        free(m->config_dir);
        free(m->worker_binary);
        free(m->device_binary);
        free(m->keeper_binary);
        free(m->worker_user);
        free(m->worker_test_hook);
        free(m->device_test_hook);
        free(m);
        return NULL;
}

static int vm_compare(const void *a, const void *b) {
        return strcmp((*(Vm *const *) a)->name, (*(Vm *const *) b)->name);
}

static size_t manager_n_vms(const Manager *m) {
        return hashmap_size(m->vms);
}

int manager_list_vms(Manager *m, Vm ***ret, size_t *ret_n) {
        size_t n = 0, state = 0;
        Vm **a, *vm;

        a = calloc(hashmap_size(m->vms) + 1, sizeof(Vm *));
        if (!a)
                return -ENOMEM;
        while (hashmap_iterate(m->vms, &state, (void **) &vm))
                a[n++] = vm;
        qsort(a, n, sizeof(Vm *), vm_compare);
        *ret = a;
        *ret_n = n;
        return 0;
}

Vm *manager_get_vm(Manager *m, const char *name) {
        return hashmap_get(m->vms, name);
}

int manager_lookup_vm(Manager *m, const char *name, Vm **ret, VmError *error) {
        Vm *vm;

        if (!vm_name_is_valid(name))
                return vm_error_set(error, VM_ERROR_INVALID_ARGUMENT, EINVAL, "name",
                                    "Invalid VM name '%s': must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.", name);
        vm = manager_get_vm(m, name);
        if (!vm) {
                vm_error_set_vm(error, name);
                return vm_error_set(error, VM_ERROR_NO_SUCH_VM, ESRCH, "name", "No VM named '%s'.", name);
        }
        *ret = vm;
        return 0;
}

int manager_add_vm(Manager *m, Vm *vm) {
        int r;

        r = hashmap_put(m->vms, vm->name, vm);
        if (r < 0)
                return r;
        (void) sd_bus_emit_object_added(m->bus, vm->object_path);
        manager_notify_vm_event(m, vm, "added");
        return 0;
}

void manager_remove_vm(Manager *m, Vm *vm) {
        /* Before the VM leaves the map: sd-bus lists the removed interfaces
         * by looking the object up, and would name only the standard ones. */
        (void) sd_bus_emit_object_removed(m->bus, vm->object_path);
        if (hashmap_get(m->vms, vm->name) == vm)
                (void) hashmap_remove(m->vms, vm->name);
        manager_notify_vm_event(m, vm, "removed");
}

static int check_create_arguments(const char *json, uint64_t flags, VmError *error) {
        if (flags & ~GUNYAH_CREATE_FLAGS_ALL)
                return vm_error_set(error, VM_ERROR_INVALID_ARGUMENT, EINVAL, "flags",
                                    "Unknown CreateVM flags 0x%" PRIx64 " (known: persist=0x1, start=0x2, transient=0x4).",
                                    flags & ~GUNYAH_CREATE_FLAGS_ALL);
        if ((flags & GUNYAH_CREATE_PERSIST) && (flags & GUNYAH_CREATE_TRANSIENT))
                return vm_error_set(error, VM_ERROR_INVALID_ARGUMENT, EINVAL, "transient",
                                    "CreateVM flags persist and transient exclude each other.");
        if (strlen(json) > VM_SPEC_SIZE_MAX)
                return vm_error_set(error, VM_ERROR_INVALID_ARGUMENT, EINVAL, "spec",
                                    "Spec is %zu bytes, larger than the limit of %d bytes.", strlen(json),
                                    VM_SPEC_SIZE_MAX);
        return 0;
}

int manager_create_vm(Manager *m, const char *json, uint64_t flags, Vm **ret, VmError *error) {
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        _cleanup_(vm_freep) Vm *vm = NULL;
        VmSpecError e = {};
        char buf[600];
        Vm *added;
        int r;

        r = check_create_arguments(json, flags, error);
        if (r < 0)
                return r;
        r = vm_spec_parse(json, strlen(json), VM_SPEC_ABSOLUTE_PATHS, &spec, &e);
        if (r < 0)
                return vm_error_set(error, VM_ERROR_INVALID_SPEC, EBADMSG, "spec", "%s",
                                    vm_spec_error_to_string(&e, buf, sizeof(buf)));
        if (manager_get_vm(m, spec->name)) {
                vm_error_set_vm(error, spec->name);
                return vm_error_set(error, VM_ERROR_VM_EXISTS, EEXIST, "spec", "A VM named '%s' already exists.",
                                    spec->name);
        }

        r = vm_new(m, spec, &vm);
        if (r < 0)
                return vm_error_set(error, VM_ERROR_SYSTEM, r, NULL, "Failed to create VM '%s': %s", spec->name,
                                    strerror(-r));
        TAKE_PTR(spec);
        vm->transient = flags & GUNYAH_CREATE_TRANSIENT;

        if (flags & GUNYAH_CREATE_PERSIST) {
                r = vm_save_definition(vm);
                if (r < 0)
                        return vm_error_set(error, VM_ERROR_SYSTEM, r, NULL,
                                            "Failed to persist VM '%s' in %s: %s; it was not created.", vm->name,
                                            m->vm_state_dir, strerror(-r));
        }
        r = manager_add_vm(m, vm);
        if (r < 0) {
                if (vm->definition_path)
                        (void) unlink(vm->definition_path);
                return vm_error_set(error, VM_ERROR_SYSTEM, r, NULL, "Failed to add VM: %s", strerror(-r));
        }
        added = TAKE_PTR(vm);

        if (flags & GUNYAH_CREATE_START) {
                VmError start_error = VM_ERROR_NULL;
                if (vm_start(added, VM_REASON_START, &start_error) < 0)
                        log_debug("VM %s created, start failed: %s", added->name, start_error.message);
        }
        *ret = added;
        return 0;
}

/* A definition file that is already loaded: on reload, an inactive VM takes
 * the new contents; a running one keeps its spec until it is started again. */
static void manager_refresh_vm(Manager *m, Vm *vm, VmSpec **spec) {
        _cleanup_free_ char *json = NULL;
        if (vm_spec_to_json(*spec, &json) < 0 || streq(json, vm->spec_json))
                return;
        if (vm_is_active(vm)) {
                log_vm_notice(vm->name, "%s changed; the new spec applies once the VM is stopped and reloaded",
                              vm->definition_path);
                return;
        }
        vm_spec_free(vm->spec);
        vm->spec = TAKE_PTR(*spec);
        free(vm->spec_json);
        vm->spec_json = TAKE_PTR(json);
        log_vm_info(vm->name, "reloaded from %s", vm->definition_path);
        bus_vm_emit_spec_changed(vm);
}

/* Loads every *.json of dir; a bad file is reported and skipped, never touched. */
static void manager_load_dir(Manager *m, const char *dir, bool read_only) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        log_warning_errno(errno, "Cannot read definitions from %s: %m", dir);
                return;
        }

        while ((de = readdir(d))) {
                _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
                _cleanup_free_ char *path = NULL;
                VmSpecError e = {};
                char buf[600];
                size_t len = strlen(de->d_name);
                Vm *vm;
                int r;

                if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".json"))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        log_oom();
                        return;
                }

                r = vm_spec_load_file(path, 0, &spec, &e);
                if (r < 0) {
                        log_error("Skipping %s: %s", path, vm_spec_error_to_string(&e, buf, sizeof(buf)));
                        continue;
                }
                vm = manager_get_vm(m, spec->name);
                if (vm && vm->definition_path && streq(vm->definition_path, path)) {
                        manager_refresh_vm(m, vm, &spec);
                        continue;
                }
                if (strlen(spec->name) != len - 5 || strncmp(spec->name, de->d_name, len - 5) != 0)
                        log_notice("%s defines VM '%s' (the file name and the VM name differ)", path, spec->name);
                if (vm) {
                        log_error("Skipping %s: a VM named '%s' is already defined", path, spec->name);
                        continue;
                }

                r = vm_new(m, spec, &vm);
                if (r < 0) {
                        log_error_errno(r, "Skipping %s: %m", path);
                        continue;
                }
                TAKE_PTR(spec);
                vm->read_only = read_only;
                vm->persistent = !read_only;
                vm->definition_path = TAKE_PTR(path);
                r = manager_add_vm(m, vm);
                if (r < 0) {
                        log_error_errno(r, "Skipping %s: %m", vm->definition_path);
                        vm_free(vm);
                }
        }
}

/* SIGHUP: pick up admin definitions added, changed or removed since start. */
static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading VM definitions...");
        manager_load_dir(m, m->config_dir, true);

        /* Admin files that are gone take their VMs with them (running ones once stopped). */
        _cleanup_free_ Vm **vms = NULL;
        size_t n;
        if (manager_list_vms(m, &vms, &n) < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++)
                if (vms[i]->read_only && vms[i]->definition_path && access(vms[i]->definition_path, F_OK) < 0)
                        vm_undefine(vms[i]);
        (void) sd_notifyf(false, "READY=1\nSTATUS=Managing %zu VM(s) on the %s backend.", manager_n_vms(m),
                          m->ops->name);
        return 0;
}

/* Loads the definitions and starts the autostart VMs. */
static int manager_startup(Manager *m) {
        manager_load_dir(m, m->config_dir, true);
        manager_load_dir(m, m->vm_state_dir, false);
        manager_adopt_vms(m);

        _cleanup_free_ Vm **vms = NULL;
        size_t n;
        int r = manager_list_vms(m, &vms, &n);
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                VmError error = VM_ERROR_NULL;

                if (vms[i]->spec->autostart && !vm_is_active(vms[i]) && vm_start(vms[i], VM_REASON_AUTOSTART, &error) < 0)
                        log_error("Autostart of VM %s failed: %s", vms[i]->name, error.message);
        }
        return 0;
}

void manager_notify_vm_event(Manager *m, Vm *vm, const char *event) {
        for (size_t i = 0; i < m->n_subscribers; i++)
                m->subscribers[i].cb(m, vm, event, m->subscribers[i].userdata);
}

int manager_subscribe(Manager *m, VmEventCallback cb, void *userdata) {
        void *a = reallocarray(m->subscribers, m->n_subscribers + 1, sizeof(m->subscribers[0]));

        if (!a)
                return -ENOMEM;
        m->subscribers = a;
        m->subscribers[m->n_subscribers].cb = cb;
        m->subscribers[m->n_subscribers].userdata = userdata;
        m->n_subscribers++;
        return 0;
}

void manager_unsubscribe(Manager *m, VmEventCallback cb, void *userdata) {
        for (size_t i = 0; i < m->n_subscribers; i++)
                if (m->subscribers[i].cb == cb && m->subscribers[i].userdata == userdata) {
                        m->subscribers[i] = m->subscribers[--m->n_subscribers];
                        return;
                }
}

void manager_refill_pool(Manager *m) {
        if (!m->exiting)
                worker_pool_refill(m->pool);
}

void manager_check_exit(Manager *m) {
        if (!m->exiting)
                return;
        size_t state = 0;
        Vm *vm;
        while (hashmap_iterate(m->vms, &state, (void **) &vm))
                if (vm_is_active(vm))
                        return;
        (void) sd_event_exit(m->event, 0);
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ Vm **vms = NULL;
        size_t n, left = 0;

        log_info("Received %s, %s.", strsignal((int) si->ssi_signo),
                 m->stop_vms_on_exit ? "stopping running VMs" : "leaving running VMs to the next gunyahd");
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping...");
        m->exiting = true;

        /* Definitions stay. A running VM whose keeper holds our fds runs on
         * for the next daemon; the others are stopped with the reason recorded. */
        if (manager_list_vms(m, &vms, &n) < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                if (!vm_is_active(vms[i]))
                        continue;
                if (!m->stop_vms_on_exit && vm_detach(vms[i]) >= 0)
                        left++;
                else
                        (void) vm_kill(vms[i], VM_REASON_DAEMON_EXIT, "gunyahd is stopping", NULL);
        }
        if (left > 0)
                log_info("%zu running VM(s) left running for the next gunyahd.", left);
        manager_check_exit(m);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch termination signals: %m");

        r = sd_bus_request_name(m->bus, GUNYAH_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire bus name %s: %m", GUNYAH_BUS_NAME);

        (void) manager_startup(m);
        manager_refill_pool(m);

        (void) sd_notifyf(false, "READY=1\nSTATUS=Managing %zu VM(s) on the %s backend.", manager_n_vms(m),
                          m->ops->name);
        log_info("gunyahd %s ready on the %s backend (ABI %s), %zu VM(s) defined.", PACKAGE_VERSION, m->ops->name,
                 manager_abi_string(m), manager_n_vms(m));

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

const char *manager_abi_string(Manager *m) {
        return hv_abi_to_string(m->ops->abi(m->backend)) ?: "unknown";
}
