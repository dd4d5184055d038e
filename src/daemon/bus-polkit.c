/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-polkit.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"
#define POLKIT_ALLOW_USER_INTERACTION UINT32_C(1)
/* An answer whose call was never dispatched again (say, its VM was destroyed
 * meanwhile, so the handler failed before asking) is dropped after this. */
#define POLKIT_ANSWER_KEEP_USEC (60 * UINT64_C(1000000))

/*
 * One CheckAuthorization per method call, keyed by the call message: the
 * handler asks (returns 0), polkit answers into the query, the call is put
 * back into the bus's read queue, and the handler, run again with the very
 * same message, finds the answer here.
 */
typedef struct PolkitQuery PolkitQuery;
struct PolkitQuery {
        PolkitRegistry *registry;
        PolkitQuery *prev, *next;
        sd_bus_message *call;
        sd_bus_slot *slot;   /* the CheckAuthorization in flight */
        char *what;          /* "start of VM 'a' (org.gunyah.manage-vms)", for messages */
        bool answered;
        bool allowed;
        sd_bus_error error;  /* when not allowed: what the caller gets */
        uint64_t answered_usec;
};

struct PolkitRegistry {
        Manager *manager;
        PolkitQuery *queries;
        sd_bus_slot *filter;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        if (q->prev)
                q->prev->next = q->next;
        else
                q->registry->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->call);
        sd_bus_error_free(&q->error);
        free(q->what);
        free(q);
        return NULL;
}

static PolkitQuery *query_find(PolkitRegistry *reg, sd_bus_message *call) {
        for (PolkitQuery *q = reg ? reg->queries : NULL; q; q = q->next)
                if (q->call == call)
                        return q;
        return NULL;
}

static void registry_drop_stale(PolkitRegistry *reg) {
        uint64_t now = now_usec();
        PolkitQuery *next;

        for (PolkitQuery *q = reg->queries; q; q = next) {
                next = q->next;
                if (q->answered && now - q->answered_usec > POLKIT_ANSWER_KEEP_USEC)
                        query_free(q);
        }
}

/* Hands the stored answer to the re-dispatched call, and forgets it. */
static int query_consume(PolkitQuery *q, sd_bus_error *error) {
        int r = 1;

        if (!q->allowed)
                r = sd_bus_error_copy(error, &q->error);
        query_free(q);
        return r;
}

static int caller_uid(sd_bus_message *call, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        return sd_bus_creds_get_euid(creds, ret);
}

static void query_answer(PolkitQuery *q, sd_bus_message *reply) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, r;

        if (e) {
                log_warning("Cannot ask polkit about %s: %s: %s", q->what, e->name, strna(e->message));
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: polkit could not be asked about %s (%s: %s).", q->what,
                                         e->name, strna(e->message));
                return;
        }
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                log_warning_errno(r, "polkit's answer about %s is malformed: %m", q->what);
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: polkit could not be asked about %s (malformed answer).",
                                         q->what);
                return;
        }
        log_debug("polkit on %s: authorized=%s challenge=%s", q->what, yes_no(authorized), yes_no(challenge));
        if (authorized)
                q->allowed = true;
        else if (challenge)
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                         "Interactive authentication required for %s.", q->what);
        else
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by polkit: %s.",
                                         q->what);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        sd_bus *bus = sd_bus_message_get_bus(q->call);
        int r;
        q->slot = sd_bus_slot_unref(q->slot);
        query_answer(q, reply);
        q->answered = true;
        q->answered_usec = now_usec();

        /* Run the call again from the top; its handler finds the answer. */
        r = sd_bus_message_rewind(q->call, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(bus, q->call);
        if (r < 0) {
                log_error_errno(r, "Cannot dispatch %s again after polkit answered: %m", q->what);
                (void) sd_bus_reply_method_errorf(q->call, SD_BUS_ERROR_FAILED,
                                                  "Internal error after authorizing %s.", q->what);
                query_free(q);
        }
        return 1;
}

