/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The spec's value types and the walkers over its field table
 * (spec-field.h). Every error names the JSON path and the rule.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "parse-util.h"
#include "spec-error.h"
#include "spec-field.h"
#include "string-table.h"

static const char *json_type_name(json_object *v) {
        return json_type_to_name(json_object_get_type(v));
}

/* A JSON integer as uint64. json-c saturates integers beyond UINT64_MAX,
 * which every range check below then refuses. */
static int value_get_uint(SpecParser *p, json_object *v, const char *path, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return spec_error(p->error, -EINVAL, path, "must be an integer, got %s", json_type_name(v));
        if (json_object_get_int64(v) < 0)
                return spec_error(p->error, -EINVAL, path, "must not be negative, got %" PRIi64,
                                  json_object_get_int64(v));
        *ret = json_object_get_uint64(v);
        return 0;
}

/* A string without embedded NUL bytes (C consumers would silently cut it). */
static int value_get_string(SpecParser *p, json_object *v, const char *path, const char **ret) {
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return spec_error(p->error, -EINVAL, path, "must be a string, got %s", json_type_name(v));
        s = json_object_get_string(v);
        if (strlen(s) != (size_t) json_object_get_string_len(v))
                return spec_error(p->error, -EINVAL, path, "must not contain a NUL character (\\u0000)");
        *ret = s;
        return 0;
}

/* A byte size or address: a non-negative integer, or a string parse_size()
 * accepts ("256M", "1G", "0x80000000"). */
static int value_get_size(SpecParser *p, json_object *v, const char *path, uint64_t *ret) {
        const char *s;
        int r;

        if (json_object_is_type(v, json_type_int))
                return value_get_uint(p, v, path, ret);
        if (!json_object_is_type(v, json_type_string))
                return spec_error(p->error, -EINVAL, path,
                                  "must be a size: an integer or a string such as \"256M\", \"1G\" or \"0x80000000\", got %s",
                                  json_type_name(v));
        r = value_get_string(p, v, path, &s);
        if (r < 0)
                return r;
        r = parse_size(s, ret);
        if (r == -ERANGE)
                return spec_error(p->error, -EINVAL, path, "size %s does not fit in 64 bits",
                                  QUOTE(s, strlen(s)));
        if (r < 0)
                return spec_error(p->error, -EINVAL, path,
                                  "must be a size: digits or 0x-hex digits, optionally followed by K, M, G or T (\"256M\", \"1G\", \"0x80000000\"), got %s",
                                  QUOTE(s, strlen(s)));
        return 0;
}

/* A duration in milliseconds: an integer, or a string with an ms, s or min
 * suffix ("500ms", "2s", "1min"); a bare number string means milliseconds. */
static int value_get_msec(SpecParser *p, json_object *v, const char *path, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "min", 60000 } };
        char digits[32];
        const char *s, *e;
        uint64_t n;
        int r;

        if (json_object_is_type(v, json_type_int))
                return value_get_uint(p, v, path, ret);
        if (!json_object_is_type(v, json_type_string))
                return spec_error(p->error, -EINVAL, path,
                                  "must be a duration: integer milliseconds or a string such as \"500ms\", \"2s\", \"1min\", got %s",
                                  json_type_name(v));
        r = value_get_string(p, v, path, &s);
        if (r < 0)
                return r;
        for (e = s; isdigit((unsigned char) *e); e++)
                ;
        if (e == s || (size_t) (e - s) >= sizeof(digits))
                goto invalid;
        memcpy(digits, s, (size_t) (e - s));
        digits[e - s] = '\0';
        if (parse_u64(digits, &n) < 0)
                goto invalid;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(e, units[i].suffix)) {
                        /* Saturate: the caller's range check refuses it with the real rule. */
                        *ret = n > UINT64_MAX / units[i].factor ? UINT64_MAX : n * units[i].factor;
                        return 0;
                }
invalid:
        return spec_error(p->error, -EINVAL, path,
                          "must be a duration: digits followed by ms, s or min (\"500ms\", \"2s\", \"1min\"), got %s",
                          QUOTE(s, strlen(s)));
}

/* ---- parsing ---- */

static int read_object(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        return fields_parse(p, v, path, f->sub, f->n_sub, base);
}

static int read_u32(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        uint64_t n;
        int r;

        r = value_get_uint(p, v, path, &n);
        if (r < 0)
                return r;
        if (n < f->min || n > f->max)
                return spec_error(p->error, -EINVAL, path, "must be between %" PRIu64 " and %" PRIu64 "%s%s%s, got %" PRIu64,
                                  f->min, f->max, f->max_why ? " (" : "", f->max_why ?: "", f->max_why ? ")" : "", n);
        *FIELD_PTR(base, f, uint32_t) = (uint32_t) n;
        return 0;
}

