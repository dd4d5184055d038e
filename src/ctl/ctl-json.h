/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * D-Bus values as JSON, so --json output and the readable layouts work from
 * one representation: a{sv} and other dicts become objects (keys as
 * strings), arrays and structs arrays, variants their contents, integers
 * numbers, booleans booleans, strings/object paths/signatures strings.
 */

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "json-cleanup.h"

/* Reads the next complete value of m. */
int ctl_json_read_value(sd_bus_message *m, json_object **ret);

/* Reads an a{sv} (properties) into an object. */
int ctl_json_read_properties(sd_bus_message *m, json_object **ret);

/* Prints v on one line, followed by a newline, and flushes stdout. */
int ctl_json_print_line(json_object *v);

/* Field access that tolerates missing keys and wrong types. */
const char *ctl_json_string(json_object *o, const char *key);
int64_t ctl_json_int(json_object *o, const char *key, int64_t def);
