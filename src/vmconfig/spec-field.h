/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The machinery behind the spec's field table (vm-spec.c): one row per JSON
 * key says where the value lives in VmSpec, its type, its default and its
 * limits, and the same rows drive parsing, defaults and serialization.
 * Adding a scalar key is one row plus the VmSpec member.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm-spec.h"

typedef struct SpecParser {
        VmSpecError *error;
        const char *kernel_key; /* "kernel.path", or "kernel" for the string form */
} SpecParser;

typedef struct Field Field;

typedef struct FieldType {
        /* Checks v and stores it at the field of base (the VmSpec, or the
         * element of an array the field belongs to). */
        int (*parse)(SpecParser *p, const Field *f, json_object *v, const char *path, void *base);
        /* The field's value as JSON; *ret NULL is JSON null. -EINVAL when the
         * value cannot be written (an enum out of range), -ENOMEM. */
        int (*format)(const Field *f, const void *base, json_object **ret);
        /* Bytes of the stored scalar that Field.def initializes; 0 for none. */
        size_t width;
} FieldType;

struct Field {
        const char *key;
        const FieldType *type;
        size_t offset;            /* into VmSpec, or into the array element */
        uint64_t def;             /* default of a scalar (an enum's index) */
        bool required;
        uint64_t min, max;        /* integer ranges; string length limits */
        const char *const *names; /* enums: string table */
        size_t n_names;
        bool nullable;            /* strings: null means absent */
        bool is_path;             /* strings: a file path, never empty */
        bool absolute;            /* paths: must start with '/' */
        const char *max_why;      /* strings: why f->max; integers: why min..max; for the message */
        const Field *sub;         /* objects and array elements: their fields */
        size_t n_sub;
        size_t elem_size;         /* arrays: bytes per element (sub offsets are into it) */
        size_t count_offset;      /* arrays: the uint32_t element count in VmSpec */
        /* Nonzero: a bool in VmSpec set when the key is given (offset 0 is
         * the name, never such a flag). With omit_absent, a key not given
         * is left out of the serialized spec instead of written. */
        size_t present_offset;
        bool omit_absent;
};

#define FIELD_PTR(base, f, type) ((type *) ((uint8_t *) (base) + (f)->offset))

/* The value types. size and address parse alike ("256M", "0x80000000", or
 * an integer) and are written as a size ("256M") or in hex. kernel is an
 * object, or a string as a shorthand for its first field (the path). serial
 * is a char array of printable ASCII, null or absent for none. array is a
 * JSON array of objects stored in a fixed C array (f->max elements at most)
 * with its count. */
extern const FieldType field_u32, field_size, field_address, field_msec, field_bool, field_enum,
        field_name, field_uuid, field_string, field_serial, field_object, field_kernel, field_array;

/* Walks one JSON object against its field table: every key must be known,
 * every required key present. Fields are parsed in table order. */
int fields_parse(SpecParser *p, json_object *o, const char *path, const Field *fields, size_t n, void *base);

/* Stores every default of the table (and its object sub-tables) in base.
 * The defaults of array elements are set as each element is parsed. */
void fields_set_defaults(const Field *fields, size_t n, void *base);

/* Adds every field of the table to o, in table order. */
int fields_to_json(const Field *fields, size_t n, const void *base, json_object *o);
