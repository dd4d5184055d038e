/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "id-util.h"
#include "json-strict.h"
#include "json-util.h"
#include "string-table.h"
#include "vm-record.h"
#include "vm-spec.h"

static const char *const phase_names[_VM_RECORD_PHASE_MAX] = {
        [VM_RECORD_STARTING] = "starting",
        [VM_RECORD_RUNNING] = "running",
};

static const char *const role_names[_VM_RECORD_ROLE_MAX] = {
        [VM_RECORD_KEEPER] = "keeper",
        [VM_RECORD_VCPU] = "vcpu",
        [VM_RECORD_DEVICE] = "device",
};

DEFINE_STRING_TABLE(vm_record_phase, VmRecordPhase, phase_names)
DEFINE_STRING_TABLE(vm_record_role, VmRecordRole, role_names)

VmRecord *vm_record_free(VmRecord *r) {
        if (!r)
                return NULL;
        free(r->name);
        free(r->backend);
        free(r->spec_json);
        free(r->processes);
        free(r);
        return NULL;
}

int vm_record_add_process(VmRecord *r, VmRecordRole role, uint32_t index, pid_t pid, uint64_t start_time) {
        VmRecordProcess *p;

        if (r->n_processes >= VM_RECORD_PROCESSES_MAX)
                return -E2BIG;
        p = reallocarray(r->processes, r->n_processes + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r->processes = p;
        p[r->n_processes++] = (VmRecordProcess) { .role = role, .index = index, .pid = pid, .start_time = start_time };
        return 0;
}

/* ---- writing ---- */

static json_object *process_to_json(const VmRecordProcess *p) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_add(o, "role", json_object_new_string(vm_record_role_to_string(p->role))) < 0 ||
            json_add(o, "index", json_object_new_int64(p->index)) < 0 || json_add(o, "pid", json_object_new_int64(p->pid)) < 0 ||
            json_add(o, "start_time", json_object_new_uint64(p->start_time)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int processes_to_json(const VmRecord *r, json_object **ret) {
        json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_processes; i++) {
                json_object *p = process_to_json(&r->processes[i]);

                if (!p || json_object_array_add(a, p) < 0) {
                        json_object_put(p);
                        json_object_put(a);
                        return -ENOMEM;
                }
        }
        *ret = a;
        return 0;
}

int vm_record_format(const VmRecord *r, char **ret) {
        json_object *o = json_object_new_object(), *spec = NULL, *procs = NULL;
        char *text = NULL;
        int k = -ENOMEM;

        if (!o)
                return -ENOMEM;
        if (r->spec_json) {
                spec = json_tokener_parse(r->spec_json);
                if (!spec) {
                        json_object_put(o);
                        return -EINVAL;
                }
        }
        if (json_add(o, "version", json_object_new_int(VM_RECORD_VERSION)) >= 0 &&
            json_add(o, "name", json_object_new_string(r->name)) >= 0 && json_add(o, "uuid", json_object_new_string(r->uuid)) >= 0 &&
            json_add(o, "phase", json_object_new_string(vm_record_phase_to_string(r->phase))) >= 0 &&
            json_add(o, "started_realtime_usec", json_object_new_uint64(r->started_realtime_usec)) >= 0 &&
            (!r->backend || json_add(o, "backend", json_object_new_string(r->backend)) >= 0) &&
            json_add(o, "console_log_offset", json_object_new_uint64(r->console_log_offset)) >= 0 &&
            (!spec || json_add(o, "spec", TAKE_PTR(spec)) >= 0) && processes_to_json(r, &procs) >= 0 &&
            json_add(o, "processes", TAKE_PTR(procs)) >= 0) {
                text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                k = text ? 0 : -ENOMEM;
        }
        json_object_put(spec);
        json_object_put(o);
        if (k < 0)
                return k;
        *ret = text;
        return 0;
}

/* ---- reading: every value checked, unknown keys ignored ---- */

static int get_uint(json_object *o, const char *key, uint64_t max, bool required, uint64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v)) {
                if (required)
                        return -EINVAL;
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        /* json-c keeps integers above INT64_MAX as uint64; negative ones are int64 < 0. */
        if (json_object_get_int64(v) < 0 || json_object_get_uint64(v) > max)
                return -EINVAL;
        *ret = json_object_get_uint64(v);
        return 0;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int parse_process(json_object *o, VmRecord *r) {
        uint64_t index, pid, start_time;
        VmRecordRole role;

        if (!json_object_is_type(o, json_type_object))
                return -EINVAL;
        role = vm_record_role_from_string(get_string(o, "role"));
        if (role < 0)
                return -EINVAL;
        if (get_uint(o, "index", UINT32_MAX, true, &index) < 0 || get_uint(o, "pid", INT32_MAX, true, &pid) < 0 ||
            get_uint(o, "start_time", UINT64_MAX, true, &start_time) < 0 || pid == 0)
                return -EINVAL;
        return vm_record_add_process(r, role, (uint32_t) index, (pid_t) pid, start_time);
}

static int parse_processes(json_object *o, VmRecord *r) {
        json_object *a;
        size_t n;
        int k;

        if (!json_object_object_get_ex(o, "processes", &a) || !json_object_is_type(a, json_type_array))
                return -EINVAL;
        n = json_object_array_length(a);
        if (n > VM_RECORD_PROCESSES_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                k = parse_process(json_object_array_get_idx(a, i), r);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int parse_identity(json_object *o, VmRecord *r) {
        const char *name = get_string(o, "name"), *uuid = get_string(o, "uuid");
        json_object *spec;

        if (!name || !vm_name_is_valid(name) || !uuid || !uuid_string_is_valid(uuid))
                return -EINVAL;
        r->phase = vm_record_phase_from_string(get_string(o, "phase"));
        if (r->phase < 0)
                return -EINVAL;
        if (!json_object_object_get_ex(o, "spec", &spec) || !json_object_is_type(spec, json_type_object))
                return -EINVAL;
        r->name = strdup(name);
        r->spec_json = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!r->name || !r->spec_json)
                return -ENOMEM;
        snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
        return 0;
}

int vm_record_parse(const char *data, size_t size, VmRecord **ret) {
        _cleanup_(vm_record_freep) VmRecord *r = NULL;
        json_object *o = NULL;
        uint64_t version;
        int k;

        if (size > VM_RECORD_SIZE_MAX)
                return -EFBIG;
        k = json_strict_parse_object(data, size, &o, NULL);
        if (k < 0)
                return k;
        r = calloc(1, sizeof(*r));
        if (!r) {
                json_object_put(o);
                return -ENOMEM;
        }
        k = get_uint(o, "version", UINT32_MAX, true, &version);
        if (k >= 0 && version == 0)
                k = -EINVAL;
        if (k >= 0 && version > VM_RECORD_VERSION)
                k = -EPROTONOSUPPORT;
        if (k >= 0)
                k = parse_identity(o, r);
        if (k >= 0)
                k = get_uint(o, "started_realtime_usec", UINT64_MAX, false, &r->started_realtime_usec);
        if (k >= 0)
                k = get_uint(o, "console_log_offset", UINT64_MAX, false, &r->console_log_offset);
        if (k >= 0)
                k = parse_processes(o, r);
        if (k >= 0 && json_object_object_get_ex(o, "backend", NULL)) {
                const char *backend = get_string(o, "backend");

                k = !backend || !*backend ? -EINVAL : (r->backend = strdup(backend)) ? 0 : -ENOMEM;
        }
        json_object_put(o);
        if (k < 0)
                return k;
        r->version = (unsigned) version;
        *ret = TAKE_PTR(r);
        return 0;
}

/* ---- files ---- */

static char *record_path(const char *dir) {
        char *path;

        return asprintf(&path, "%s/" VM_RECORD_FILE, dir) < 0 ? NULL : path;
}

int vm_record_write(const char *dir, const VmRecord *r) {
        _cleanup_free_ char *path = record_path(dir), *text = NULL;
        int k;

        if (!path)
                return -ENOMEM;
        k = vm_record_format(r, &text);
        if (k < 0)
                return k;
        return write_file_atomic(path, text, strlen(text), 0600);
}

/* Only a file of ours counts: with --vsock-group the directory is group
 * writable, and a record steers which processes the daemon signals. */
int vm_record_read(const char *dir, VmRecord **ret) {
        _cleanup_free_ char *path = record_path(dir), *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t size;
        int k;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        k = read_full_fd(fd, VM_RECORD_SIZE_MAX, &text, &size);
        if (k < 0)
                return k;
        return vm_record_parse(text, size, ret);
}

int vm_record_remove(const char *dir) {
        _cleanup_free_ char *path = record_path(dir);

        if (!path)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}
