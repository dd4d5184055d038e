/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON VM spec parser (design §6). Strict by intent: a spec is written by
 * an administrator or sent over the API, and a typo that silently falls back
 * to a default (a misspelled "on_crash", a memory size in the wrong unit) is
 * worse than a refusal. Every error names the JSON path and the rule.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "parse-util.h"
#include "string-table.h"
#include "vm-spec.h"

/* Enums are stored through a generic int pointer by the field table. */
_Static_assert(sizeof(VmKernelFormat) == sizeof(int), "enum size");
_Static_assert(sizeof(VmConsoleType) == sizeof(int), "enum size");
_Static_assert(sizeof(VmLifecycleAction) == sizeof(int), "enum size");
_Static_assert(sizeof(VmMemoryMode) == sizeof(int), "enum size");

static const char *const kernel_format_names[_VM_KERNEL_FORMAT_MAX] = {
        [VM_KERNEL_FORMAT_AUTO] = "auto",
        [VM_KERNEL_FORMAT_IMAGE] = "image",
        [VM_KERNEL_FORMAT_ELF] = "elf",
        [VM_KERNEL_FORMAT_RAW] = "raw",
};

static const char *const console_type_names[_VM_CONSOLE_TYPE_MAX] = {
        [VM_CONSOLE_PL011] = "pl011",
        [VM_CONSOLE_NONE] = "none",
};

static const char *const lifecycle_action_names[_VM_ACTION_MAX] = {
        [VM_ACTION_STOP] = "stop",
        [VM_ACTION_RESTART] = "restart",
        [VM_ACTION_DESTROY] = "destroy",
};

static const char *const memory_mode_names[_VM_MEMORY_MODE_MAX] = {
        [VM_MEMORY_LEND] = "lend",
        [VM_MEMORY_SHARE] = "share",
};

const char *vm_kernel_format_to_string(VmKernelFormat f) {
        return string_table_lookup(kernel_format_names, ELEMENTSOF(kernel_format_names), f);
}

VmKernelFormat vm_kernel_format_from_string(const char *s) {
        return (VmKernelFormat) string_table_index(kernel_format_names, ELEMENTSOF(kernel_format_names), s);
}

const char *vm_console_type_to_string(VmConsoleType t) {
        return string_table_lookup(console_type_names, ELEMENTSOF(console_type_names), t);
}

VmConsoleType vm_console_type_from_string(const char *s) {
        return (VmConsoleType) string_table_index(console_type_names, ELEMENTSOF(console_type_names), s);
}

const char *vm_lifecycle_action_to_string(VmLifecycleAction a) {
        return string_table_lookup(lifecycle_action_names, ELEMENTSOF(lifecycle_action_names), a);
}

VmLifecycleAction vm_lifecycle_action_from_string(const char *s) {
        return (VmLifecycleAction) string_table_index(lifecycle_action_names, ELEMENTSOF(lifecycle_action_names), s);
}

const char *vm_memory_mode_to_string(VmMemoryMode m) {
        return string_table_lookup(memory_mode_names, ELEMENTSOF(memory_mode_names), m);
}

VmMemoryMode vm_memory_mode_from_string(const char *s) {
        return (VmMemoryMode) string_table_index(memory_mode_names, ELEMENTSOF(memory_mode_names), s);
}

/* ASCII only on purpose: names become D-Bus object paths and file names. */
static bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool vm_name_is_valid(const char *name) {
        size_t n;

        if (!name || !char_is_alnum(name[0]))
                return false;
        n = strlen(name);
        if (n > VM_NAME_MAX)
                return false;
        for (size_t i = 1; i < n; i++)
                if (!char_is_alnum(name[i]) && !strchr("_.-", name[i]))
                        return false;
        return true;
}

VmSpec *vm_spec_free(VmSpec *spec) {
        if (!spec)
                return NULL;
        free(spec->kernel.path);
        free(spec->kernel.cmdline);
        free(spec->initrd);
        free(spec);
        return NULL;
}

const char *vm_spec_error_to_string(const VmSpecError *e, char *buf, size_t len) {
        if (!e)
                snprintf(buf, len, "unknown error");
        else if (e->path[0] == '\0')
                snprintf(buf, len, "%s", e->message);
        else
                snprintf(buf, len, "%s: %s", e->path, e->message);
        return buf;
}

/* ---- error reporting ---- */

typedef struct SpecParser {
        VmSpecError *error;
        unsigned flags;
        const char *json; /* the document, for line and column of syntax errors */
        size_t json_len;
        const char *base_dir;   /* relative file paths are resolved against it */
        const char *kernel_key; /* "kernel.path", or "kernel" for the string form */
} SpecParser;

static int spec_error(SpecParser *p, int r, const char *path, const char *format, ...) _printf_(4, 5);
static int spec_error(SpecParser *p, int r, const char *path, const char *format, ...) {
        va_list ap;

        if (!p->error)
                return r;
        snprintf(p->error->path, sizeof(p->error->path), "%s", path);
        va_start(ap, format);
        vsnprintf(p->error->message, sizeof(p->error->message), format, ap);
        va_end(ap);
        return r;
}

