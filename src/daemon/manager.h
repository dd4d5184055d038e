/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "hashmap.h"
#include "hv.h"
#include "vm.h"

typedef enum BusKind {
        BUS_SYSTEM,
        BUS_USER,
        BUS_ADDRESS,
} BusKind;

typedef struct ManagerConfig {
        const char *backend;       /* "auto", "kernel", "sim" */
        const char *device_path;   /* /dev/gunyah */
        BusKind bus_kind;
        const char *bus_address;
        const char *state_dir;
        const char *log_dir;
        const char *runtime_dir;
        const char *config_dir;    /* admin definitions, /etc/gunyah/vms */
        const char *worker_binary;
        const char *device_binary;
        const char *keeper_binary;
        const char *worker_user;      /* NAME or UID the sandboxed workers run as */
        const char *vsock_group;      /* NAME or GID given the VMs' vsock directories, or NULL */
        const char *worker_test_hook; /* TEST ONLY (hook builds): "VM:ATTEMPT" */
        const char *device_test_hook; /* TEST ONLY (hook builds): "VM:ATTEMPT" */
        const char *test_die_at;      /* TEST ONLY (hook builds): "VM:STEP" (test-die.h) */
        bool no_sandbox;
        bool no_autostart;
        bool stop_vms_on_exit; /* else running VMs are left to the next daemon (vm-adopt.h) */
} ManagerConfig;

typedef struct VarlinkServer VarlinkServer;
typedef struct PolkitRegistry PolkitRegistry;
typedef struct WorkerPool WorkerPool;

typedef void (*VmEventCallback)(Manager *m, Vm *vm, const char *event, void *userdata);

struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_bus *system_bus; /* systemd and machined, opened at the first VM start under systemd (vm-scope.c) */

        const HvBackendOps *ops;
        HvBackend *backend;
        char *backend_reason; /* why this backend was picked */

        char *state_dir;
        char *vm_state_dir; /* state_dir/vms: persisted definitions */
        char *log_dir;
        char *runtime_dir;
        char *config_dir;
        char *worker_binary;
        char *device_binary;    /* gunyah-device: checked when a VM with devices starts */
        char *keeper_binary;    /* gunyah-keeper: one per started VM (vm-keeper.h) */
        char *worker_user;      /* resolved at each VM start (docs/sandbox.md) */
        gid_t vsock_gid;        /* --vsock-group, or (gid_t) -1: root only (vm-vsock.c) */
        char *worker_test_hook; /* TEST ONLY: "VM:ATTEMPT", hook builds only */
        char *device_test_hook; /* TEST ONLY: "VM:ATTEMPT", hook builds only */
        const char *test_die_at; /* TEST ONLY: "VM:STEP", hook builds only; argv's (main.c) */
        bool no_sandbox;
        bool stop_vms_on_exit;

        Hashmap *vms; /* name → Vm */

        /* State-change subscribers (varlink SubscribeEvents). */
        struct {
                VmEventCallback cb;
                void *userdata;
        } *subscribers;
        size_t n_subscribers;

        VarlinkServer *varlink;  /* varlink.c */
        PolkitRegistry *polkit;  /* bus-polkit.c: pending authorizations */
        WorkerPool *pool;        /* worker-pool.c: the spare worker */

        bool exiting;
};

int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}

int manager_run(Manager *m);     /* until SIGTERM/SIGINT; stops VMs on the way out */

Vm *manager_get_vm(Manager *m, const char *name);
/* As manager_get_vm, for a name a client gave: an invalid name or no such VM is an error. */
int manager_lookup_vm(Manager *m, const char *name, Vm **ret, VmError *error);
/* Takes vm into the set and announces it (ObjectManager, varlink). */
int manager_add_vm(Manager *m, Vm *vm);
void manager_remove_vm(Manager *m, Vm *vm);
/* Every VM, sorted by name, in a new array (*ret is the caller's; the VMs are not). */
int manager_list_vms(Manager *m, Vm ***ret, size_t *ret_n);

/* Creates a VM from a JSON spec document (CreateVM); with
 * GUNYAH_CREATE_START also starts it (the VM exists either way: a failed
 * start shows in its state). */
int manager_create_vm(Manager *m, const char *json, uint64_t flags, Vm **ret, VmError *error);

void manager_notify_vm_event(Manager *m, Vm *vm, const char *event);
int manager_subscribe(Manager *m, VmEventCallback cb, void *userdata);
void manager_unsubscribe(Manager *m, VmEventCallback cb, void *userdata);

/* A VM left the starting state: time to replace a spare worker it took. */
void manager_refill_pool(Manager *m);

/* Called when a VM reached stopped/failed, to finish a daemon shutdown. */
void manager_check_exit(Manager *m);

const char *manager_abi_string(Manager *m);
