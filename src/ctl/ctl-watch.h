/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Following one VM until it has ended for good: stopped or failed, and not
 * about to be restarted by its lifecycle actions (on_reboot/on_poweroff
 * restart at once; on_crash restart after a back-off, counted by
 * CrashRestartCount). The daemon passes through "stopped" on every restart,
 * so "stopped" alone does not end a watch.
 *
 * Create the watch (it subscribes synchronously) BEFORE the call that starts
 * or stops the VM, then call ctl_watch_check() to read the state the call
 * left: no transition can fall between the two.
 *
 * Two transports: D-Bus signals (ctl_watch_new), or varlink SubscribeEvents
 * with a second connection for the reads (ctl_watch_new_varlink). The rule
 * for "ended" is the same code for both.
 */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ctl-varlink.h"

/* A daemon restart (D-Bus: gunyahd leaves the bus and takes it again) does
 * not end a watch: VMs outlive the daemon. Only a daemon not back this
 * long after it left (or a transient VM gone with it) does. */
#define CTL_WATCH_DAEMON_RETURN_USEC (60ULL * 1000000ULL)

typedef enum CtlWatchEnd {
        CTL_WATCH_ENDED,       /* state and reason hold how */
        CTL_WATCH_REMOVED,     /* the VM object went away (destroyed, transient) */
        CTL_WATCH_DAEMON_GONE, /* gunyahd left the bus and did not come back */
} CtlWatchEnd;

typedef struct CtlWatch CtlWatch;
typedef void (*CtlWatchHandler)(CtlWatch *w, CtlWatchEnd end, void *userdata);

struct CtlWatch {
        sd_bus *bus;                  /* D-Bus, or NULL for varlink */
        char *path;                   /* D-Bus: the VM's object path */
        char *name;                   /* varlink: the VM's name */
        CtlVarlink *events, *calls;   /* varlink: the subscription, and GetVM */
        char *state;           /* latest known */
        char *reason;
        unsigned restart_count; /* CrashRestartCount at the last decision */
        bool ended;
        sd_bus_slot *slot_props, *slot_removed, *slot_owner;
        sd_event_source *away_timer; /* D-Bus: gunyahd left the bus; it has this long to come back */
        CtlWatchHandler handler;
        void *userdata;
};

int ctl_watch_new(sd_bus *bus, const char *path, CtlWatchHandler handler, void *userdata, CtlWatch **ret);
/* Subscribes over varlink (--varlink), attached to event's loop. Returns a
 * negative CTL_EXIT_* code on failure, having said why ("gunyahctl: what: ..."). */
int ctl_watch_new_varlink(const char *what, sd_event *event, const char *name, CtlWatchHandler handler,
                          void *userdata, CtlWatch **ret);
CtlWatch *ctl_watch_free(CtlWatch *w);
static inline void ctl_watch_freep(CtlWatch **w) {
        if (*w)
                ctl_watch_free(*w);
}

/* Reads State now and calls the handler if the VM has ended. With
 * count_restarts, the current CrashRestartCount is taken as the baseline
 * (a watch attached to a VM it did not start). */
int ctl_watch_check(CtlWatch *w, bool count_restarts);

/* state is stopped or failed. */
bool ctl_state_is_final(const char *state);