static int read_size(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        /* Alignment and placement rules need several fields: see spec_validate_*(). */
        return value_get_size(p, v, path, FIELD_PTR(base, f, uint64_t));
}

static int read_msec(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        uint64_t n;
        int r;

        r = value_get_msec(p, v, path, &n);
        if (r < 0)
                return r;
        if (n > f->max)
                return spec_error(p->error, -EINVAL, path, "must be at most %" PRIu64 " ms (1 hour), got %" PRIu64 " ms",
                                  f->max, n);
        *FIELD_PTR(base, f, uint32_t) = (uint32_t) n;
        return 0;
}

static int read_bool(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        if (!json_object_is_type(v, json_type_boolean))
                return spec_error(p->error, -EINVAL, path, "must be true or false, got %s", json_type_name(v));
        *FIELD_PTR(base, f, bool) = json_object_get_boolean(v);
        return 0;
}

static int read_enum(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        char allowed[128] = "";
        const char *str;
        int i, r;

        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        i = string_table_index(f->names, f->n_names, str);
        if (i >= 0) {
                *FIELD_PTR(base, f, int) = i;
                return 0;
        }
        for (size_t k = 0; k < f->n_names; k++)
                snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s\"%s\"",
                         k > 0 ? ", " : "", f->names[k]);
        return spec_error(p->error, -EINVAL, path, "must be one of %s, got %s", allowed, QUOTE(str, strlen(str)));
}

static int read_name(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        const char *str;
        int r;

        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        if (!vm_name_is_valid(str))
                return spec_error(p->error, -EINVAL, path,
                                  "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (a name, never a path), got %s",
                                  QUOTE(str, strlen(str)));
        strcpy(FIELD_PTR(base, f, char), str);
        return 0;
}

/* RFC 4122 textual form, stored lowercase so that equal UUIDs compare equal. */
static int read_uuid(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        char u[sizeof(((VmSpec *) NULL)->uuid)];
        const char *str;
        bool ok;
        int r;

        if (json_object_is_type(v, json_type_null)) {
                FIELD_PTR(base, f, char)[0] = '\0';
                return 0;
        }
        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        ok = strlen(str) == sizeof(u) - 1;
        for (size_t i = 0; ok && i < sizeof(u) - 1; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                ok = dash ? str[i] == '-' : isxdigit((unsigned char) str[i]);
                u[i] = (char) tolower((unsigned char) str[i]);
        }
        if (!ok)
                return spec_error(p->error, -EINVAL, path,
                                  "must be a UUID in RFC 4122 form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits), got %s",
                                  QUOTE(str, strlen(str)));
        u[sizeof(u) - 1] = '\0';
        if (streq(u, "00000000-0000-0000-0000-000000000000"))
                return spec_error(p->error, -EINVAL, path, "must not be the nil UUID; leave it out to have one generated");
        memcpy(FIELD_PTR(base, f, char), u, sizeof(u));
        return 0;
}

/* Strings stored as heap copies (kernel.path, kernel.cmdline, initrd).
 * Nullable ones take null as "absent"; paths must not be empty (an empty
 * file name is never what was meant); f->max bounds the length. */
