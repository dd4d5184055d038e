/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON spec parser and serializer on arbitrary bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vm-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VmSpec *spec = NULL;
        VmSpecError error = {};
        char *json = NULL;

        if (vm_spec_parse((const char *) data, size, VM_SPEC_SKIP_FILE_CHECKS, &spec, &error) < 0)
                return 0;
        /* What parses must serialize, the result must parse again, and
         * serialize to the same text (the normalized form is a fixed point:
         * a stored spec reloads as the same VM, disks included). */
        if (vm_spec_to_json(spec, &json) >= 0) {
                VmSpec *again = NULL;
                char *json2 = NULL;
                if (vm_spec_parse(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, &again, &error) < 0)
                        abort();
                if (vm_spec_to_json(again, &json2) < 0 || strcmp(json, json2) != 0 ||
                    again->n_disks != spec->n_disks || again->n_disks > VM_DISKS_MAX)
                        abort();
                free(json2);
                vm_spec_free(again);
                free(json);
        }
        vm_spec_free(spec);
        return 0;
}