static int query_start(Manager *m, sd_bus_message *call, const char *action, const char *vm_name,
                       const char *verb) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        const char *sender = sd_bus_message_get_sender(call);
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        PolkitRegistry *reg = m->polkit;
        PolkitQuery *q;
        int r;

        if (!sender)
                return -EBADMSG; /* a direct connection: no bus name polkit could look up */

        r = sd_bus_message_new_method_call(m->bus, &req, POLKIT_NAME, POLKIT_PATH, POLKIT_INTERFACE,
                                           "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(req, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r >= 0)
                r = sd_bus_message_open_container(req, 'a', "{ss}");
        if (r >= 0 && vm_name)
                r = sd_bus_message_append(req, "{ss}", "vm", vm_name);
        if (r >= 0)
                r = sd_bus_message_append(req, "{ss}", "verb", verb);
        if (r >= 0)
                r = sd_bus_message_close_container(req);
        if (r >= 0)
                r = sd_bus_message_append(req, "us", interactive ? POLKIT_ALLOW_USER_INTERACTION : 0, "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->registry = reg;
        q->call = sd_bus_message_ref(call);
        q->next = reg->queries;
        if (q->next)
                q->next->prev = q;
        reg->queries = q;
        if (asprintf(&q->what, "%s%s%s%s (%s)", verb, vm_name ? " of VM '" : "", vm_name ?: "", vm_name ? "'" : "",
                     action) < 0) {
                query_free(q);
                return -ENOMEM;
        }

        r = sd_bus_call_async(m->bus, &q->slot, req, on_polkit_reply, q, 0);
        if (r < 0) {
                query_free(q);
                return r;
        }
        log_debug("Asking polkit about %s for %s%s.", q->what, sender,
                  interactive ? ", allowing user interaction" : "");
        return 0;
}

static int verify(Manager *m, sd_bus_message *call, const char *action, const char *vm_name, const char *verb,
                  sd_bus_error *error) {
        PolkitQuery *q = query_find(m->polkit, call);
        uid_t uid;
        int r;

        if (q)
                return q->answered ? query_consume(q, error) : 0;

        r = caller_uid(call, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot determine the caller's identity: %m");
        /* Root, and the user the daemon runs as (a --user bus), are always allowed. */
        if (uid == 0 || uid == geteuid())
                return 1;
        if (!m->polkit)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: %s of VM '%s' needs authorization for %s.", verb,
                                         strna(vm_name), action);

        registry_drop_stale(m->polkit);
        r = query_start(m, call, action, vm_name, verb);
        if (r < 0) {
                log_warning_errno(r, "Cannot ask polkit about %s of VM '%s': %m", verb, strna(vm_name));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: polkit could not be asked about %s (%s): %s", verb,
                                         action, strerror(-r));
        }
        return 0;
}

int bus_verify_manage(Manager *m, sd_bus_message *call, const char *vm_name, const char *verb, sd_bus_error *error) {
        return verify(m, call, POLKIT_ACTION_MANAGE, vm_name, verb, error);
}

int bus_verify_console(Manager *m, sd_bus_message *call, const char *vm_name, sd_bus_error *error) {
        return verify(m, call, POLKIT_ACTION_CONSOLE, vm_name, "console", error);
}

/* The writable VM1 properties and the verb their Set is authorized as. */
static const struct {
        const char *property;
        const char *verb;
} writable[] = {
        { "Autostart", "set-autostart" },
};

/* Properties.Set of a writable VM1 property: authorize here, before sd-bus
 * dispatches it. Returns 1 when the message is taken (pending or denied),
 * 0 to let sd-bus run the setter, whose own bus_verify_manage() then finds
 * the stored answer, or passes root. */
static int on_bus_message(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *name = NULL;
        Manager *m = userdata;
        const char *iface, *property, *verb = NULL;
        PolkitQuery *q;
        int r;
        if (!sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.Properties", "Set"))
                return 0;
        if (sd_bus_path_decode(sd_bus_message_get_path(msg), GUNYAH_VM_PATH_PREFIX, &name) <= 0)
                return 0;
        r = sd_bus_message_read(msg, "ss", &iface, &property);
        (void) sd_bus_message_rewind(msg, true);
        if (r < 0 || !streq(iface, GUNYAH_VM_INTERFACE))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(writable); i++)
                if (streq(property, writable[i].property))
                        verb = writable[i].verb;
        if (!verb || !manager_get_vm(m, name))
                return 0; /* sd-bus answers read-only / unknown object itself */

        q = query_find(m->polkit, msg);
        if (q && q->answered && q->allowed)
                return 0; /* the setter consumes it */
        r = verify(m, msg, POLKIT_ACTION_MANAGE, name, verb, &error);
        if (r > 0)
                return 0;
        if (r < 0)
                (void) sd_bus_reply_method_error(msg, &error);
        return 1;
}

int bus_polkit_setup(Manager *m) {
        PolkitRegistry *reg;
        int r;

        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return log_oom();
        reg->manager = m;
        r = sd_bus_add_filter(m->bus, &reg->filter, on_bus_message, m);
        if (r < 0) {
                free(reg);
                return log_error_errno(r, "Failed to install the property authorization filter: %m");
        }
        m->polkit = reg;
        return 0;
}

void bus_polkit_done(Manager *m) {
        PolkitRegistry *reg = m->polkit;

        if (!reg)
                return;
        while (reg->queries)
                query_free(reg->queries);
        sd_bus_slot_unref(reg->filter);
        free(reg);
        m->polkit = NULL;
}