static int read_string(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        char **dst = FIELD_PTR(base, f, char *);
        const char *str;
        char *copy;
        int r;

        if (f->nullable && json_object_is_type(v, json_type_null)) {
                free(*dst);
                *dst = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return spec_error(p->error, -EINVAL, path, "must be a string%s, got %s",
                                  f->nullable ? " or null" : "", json_type_name(v));
        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        if (f->max > 0 && strlen(str) > f->max)
                return spec_error(p->error, -EINVAL, path, "must be at most %" PRIu64 " bytes (%s), got %zu",
                                  f->max, f->max_why, strlen(str));
        if (f->is_path && str[0] == '\0')
                return spec_error(p->error, -EINVAL, path, "must not be empty: a file path%s",
                                  f->nullable ? ", or null for none" : "");
        if (f->absolute && str[0] != '/')
                return spec_error(p->error, -EINVAL, path, "must be an absolute path, got %s", QUOTE_PATH(str));
        copy = strdup(str);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

/* A short identifier stored in a char array of f->max + 1 bytes (a disk's
 * serial): printable ASCII only, since guests show it as it is (sysfs,
 * udev's by-id links); null means none. */
static int read_serial(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        char *dst = FIELD_PTR(base, f, char);
        const char *str;
        size_t n;
        int r;

        if (json_object_is_type(v, json_type_null)) {
                dst[0] = '\0';
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return spec_error(p->error, -EINVAL, path, "must be a string or null, got %s", json_type_name(v));
        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        n = strlen(str);
        if (n == 0)
                return spec_error(p->error, -EINVAL, path, "must not be empty; leave it out (or null) for none");
        if (n > f->max)
                return spec_error(p->error, -EINVAL, path, "must be at most %" PRIu64 " bytes, got %zu: %s",
                                  f->max, n, QUOTE(str, n));
        for (size_t i = 0; i < n; i++)
                if (str[i] < 0x20 || str[i] > 0x7e)
                        return spec_error(p->error, -EINVAL, path,
                                          "must be printable ASCII (space to '~'), byte %zu is not: %s", i,
                                          QUOTE(str, n));
        memcpy(dst, str, n + 1);
        return 0;
}

/* A JSON array of objects into a C array of at most f->max elements; the
 * count is raised before each element is parsed, so that what a failed
 * element allocated is still freed with the spec. */
static int read_array(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        uint32_t *count = (uint32_t *) ((uint8_t *) base + f->count_offset);
        char elem_path[sizeof(p->error->path)];
        size_t n;
        int r;

        if (!json_object_is_type(v, json_type_array))
                return spec_error(p->error, -EINVAL, path, "must be an array, got %s", json_type_name(v));
        n = json_object_array_length(v);
        if (n > f->max)
                return spec_error(p->error, -EINVAL, path, "must have at most %" PRIu64 " elements, got %zu",
                                  f->max, n);
        for (size_t i = 0; i < n; i++) {
                void *elem = FIELD_PTR(base, f, uint8_t) + i * f->elem_size;

                *count = (uint32_t) i + 1;
                fields_set_defaults(f->sub, f->n_sub, elem);
                snprintf(elem_path, sizeof(elem_path), "%s[%zu]", path, i);
                r = fields_parse(p, json_object_array_get_idx(v, i), elem_path, f->sub, f->n_sub, elem);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "kernel" is an object, or a plain string as a shorthand for {"path": ...}. */
static int read_kernel(SpecParser *p, const Field *f, json_object *v, const char *path, void *base) {
        if (json_object_is_type(v, json_type_string)) {
                p->kernel_key = "kernel";
                return read_string(p, &f->sub[0], v, path, base);
        }
        if (!json_object_is_type(v, json_type_object))
                return spec_error(p->error, -EINVAL, path,
                                  "must be an object {\"path\", \"cmdline\", \"format\"} or a string (the kernel path), got %s",
                                  json_type_name(v));
        p->kernel_key = "kernel.path";
        return fields_parse(p, v, path, f->sub, f->n_sub, base);
}

/* ---- serialization ---- */

/* Every write_*() returns -ENOMEM for a NULL from json_object_new_*(). */
static int formatted(json_object *v, json_object **ret) {
        *ret = v;
        return v ? 0 : -ENOMEM;
}

static int write_object(const Field *f, const void *base, json_object **ret) {
        json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = fields_to_json(f->sub, f->n_sub, base, o);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int write_u32(const Field *f, const void *base, json_object **ret) {
        return formatted(json_object_new_int64(*FIELD_PTR(base, f, const uint32_t)), ret);
}

static int write_size(const Field *f, const void *base, json_object **ret) {
        char buf[FORMAT_SIZE_MAX];

        return formatted(json_object_new_string(format_size(buf, sizeof(buf), *FIELD_PTR(base, f, const uint64_t))), ret);
}

static int write_address(const Field *f, const void *base, json_object **ret) {
        char buf[32];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, *FIELD_PTR(base, f, const uint64_t));
        return formatted(json_object_new_string(buf), ret);
}

static int write_bool(const Field *f, const void *base, json_object **ret) {
        return formatted(json_object_new_boolean(*FIELD_PTR(base, f, const bool)), ret);
}

static int write_enum(const Field *f, const void *base, json_object **ret) {
        const char *name = string_table_lookup(f->names, f->n_names, *FIELD_PTR(base, f, const int));

        if (!name)
                return -EINVAL;
        return formatted(json_object_new_string(name), ret);
}

/* A char array; the empty string is absent (null). */
static int write_chars(const Field *f, const void *base, json_object **ret) {
        const char *str = FIELD_PTR(base, f, const char);

        if (str[0] == '\0') {
                *ret = NULL;
                return 0;
        }
        return formatted(json_object_new_string(str), ret);
}

static int write_string(const Field *f, const void *base, json_object **ret) {
        const char *str = *FIELD_PTR(base, f, char *const);

        if (!str) {
                *ret = NULL;
                return f->nullable ? 0 : -EINVAL;
        }
        return formatted(json_object_new_string(str), ret);
}

static int write_array(const Field *f, const void *base, json_object **ret) {
        uint32_t count = *(const uint32_t *) ((const uint8_t *) base + f->count_offset);
        json_object *a = json_object_new_array();
        int r = 0;

        if (!a)
                return -ENOMEM;
        for (uint32_t i = 0; i < count && r >= 0; i++) {
                json_object *o = json_object_new_object();

                if (!o) {
                        r = -ENOMEM;
                        break;
                }
                r = fields_to_json(f->sub, f->n_sub, FIELD_PTR(base, f, const uint8_t) + i * f->elem_size, o);
                if (r >= 0 && json_object_array_add(a, o) < 0)
                        r = -ENOMEM;
                if (r < 0)
                        json_object_put(o);
        }
        if (r < 0) {
                json_object_put(a);
                return r;
        }
        *ret = a;
        return 0;
}

const FieldType field_u32 = { read_u32, write_u32, sizeof(uint32_t) };
const FieldType field_size = { read_size, write_size, sizeof(uint64_t) };
const FieldType field_address = { read_size, write_address, sizeof(uint64_t) };
const FieldType field_msec = { read_msec, write_u32, sizeof(uint32_t) };
const FieldType field_bool = { read_bool, write_bool, sizeof(bool) };
const FieldType field_enum = { read_enum, write_enum, sizeof(int) };
const FieldType field_name = { read_name, write_chars, 0 };
const FieldType field_uuid = { read_uuid, write_chars, 0 };
const FieldType field_string = { read_string, write_string, 0 };
const FieldType field_serial = { read_serial, write_chars, 0 };
const FieldType field_array = { read_array, write_array, 0 };
const FieldType field_object = { read_object, write_object, 0 };
/* Written as an object always: the normalized form. */
const FieldType field_kernel = { read_kernel, write_object, 0 };

/* ---- the walkers ---- */

static const Field *field_find(const Field *fields, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(fields[i].key, key))
                        return &fields[i];
        return NULL;
}

static int unknown_key(SpecParser *p, const char *parent, const char *key, const Field *fields, size_t n) {
        char path[sizeof(p->error->path)], allowed[256] = "";

        for (size_t i = 0; i < n; i++)
                snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                         i > 0 ? ", " : "", fields[i].key);
        spec_path_join(path, sizeof(path), parent, key);
        return spec_error(p->error, -EINVAL, path, "unknown key %s; allowed keys%s%s are: %s",
                          QUOTE(key, strlen(key)), parent[0] ? " in " : "", parent, allowed);
}

int fields_parse(SpecParser *p, json_object *o, const char *path, const Field *fields, size_t n, void *base) {
        char child[sizeof(p->error->path)];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return spec_error(p->error, -EINVAL, path, "must be an object, got %s", json_type_name(o));

        json_object_object_foreach(o, key, value) {
                if (!field_find(fields, n, key))
                        return unknown_key(p, path, key, fields, n);
        }

        for (size_t i = 0; i < n; i++) {
                json_object *v;

                spec_path_join(child, sizeof(child), path, fields[i].key);
                if (!json_object_object_get_ex(o, fields[i].key, &v)) {
                        if (fields[i].required)
                                return spec_error(p->error, -EINVAL, child, "is required");
                        continue;
                }
                r = fields[i].type->parse(p, &fields[i], v, child, base);
                if (r < 0)
                        return r;
                if (fields[i].present_offset)
                        *((bool *) ((uint8_t *) base + fields[i].present_offset)) = true;
        }
        return 0;
}

void fields_set_defaults(const Field *fields, size_t n, void *base) {
        for (const Field *f = fields; f < fields + n; f++) {
                /* An array's sub-fields are offsets into its elements. */
                if (f->sub && f->elem_size == 0)
                        fields_set_defaults(f->sub, f->n_sub, base);
                switch (f->type->width) {
                case sizeof(uint64_t):
                        *FIELD_PTR(base, f, uint64_t) = f->def;
                        break;
                case sizeof(uint32_t):
                        *FIELD_PTR(base, f, uint32_t) = (uint32_t) f->def;
                        break;
                case sizeof(bool):
                        *FIELD_PTR(base, f, bool) = f->def != 0;
                        break;
                }
        }
}

int fields_to_json(const Field *fields, size_t n, const void *base, json_object *o) {
        for (const Field *f = fields; f < fields + n; f++) {
                json_object *v = NULL;
                int r;

                if (f->omit_absent && !*((const bool *) ((const uint8_t *) base + f->present_offset)))
                        continue;
                r = f->type->format(f, base, &v);
                if (r < 0)
                        return r;
                /* json-c's null is a NULL value, so json_add() cannot take it. */
                if (!v && json_object_object_add(o, f->key, NULL) < 0)
                        return -ENOMEM;
                if (v && json_add(o, f->key, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}