/* Quotes a user-supplied string for a message: escapes what is not
 * printable ASCII and shortens it, so a hostile spec cannot flood or garble
 * logs. */
#define QUOTE_MAX 80
static const char *quote(char *buf, size_t size, const char *s, size_t len) {
        size_t o = 0;

        buf[o++] = '"';
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                /* Room for one escaped character, "...", the quote and NUL. */
                if (o + 4 + 3 + 2 > size) {
                        o += (size_t) snprintf(buf + o, size - o, "...");
                        break;
                }
                if (c == '"' || c == '\\')
                        o += (size_t) snprintf(buf + o, size - o, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", c);
                else
                        buf[o++] = (char) c;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}
#define QUOTE(s, len) quote((char[QUOTE_MAX]){}, QUOTE_MAX, (s), (len))
/* File paths are shown in full up to PATH_MAX-ish lengths a message can hold. */
#define QUOTE_PATH(s) quote((char[256]){}, 256, (s), strlen(s))

static const char *json_type_name(json_object *v) {
        return json_type_to_name(json_object_get_type(v));
}

static void path_join(char *buf, size_t size, const char *parent, const char *key) {
        snprintf(buf, size, "%s%s%s", parent, parent[0] ? "." : "", key);
}

/* ---- typed values ---- */

/* A JSON integer as uint64. json-c saturates integers beyond UINT64_MAX,
 * which every range check below then refuses. */
static int value_get_uint(SpecParser *p, json_object *v, const char *path, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return spec_error(p, -EINVAL, path, "must be an integer, got %s", json_type_name(v));
        if (json_object_get_int64(v) < 0)
                return spec_error(p, -EINVAL, path, "must not be negative, got %" PRIi64,
                                  json_object_get_int64(v));
        *ret = json_object_get_uint64(v);
        return 0;
}

/* A string without embedded NUL bytes (C consumers would silently cut it). */
static int value_get_string(SpecParser *p, json_object *v, const char *path, const char **ret) {
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return spec_error(p, -EINVAL, path, "must be a string, got %s", json_type_name(v));
        s = json_object_get_string(v);
        if (strlen(s) != (size_t) json_object_get_string_len(v))
                return spec_error(p, -EINVAL, path, "must not contain a NUL character (\\u0000)");
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
                return spec_error(p, -EINVAL, path,
                                  "must be a size: an integer or a string such as \"256M\", \"1G\" or \"0x80000000\", got %s",
                                  json_type_name(v));
        r = value_get_string(p, v, path, &s);
        if (r < 0)
                return r;
        r = parse_size(s, ret);
        if (r == -ERANGE)
                return spec_error(p, -EINVAL, path, "size %s does not fit in 64 bits",
                                  QUOTE(s, strlen(s)));
        if (r < 0)
                return spec_error(p, -EINVAL, path,
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
                return spec_error(p, -EINVAL, path,
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
        return spec_error(p, -EINVAL, path,
                          "must be a duration: digits followed by ms, s or min (\"500ms\", \"2s\", \"1min\"), got %s",
                          QUOTE(s, strlen(s)));
}

/* ---- the field tables ---- */

typedef struct Field Field;
typedef int (*FieldParse)(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s);

struct Field {
        const char *key;
        FieldParse parse;
        size_t offset; /* into VmSpec */
        bool required;
        uint64_t min, max;                /* integer ranges; string length limits */
        const char *const *names;         /* enums: string table */
        size_t n_names;
        bool nullable;                    /* strings: null means absent */
        bool is_path;                     /* strings: a file path, never empty */
        const Field *sub;                 /* objects: their fields */
        size_t n_sub;
};

#define FIELD_PTR(s, f, type) ((type *) ((uint8_t *) (s) + (f)->offset))

static int parse_fields(SpecParser *p, json_object *o, const char *path,
                        const Field *fields, size_t n, VmSpec *s);

static int field_object(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        return parse_fields(p, v, path, f->sub, f->n_sub, s);
}

static int field_u32(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        uint64_t n;
        int r;

        r = value_get_uint(p, v, path, &n);
        if (r < 0)
                return r;
        if (n < f->min || n > f->max)
                return spec_error(p, -EINVAL, path, "must be between %" PRIu64 " and %" PRIu64 ", got %" PRIu64,
                                  f->min, f->max, n);
        *FIELD_PTR(s, f, uint32_t) = (uint32_t) n;
        return 0;
}

static int field_size(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        /* Alignment and placement rules need several fields: see spec_validate_*(). */
        return value_get_size(p, v, path, FIELD_PTR(s, f, uint64_t));
}

static int field_msec(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        uint64_t n;
        int r;

        r = value_get_msec(p, v, path, &n);
        if (r < 0)
                return r;
        if (n > f->max)
                return spec_error(p, -EINVAL, path, "must be at most %" PRIu64 " ms (1 hour), got %" PRIu64 " ms",
                                  f->max, n);
        *FIELD_PTR(s, f, uint32_t) = (uint32_t) n;
        return 0;
}

static int field_bool(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        if (!json_object_is_type(v, json_type_boolean))
                return spec_error(p, -EINVAL, path, "must be true or false, got %s", json_type_name(v));
        *FIELD_PTR(s, f, bool) = json_object_get_boolean(v);
        return 0;
}

static int field_enum(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        char allowed[128] = "";
        const char *str;
        int i, r;

        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        i = string_table_index(f->names, f->n_names, str);
        if (i >= 0) {
                *FIELD_PTR(s, f, int) = i;
                return 0;
        }
        for (size_t k = 0; k < f->n_names; k++)
                snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s\"%s\"",
                         k > 0 ? ", " : "", f->names[k]);
        return spec_error(p, -EINVAL, path, "must be one of %s, got %s", allowed, QUOTE(str, strlen(str)));
}

static int field_name(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        const char *str;
        int r;
        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        if (!vm_name_is_valid(str))
                return spec_error(p, -EINVAL, path,
                                  "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (a name, never a path), got %s",
                                  QUOTE(str, strlen(str)));
        strcpy(s->name, str);
        return 0;
}

/* RFC 4122 textual form, stored lowercase so that equal UUIDs compare equal. */
static int field_uuid(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        char u[sizeof(s->uuid)];
        const char *str;
        bool ok;
        int r;
        if (json_object_is_type(v, json_type_null)) {
                s->uuid[0] = '\0';
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
                return spec_error(p, -EINVAL, path,
                                  "must be a UUID in RFC 4122 form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits), got %s",
                                  QUOTE(str, strlen(str)));
        u[sizeof(u) - 1] = '\0';
        if (streq(u, "00000000-0000-0000-0000-000000000000"))
                return spec_error(p, -EINVAL, path, "must not be the nil UUID; leave it out to have one generated");
        memcpy(s->uuid, u, sizeof(u));
        return 0;
}

/* Strings stored as heap copies (kernel.path, kernel.cmdline, initrd).
 * Nullable ones take null as "absent"; paths must not be empty (an empty
 * file name is never what was meant); f->max bounds the length. */
static int field_string(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        char **dst = FIELD_PTR(s, f, char *);
        const char *str;
        char *copy;
        int r;

        if (f->nullable && json_object_is_type(v, json_type_null)) {
                free(*dst);
                *dst = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return spec_error(p, -EINVAL, path, "must be a string%s, got %s",
                                  f->nullable ? " or null" : "", json_type_name(v));
        r = value_get_string(p, v, path, &str);
        if (r < 0)
                return r;
        if (f->max > 0 && strlen(str) > f->max)
                return spec_error(p, -EINVAL, path,
                                  "must be at most %" PRIu64 " bytes (it must fit Linux's 2048-byte command line buffer with its terminating NUL), got %zu",
                                  f->max, strlen(str));
        if (f->is_path && str[0] == '\0')
                return spec_error(p, -EINVAL, path, "must not be empty: a file path%s",
                                  f->nullable ? ", or null for none" : "");
        copy = strdup(str);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

static int field_kernel(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s);

static const Field memory_fields[] = {
        { "size", field_size, offsetof(VmSpec, memory.size) },
        { "base", field_size, offsetof(VmSpec, memory.base) },
        { "mode", field_enum, offsetof(VmSpec, memory.mode),
          .names = memory_mode_names, .n_names = ELEMENTSOF(memory_mode_names) },
};

static const Field kernel_fields[] = {
        { "path", field_string, offsetof(VmSpec, kernel.path), .required = true, .is_path = true },
        { "cmdline", field_string, offsetof(VmSpec, kernel.cmdline), .nullable = true, .max = VM_CMDLINE_MAX - 1 },
        { "format", field_enum, offsetof(VmSpec, kernel.format),
          .names = kernel_format_names, .n_names = ELEMENTSOF(kernel_format_names) },
};

static const Field console_fields[] = {
        { "type", field_enum, offsetof(VmSpec, console.type),
          .names = console_type_names, .n_names = ELEMENTSOF(console_type_names) },
        { "base", field_size, offsetof(VmSpec, console.base) },
        { "spi", field_u32, offsetof(VmSpec, console.spi), .min = 0, .max = VM_SPI_MAX },
};

static const Field crash_restart_fields[] = {
        { "limit", field_u32, offsetof(VmSpec, crash_restart_limit),
          .min = 0, .max = VM_CRASH_RESTART_LIMIT_MAX },
        { "backoff", field_msec, offsetof(VmSpec, crash_restart_backoff_msec),
          .max = VM_CRASH_RESTART_BACKOFF_MAX_MSEC },
};

#define ACTION_FIELD(k, member)                                                         \
        { k, field_enum, offsetof(VmSpec, member),                                      \
          .names = lifecycle_action_names, .n_names = ELEMENTSOF(lifecycle_action_names) }
#define OBJECT_FIELD(k, table) { k, field_object, 0, .sub = table, .n_sub = ELEMENTSOF(table) }

static const Field spec_fields[] = {
        { "name", field_name, 0, .required = true },
        { "uuid", field_uuid, 0 },
        { "vcpus", field_u32, offsetof(VmSpec, vcpus), .min = 1, .max = VM_VCPUS_MAX },
        OBJECT_FIELD("memory", memory_fields),
        { "kernel", field_kernel, 0, .required = true, .sub = kernel_fields, .n_sub = ELEMENTSOF(kernel_fields) },
        { "initrd", field_string, offsetof(VmSpec, initrd), .nullable = true, .is_path = true },
        OBJECT_FIELD("console", console_fields),
        { "autostart", field_bool, offsetof(VmSpec, autostart) },
        ACTION_FIELD("on_poweroff", on_poweroff),
        ACTION_FIELD("on_reboot", on_reboot),
        ACTION_FIELD("on_crash", on_crash),
        OBJECT_FIELD("crash_restart", crash_restart_fields),
};

/* "kernel" is an object, or a plain string as a shorthand for {"path": ...}. */
static int field_kernel(SpecParser *p, const Field *f, json_object *v, const char *path, VmSpec *s) {
        if (json_object_is_type(v, json_type_string)) {
                p->kernel_key = "kernel";
                return field_string(p, &kernel_fields[0], v, path, s);
        }
        if (!json_object_is_type(v, json_type_object))
                return spec_error(p, -EINVAL, path,
                                  "must be an object {\"path\", \"cmdline\", \"format\"} or a string (the kernel path), got %s",
                                  json_type_name(v));
        p->kernel_key = "kernel.path";
        return parse_fields(p, v, path, f->sub, f->n_sub, s);
}

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
        path_join(path, sizeof(path), parent, key);
        return spec_error(p, -EINVAL, path, "unknown key %s; allowed keys%s%s are: %s",
                          QUOTE(key, strlen(key)), parent[0] ? " in " : "", parent, allowed);
}

/* Walks one JSON object against its field table: every key must be known,
 * every required key present. Fields are parsed in table order. */
static int parse_fields(SpecParser *p, json_object *o, const char *path,
                        const Field *fields, size_t n, VmSpec *s) {
        char child[sizeof(p->error->path)];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return spec_error(p, -EINVAL, path, "must be an object, got %s", json_type_name(o));

        json_object_object_foreach(o, key, value) {
                if (!field_find(fields, n, key))
                        return unknown_key(p, path, key, fields, n);
        }

        for (size_t i = 0; i < n; i++) {
                json_object *v;

                path_join(child, sizeof(child), path, fields[i].key);
                if (!json_object_object_get_ex(o, fields[i].key, &v)) {
                        if (fields[i].required)
                                return spec_error(p, -EINVAL, child, "is required");
                        continue;
                }
                r = fields[i].parse(p, &fields[i], v, child, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- rules across fields ---- */

static int spec_validate_memory(SpecParser *p, const VmSpec *s) {
        uint64_t size = s->memory.size, base = s->memory.base;

        if (!IS_ALIGNED(size, VM_RAM_ALIGN))
                return spec_error(p, -EINVAL, "memory.size", "must be a multiple of 2 MiB, got %" PRIu64, size);
        if (size < VM_RAM_ALIGN)
                return spec_error(p, -EINVAL, "memory.size", "must be at least 2 MiB, got %" PRIu64, size);
        if (!IS_ALIGNED(base, VM_RAM_ALIGN))
                return spec_error(p, -EINVAL, "memory.base", "must be a multiple of 2 MiB, got 0x%" PRIx64, base);
        if (base < VM_RAM_BASE_MIN)
                return spec_error(p, -EINVAL, "memory.base",
                                  "must be at least 1 GiB (0x40000000): RAM below 1 GiB is refused, [0, 1 GiB) is the MMIO window; got 0x%" PRIx64,
                                  base);
        /* Written so that base + size cannot overflow. */
        if (base >= VM_IPA_LIMIT || size > VM_IPA_LIMIT - base)
                return spec_error(p, -EINVAL, "memory",
                                  "RAM at base 0x%" PRIx64 " with size 0x%" PRIx64 " must end within the 36-bit IPA space (at most 0x%" PRIx64 ")",
                                  base, size, VM_IPA_LIMIT);
        return 0;
}

/* The console must sit in the MMIO window and clear of the GIC the DT
 * builder places at the top of it. RAM cannot overlap it: RAM starts at
 * 1 GiB or above (spec_validate_memory). */
static int spec_validate_console(SpecParser *p, const VmSpec *s) {
        uint64_t base = s->console.base;
        uint64_t gic_start = VM_GICD_BASE - (uint64_t) s->vcpus * VM_GICR_SIZE_PER_VCPU;
        uint64_t gic_end = VM_GICD_BASE + VM_GICD_SIZE;

        if (!IS_ALIGNED(base, VM_PL011_SIZE))
                return spec_error(p, -EINVAL, "console.base", "must be 4 KiB aligned, got 0x%" PRIx64, base);
        if (base >= VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE ||
            VM_PL011_SIZE > VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE - base)
                return spec_error(p, -EINVAL, "console.base",
                                  "devices outside the [0, 1 GiB) MMIO window are refused: the 4 KiB device at 0x%" PRIx64 " must lie below 0x40000000",
                                  base);
        if (base < gic_end && base + VM_PL011_SIZE > gic_start)
                return spec_error(p, -EINVAL, "console.base",
                                  "the 4 KiB device at 0x%" PRIx64 " overlaps the GIC region [0x%" PRIx64 ", 0x%" PRIx64 ") reserved for %" PRIu32 " vCPUs (GICD at 0x3fff0000, 0x20000 of GICR per vCPU below it)",
                                  base, gic_start, gic_end, s->vcpus);
        if (base < VM_PL061_BASE + VM_PL061_SIZE && base + VM_PL011_SIZE > VM_PL061_BASE)
                return spec_error(p, -EINVAL, "console.base",
                                  "the 4 KiB device at 0x%" PRIx64 " overlaps the power button (PL061) at 0x%" PRIx64,
                                  base, VM_PL061_BASE);
        if (s->console.spi == VM_PL061_SPI)
                return spec_error(p, -EINVAL, "console.spi", "SPI %u is the power button's interrupt; pick another",
                                  VM_PL061_SPI);
        return 0;
}

/* ---- files ---- */

static char *path_concat(const char *dir, const char *file) {
        size_t n = strlen(dir);
        char *r;

        if (asprintf(&r, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", file) < 0)
                return NULL;
        return r;
}

/* Looks for a relative image path in GUNYAH_IMAGE_PATH (colon-separated
 * directories; relative ones are taken from the current directory), as
 * given and then by its file name. Meant for tests and demos whose images
 * are built elsewhere than the spec lives. */
static int image_path_search(const char *file, char **ret) {
        const char *env = secure_getenv("GUNYAH_IMAGE_PATH");
        _cleanup_free_ char *cwd = NULL, *copy = NULL;
        char *state = NULL;

        if (!env || !*env)
                return 0;
        cwd = get_current_dir_name();
        if (!cwd)
                return negative_errno();
        copy = strdup(env);
        if (!copy)
                return -ENOMEM;
        for (char *d = strtok_r(copy, ":", &state); d; d = strtok_r(NULL, ":", &state)) {
                _cleanup_free_ char *dir = d[0] == '/' ? strdup(d) : path_concat(cwd, d);
                _cleanup_free_ char *candidate = NULL;

                if (!dir)
                        return -ENOMEM;
                candidate = path_concat(dir, file);
                if (!candidate)
                        return -ENOMEM;
                if (access(candidate, F_OK) == 0) {
                        *ret = TAKE_PTR(candidate);
                        return 1;
                }
                /* "../build/guests/hello.elf" is also found as "hello.elf" there. */
                const char *base = strrchr(file, '/');
                if (!base)
                        continue;
                free(candidate);
                candidate = path_concat(dir, base + 1);
                if (!candidate)
                        return -ENOMEM;
                if (access(candidate, F_OK) == 0) {
                        *ret = TAKE_PTR(candidate);
                        return 1;
                }
        }
        return 0;
}

/* Makes *path absolute: relative to base_dir, or found in GUNYAH_IMAGE_PATH
 * when it does not exist there. Returns 1 if it was searched for and not
 * found, so that the error can say so. */
static int image_path_resolve(SpecParser *p, char **path) {
        _cleanup_free_ char *next_to_spec = NULL;
        char *found = NULL;
        bool searched = false;
        int r;

        if ((*path)[0] == '/')
                return 0;
        next_to_spec = path_concat(p->base_dir, *path);
        if (!next_to_spec)
                return -ENOMEM;
        if (access(next_to_spec, F_OK) < 0) {
                r = image_path_search(*path, &found);
                if (r < 0)
                        return r;
                searched = r == 0 && secure_getenv("GUNYAH_IMAGE_PATH");
        }
        free(*path);
        *path = found ?: TAKE_PTR(next_to_spec);
        return searched;
}

static int image_file_check(SpecParser *p, const char *key, const char *path, bool searched) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (access(path, R_OK) < 0 ||
            (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
            fstat(fd, &st) < 0) {
                int r = negative_errno();
                return spec_error(p, -EINVAL, key, "cannot read %s: %s%s", QUOTE_PATH(path), strerror(-r),
                                  searched ? " (not found in GUNYAH_IMAGE_PATH either)" : "");
        }
        if (!S_ISREG(st.st_mode))
                return spec_error(p, -EINVAL, key, "%s must be a regular file, but it is %s", QUOTE_PATH(path),
                                  S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
        return 0;
}

static int spec_resolve_files(SpecParser *p, VmSpec *s) {
        int kernel_searched, initrd_searched = 0, r;

        /* A daemon's working directory means nothing to its clients. */
        if (p->flags & VM_SPEC_ABSOLUTE_PATHS) {
                if (s->kernel.path[0] != '/')
                        return spec_error(p, -EINVAL, p->kernel_key,
                                          "must be an absolute path here, got %s (gunyahctl create resolves "
                                          "relative paths against the spec file)", QUOTE_PATH(s->kernel.path));
                if (s->initrd && s->initrd[0] != '/')
                        return spec_error(p, -EINVAL, "initrd", "must be an absolute path here, got %s",
                                          QUOTE_PATH(s->initrd));
        }

        kernel_searched = image_path_resolve(p, &s->kernel.path);
        if (kernel_searched < 0)
                return kernel_searched;
        if (s->initrd) {
                initrd_searched = image_path_resolve(p, &s->initrd);
                if (initrd_searched < 0)
                        return initrd_searched;
        }
        if (p->flags & VM_SPEC_SKIP_FILE_CHECKS)
                return 0;
        r = image_file_check(p, p->kernel_key, s->kernel.path, kernel_searched);
        if (r < 0)
                return r;
        if (s->initrd)
                return image_file_check(p, "initrd", s->initrd, initrd_searched);
        return 0;
}

/* ---- the document ---- */

static void offset_to_line_column(const char *json, size_t offset, unsigned *ret_line, unsigned *ret_column) {
        unsigned line = 1, column = 1;

        for (size_t i = 0; i < offset; i++) {
                if (json[i] == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

static int syntax_error(SpecParser *p, const char *at, const char *what) {
        unsigned line, column;

        offset_to_line_column(p->json, (size_t) (at - p->json), &line, &column);
        return spec_error(p, -EINVAL, "", "JSON syntax error at line %u, column %u: %s", line, column, what);
}

/*
 * json-c keeps the last of duplicate keys and says nothing, and accepts
 * single-quoted strings even in strict mode. So, once json-c has accepted
 * the text, this walks it again to refuse both: a spec with two "memory"
 * keys means one of them is silently ignored.
 */
typedef struct Scanner {
        SpecParser *parser;
        const char *p, *end;
} Scanner;

static int scan_value(Scanner *sc, const char *path);

static void scan_ws(Scanner *sc) {
        while (sc->p < sc->end && strchr(" \t\r\n", *sc->p) && *sc->p)
                sc->p++;
}

static int scan_expect(Scanner *sc, char c) {
        scan_ws(sc);
        if (sc->p >= sc->end || *sc->p != c)
                return syntax_error(sc->parser, sc->p, "unexpected character");
        sc->p++;
        return 0;
}

/* Skips a string; on success [*ret_start, *ret_end) spans it, quotes included. */
static int scan_string(Scanner *sc, const char **ret_start, const char **ret_end) {
        const char *start = sc->p;

        if (sc->p < sc->end && *sc->p == '\'')
                return syntax_error(sc->parser, sc->p, "strings must be enclosed in double quotes");
        if (sc->p >= sc->end || *sc->p != '"')
                return syntax_error(sc->parser, sc->p, "string expected");
        for (sc->p++; sc->p < sc->end && *sc->p != '"'; sc->p++)
                if (*sc->p == '\\')
                        sc->p++;
        if (sc->p >= sc->end)
                return syntax_error(sc->parser, start, "unterminated string");
        sc->p++;
        *ret_start = start;
        *ret_end = sc->p;
        return 0;
}

/* Decodes a raw key (escapes and all) the way json-c does. */
static int scan_decode_key(const char *start, const char *end, json_object **ret) {
        _cleanup_free_ char *raw = strndup(start, (size_t) (end - start));
        json_object *o;

        if (!raw)
                return -ENOMEM;
        o = json_tokener_parse(raw);
        if (!o)
                return -EINVAL;
        *ret = o;
        return 0;
}

static int scan_object_member(Scanner *sc, const char *path, json_object *seen) {
        char child[sizeof(sc->parser->error->path)];
        const char *start, *end;
        json_object *key = NULL;
        int r;

        scan_ws(sc);
        r = scan_string(sc, &start, &end);
        if (r < 0)
                return r;
        r = scan_decode_key(start, end, &key);
        if (r < 0)
                return r == -EINVAL ? syntax_error(sc->parser, start, "malformed key") : r;
        path_join(child, sizeof(child), path, json_object_get_string(key));
        if (json_object_object_get_ex(seen, json_object_get_string(key), NULL))
                r = spec_error(sc->parser, -EINVAL, child, "duplicate key; each key may appear only once");
        else
                r = json_object_object_add(seen, json_object_get_string(key), NULL) < 0 ? -ENOMEM : 0;
        json_object_put(key);
        if (r < 0)
                return r;
        r = scan_expect(sc, ':');
        if (r < 0)
                return r;
        return scan_value(sc, child);
}

static int scan_object(Scanner *sc, const char *path) {
        json_object *seen = json_object_new_object();
        int r = 0;

        if (!seen)
                return -ENOMEM;
        sc->p++;
        scan_ws(sc);
        if (sc->p < sc->end && *sc->p == '}')
                sc->p++;
        else
                for (;;) {
                        r = scan_object_member(sc, path, seen);
                        if (r < 0)
                                break;
                        scan_ws(sc);
                        if (sc->p < sc->end && *sc->p == ',') {
                                sc->p++;
                                continue;
                        }
                        r = scan_expect(sc, '}');
                        break;
                }
        json_object_put(seen);
        return r;
}

static int scan_array(Scanner *sc, const char *path) {
        char child[sizeof(sc->parser->error->path)];
        int r;

        sc->p++;
        scan_ws(sc);
        if (sc->p < sc->end && *sc->p == ']') {
                sc->p++;
                return 0;
        }
        for (unsigned i = 0;; i++) {
                snprintf(child, sizeof(child), "%s[%u]", path, i);
                r = scan_value(sc, child);
                if (r < 0)
                        return r;
                scan_ws(sc);
                if (sc->p < sc->end && *sc->p == ',') {
                        sc->p++;
                        continue;
                }
                return scan_expect(sc, ']');
        }
}

/* Recursion is bounded: json-c already refused nesting deeper than its limit. */
static int scan_value(Scanner *sc, const char *path) {
        const char *start, *end;

        scan_ws(sc);
        if (sc->p >= sc->end)
                return syntax_error(sc->parser, sc->p, "unexpected end of document");
        switch (*sc->p) {
        case '{':
                return scan_object(sc, path);
        case '[':
                return scan_array(sc, path);
        case '"':
        case '\'':
                return scan_string(sc, &start, &end);
        default:
                /* Numbers and literals: json-c has checked them already. */
                start = sc->p;
                while (sc->p < sc->end && !strchr(",]} \t\r\n", *sc->p))
                        sc->p++;
                return sc->p > start ? 0 : syntax_error(sc->parser, sc->p, "value expected");
        }
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

static int spec_tokenize(SpecParser *p, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        const char *first = p->json, *end = p->json + p->json_len;
        json_object *o;
        size_t parsed;

        if (memchr(p->json, '\0', p->json_len))
                return syntax_error(p, memchr(p->json, '\0', p->json_len), "NUL byte in the document");
        while (first < end && strchr(" \t\r\n", *first))
                first++;
        if (first == end)
                return spec_error(p, -EINVAL, "", "the document is empty; it must be a JSON object");
        if (*first != '{')
                return syntax_error(p, first, "the document must be a JSON object ({ ... })");

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        /* Trailing text is checked below, with a clearer message than json-c's. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                            JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, p->json, (int) p->json_len);
        parsed = json_tokener_get_parse_end(tok);
        if (!o) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                const char *at = p->json + MIN(parsed, p->json_len);

                if (at < end && *at == '\'')
                        return syntax_error(p, at, "strings must be enclosed in double quotes");
                return syntax_error(p, at, e == json_tokener_continue ? "unexpected end of document" :
                                                                   json_tokener_error_desc(e));
        }
        for (const char *t = p->json + parsed; t < end; t++)
                if (!strchr(" \t\r\n", *t)) {
                        json_object_put(o);
                        return syntax_error(p, t, "trailing characters after the JSON object");
                }
        *ret = o;
        return 0;
}

static void spec_init_defaults(VmSpec *s) {
        *s = (VmSpec) {
                .vcpus = VM_DEFAULT_VCPUS,
                .memory = { VM_DEFAULT_MEMORY_SIZE, VM_DEFAULT_MEMORY_BASE, VM_MEMORY_LEND },
                .kernel.format = VM_KERNEL_FORMAT_AUTO,
                .console = { VM_CONSOLE_PL011, VM_DEFAULT_PL011_BASE, VM_DEFAULT_PL011_SPI },
                .on_poweroff = VM_ACTION_STOP,
                .on_reboot = VM_ACTION_RESTART,
                .on_crash = VM_ACTION_STOP,
                .crash_restart_limit = VM_DEFAULT_CRASH_RESTART_LIMIT,
                .crash_restart_backoff_msec = VM_DEFAULT_CRASH_RESTART_BACKOFF_MSEC,
        };
}

static int spec_parse_document(SpecParser *p, VmSpec **ret) {
        _cleanup_(vm_spec_freep) VmSpec *s = NULL;
        json_object *doc = NULL;
        Scanner sc = { .parser = p, .p = p->json, .end = p->json + p->json_len };
        int r;

        if (p->json_len > VM_SPEC_SIZE_MAX)
                return spec_error(p, -E2BIG, "", "the document is %zu bytes, larger than the 1 MiB (%d bytes) a spec may be",
                                  p->json_len, VM_SPEC_SIZE_MAX);
        r = spec_tokenize(p, &doc);
        if (r < 0)
                return r;
        r = scan_value(&sc, "");
        if (r >= 0) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                spec_init_defaults(s);
                r = parse_fields(p, doc, "", spec_fields, ELEMENTSOF(spec_fields), s);
        }
        json_object_put(doc);
        if (r < 0)
                return r;

        r = spec_validate_memory(p, s);
        if (r < 0)
                return r;
        r = spec_validate_console(p, s);
        if (r < 0)
                return r;
        r = spec_resolve_files(p, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int spec_parse_in_dir(const char *json, size_t len, const char *base_dir, unsigned flags,
                             VmSpec **ret, VmSpecError *error) {
        VmSpecError scratch;
        SpecParser p = {
                .error = error ?: &scratch,
                .flags = flags,
                .json = json,
                .json_len = len,
                .base_dir = base_dir,
                .kernel_key = "kernel.path",
        };
        int r;

        *p.error = (VmSpecError) {};
        if (!json)
                return spec_error(&p, -EINVAL, "", "no document");
        r = spec_parse_document(&p, ret);
        if (r == -ENOMEM)
                spec_error(&p, r, "", "out of memory");
        return r;
}

int vm_spec_parse(const char *json, size_t len, unsigned flags, VmSpec **ret, VmSpecError *error) {
        _cleanup_free_ char *cwd = get_current_dir_name();

        /* Relative image paths are relative to the current directory. */
        if (!cwd) {
                int r = negative_errno();
                if (error) {
                        *error = (VmSpecError) {};
                        snprintf(error->message, sizeof(error->message),
                                 "cannot determine the current directory: %s", strerror(-r));
                }
                return r;
        }
        return spec_parse_in_dir(json, len, cwd, flags, ret, error);
}

int vm_spec_load_file(const char *path, unsigned flags, VmSpec **ret, VmSpecError *error) {
        _cleanup_free_ char *cwd = NULL, *abs = NULL, *buf = NULL;
        VmSpecError scratch;
        char *slash;
        size_t size;
        int r;

        if (!error)
                error = &scratch;
        *error = (VmSpecError) {};
        if (!path)
                return -EINVAL;
        if (path[0] == '/')
                abs = strdup(path);
        else {
                cwd = get_current_dir_name();
                if (!cwd)
                        return negative_errno();
                abs = path_concat(cwd, path);
        }
        if (!abs)
                return -ENOMEM;

        r = read_full_file(abs, VM_SPEC_SIZE_MAX, &buf, &size);
        if (r == -EFBIG) {
                snprintf(error->message, sizeof(error->message),
                         "spec file %s is larger than the 1 MiB (%d bytes) a spec may be",
                         QUOTE(path, strlen(path)), VM_SPEC_SIZE_MAX);
                return -E2BIG;
        }
        if (r < 0) {
                snprintf(error->message, sizeof(error->message), "cannot read spec file %s: %s",
                         QUOTE(path, strlen(path)), strerror(-r));
                return r;
        }

        /* Relative image paths are relative to the spec file's directory. */
        slash = strrchr(abs, '/');
        if (slash == abs)
                slash[1] = '\0';
        else
                slash[0] = '\0';
        return spec_parse_in_dir(buf, size, abs, flags, ret, error);
}

/* ---- serialization ---- */

static json_object *json_hex(uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

static json_object *json_size(uint64_t v) {
        char buf[FORMAT_SIZE_MAX];

        return json_object_new_string(format_size(buf, sizeof(buf), v));
}

/* json-c's null is a NULL pointer, so json_add() cannot tell it from a
 * failed allocation: optional strings go through this instead. */
static int json_add_opt(json_object *o, const char *key, const char *s) {
        if (!s)
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        return json_add(o, key, json_object_new_string(s));
}

static int spec_to_json_object(const VmSpec *s, json_object *o) {
        json_object *memory = NULL, *kernel = NULL, *console = NULL, *crash = NULL;
        const char *mode = vm_memory_mode_to_string(s->memory.mode);
        const char *format = vm_kernel_format_to_string(s->kernel.format);
        const char *type = vm_console_type_to_string(s->console.type);
        const char *poweroff = vm_lifecycle_action_to_string(s->on_poweroff);
        const char *reboot = vm_lifecycle_action_to_string(s->on_reboot);
        const char *crashed = vm_lifecycle_action_to_string(s->on_crash);

        if (!mode || !format || !type || !poweroff || !reboot || !crashed || !s->kernel.path)
                return -EINVAL;

        if (json_add(o, "name", json_object_new_string(s->name)) < 0 ||
            json_add_opt(o, "uuid", s->uuid[0] ? s->uuid : NULL) < 0 ||
            json_add(o, "vcpus", json_object_new_int64(s->vcpus)) < 0 ||
            json_add(o, "memory", memory = json_object_new_object()) < 0 ||
            json_add(memory, "size", json_size(s->memory.size)) < 0 ||
            json_add(memory, "base", json_hex(s->memory.base)) < 0 ||
            json_add(memory, "mode", json_object_new_string(mode)) < 0 ||
            json_add(o, "kernel", kernel = json_object_new_object()) < 0 ||
            json_add(kernel, "path", json_object_new_string(s->kernel.path)) < 0 ||
            json_add_opt(kernel, "cmdline", s->kernel.cmdline) < 0 ||
            json_add(kernel, "format", json_object_new_string(format)) < 0 ||
            json_add_opt(o, "initrd", s->initrd) < 0 ||
            json_add(o, "console", console = json_object_new_object()) < 0 ||
            json_add(console, "type", json_object_new_string(type)) < 0 ||
            json_add(console, "base", json_hex(s->console.base)) < 0 ||
            json_add(console, "spi", json_object_new_int64(s->console.spi)) < 0 ||
            json_add(o, "autostart", json_object_new_boolean(s->autostart)) < 0 ||
            json_add(o, "on_poweroff", json_object_new_string(poweroff)) < 0 ||
            json_add(o, "on_reboot", json_object_new_string(reboot)) < 0 ||
            json_add(o, "on_crash", json_object_new_string(crashed)) < 0 ||
            json_add(o, "crash_restart", crash = json_object_new_object()) < 0 ||
            json_add(crash, "limit", json_object_new_int64(s->crash_restart_limit)) < 0 ||
            json_add(crash, "backoff", json_object_new_int64(s->crash_restart_backoff_msec)) < 0)
                return -ENOMEM;
        return 0;
}

int vm_spec_to_json(const VmSpec *spec, char **ret) {
        const char *s;
        char *text = NULL;
        json_object *o;
        int r;

        if (!spec || !ret)
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = spec_to_json_object(spec, o);
        if (r >= 0) {
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
                text = s ? strdup(s) : NULL;
                r = text ? 0 : -ENOMEM;
        }
        json_object_put(o);
        if (r < 0)
                return r;
        *ret = text;
        return 0;
}
