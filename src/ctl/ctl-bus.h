/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every D-Bus verb of gunyahctl shares: the connection chosen by the
 * global options, errors turned into messages and exit codes, and the few
 * calls every verb makes (the VM's object path, one property).
 */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* Connects to the bus --user/--bus-address name (default: the system bus).
 * On failure prints why, prefixed with "gunyahctl: what: ", and returns
 * CTL_EXIT_UNREACHABLE as a negative number. */
int ctl_bus_connect(const char *what, sd_bus **ret);

/* Prints a failed call: "gunyahctl: what: NoSuchVM: No VM named 'x'." (the
 * error name's last component and its message) and returns the exit code:
 * CTL_EXIT_UNREACHABLE when the daemon is not on the bus, else
 * CTL_EXIT_FAILURE. r is the call's return value (used when error is unset). */
int ctl_bus_report(const char *what, const sd_bus_error *error, int r);

/* Calls a method of the manager object; reply may be NULL. */
int ctl_bus_call_manager(sd_bus *bus, const char *method, sd_bus_error *error, sd_bus_message **reply,
                         const char *types, ...);

/* The object path of VM name (GetVM: fails with NoSuchVM). */
int ctl_bus_vm_path(sd_bus *bus, const char *name, sd_bus_error *error, char **ret);

/* Reads a string property of a VM object. */
int ctl_bus_get_vm_string(sd_bus *bus, const char *path, const char *property, sd_bus_error *error, char **ret);

/* A new event loop with the bus (if not NULL: varlink) attached, SIGINT and SIGTERM ending it
 * (exit code exit_on_signal) so cleanup handlers run. */
int ctl_event_new(sd_bus *bus, int exit_on_signal, sd_event **ret);

/* "load-failed: start: ENOENT" → "load-failed": the token StateReason starts with. */
char *ctl_reason_token(const char *reason);
