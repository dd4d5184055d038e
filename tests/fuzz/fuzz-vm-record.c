/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-VM record (src/daemon/vm-record.c) on arbitrary bytes: a new
 * daemon reads whatever an older, crashed or newer one left in the runtime
 * directory. What is accepted must satisfy what adoption relies on (a valid
 * name and UUID, positive 32-bit PIDs, known roles and phase) and survive a
 * format → parse round trip unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "id-util.h"
#include "macro.h"
#include "vm-record.h"
#include "vm-spec.h"

static void check_accepted(const VmRecord *r) {
        if (r->version < 1 || r->version > VM_RECORD_VERSION)
                abort();
        if (!vm_name_is_valid(r->name) || !uuid_string_is_valid(r->uuid) || !r->spec_json)
                abort();
        if (r->phase < 0 || r->phase >= _VM_RECORD_PHASE_MAX || r->n_processes > VM_RECORD_PROCESSES_MAX)
                abort();
        for (size_t i = 0; i < r->n_processes; i++)
                if (r->processes[i].pid <= 0 || r->processes[i].role < 0 || r->processes[i].role >= _VM_RECORD_ROLE_MAX)
                        abort();
}

static void check_round_trip(const VmRecord *r) {
        _cleanup_(vm_record_freep) VmRecord *back = NULL;
        _cleanup_free_ char *text = NULL;

        if (vm_record_format(r, &text) < 0)
                abort();
        if (vm_record_parse(text, strlen(text), &back) < 0)
                abort();
        if (strcmp(back->name, r->name) != 0 || strcmp(back->uuid, r->uuid) != 0 || back->phase != r->phase ||
            back->started_realtime_usec != r->started_realtime_usec || back->n_processes != r->n_processes ||
            strcmp(back->spec_json, r->spec_json) != 0)
                abort();
        if (r->n_processes && memcmp(back->processes, r->processes, r->n_processes * sizeof(*r->processes)) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(vm_record_freep) VmRecord *r = NULL;

        if (vm_record_parse((const char *) data, size, &r) < 0) {
                if (r)
                        abort(); /* written only on success */
                return 0;
        }
        check_accepted(r);
        check_round_trip(r);
        return 0;
}
