/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "ctl-json.h"
#include "macro.h"

static int read_basic(sd_bus_message *m, char type, json_object **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
                int h;
        } v;
        json_object *o;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 'y': o = json_object_new_int(v.y); break;
        case 'b': o = json_object_new_boolean(v.b); break;
        case 'n': o = json_object_new_int(v.n); break;
        case 'q': o = json_object_new_int(v.q); break;
        case 'i': o = json_object_new_int(v.i); break;
        case 'u': o = json_object_new_int64(v.u); break;
        case 'x': o = json_object_new_int64(v.x); break;
        case 't': o = json_object_new_uint64(v.t); break;
        case 'd': o = json_object_new_double(v.d); break;
        case 'h': o = json_object_new_int(v.h); break;
        case 's':
        case 'o':
        case 'g': o = json_object_new_string(v.s); break;
        default: return -EBADMSG;
        }
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* Dict entries: the key's JSON text (strings unquoted) names the member. */
static int read_dict(sd_bus_message *m, const char *contents, json_object *obj) {
        char type;
        const char *entry;
        int r;
        while ((r = sd_bus_message_peek_type(m, &type, &entry)) > 0) {
                _cleanup_(json_object_putp) json_object *key = NULL, *value = NULL;

                r = sd_bus_message_enter_container(m, type, entry);
                if (r < 0)
                        return r;
                r = ctl_json_read_value(m, &key);
                if (r < 0)
                        return r;
                r = ctl_json_read_value(m, &value);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                const char *k = json_object_is_type(key, json_type_string) ? json_object_get_string(key)
                                                                            : json_object_to_json_string(key);
                if (json_object_object_add(obj, k, TAKE_PTR(value)) < 0)
                        return -ENOMEM;
        }
        return r;
}

static int read_list(sd_bus_message *m, json_object *arr) {
        int r;

        while ((r = sd_bus_message_peek_type(m, NULL, NULL)) > 0) {
                json_object *v = NULL;

                r = ctl_json_read_value(m, &v);
                if (r < 0)
                        return r;
                if (json_object_array_add(arr, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        return r;
}

int ctl_json_read_value(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO; /* nothing left */
        if (!IN_SET(type, SD_BUS_TYPE_ARRAY, SD_BUS_TYPE_VARIANT, SD_BUS_TYPE_STRUCT))
                return read_basic(m, type, ret);

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        if (type == SD_BUS_TYPE_VARIANT)
                r = ctl_json_read_value(m, &o);
        else if (type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN) {
                o = json_object_new_object();
                r = o ? read_dict(m, contents, o) : -ENOMEM;
        } else {
                o = json_object_new_array();
                r = o ? read_list(m, o) : -ENOMEM;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int ctl_json_read_properties(sd_bus_message *m, json_object **ret) {
        char type;
        int r = sd_bus_message_peek_type(m, &type, NULL);

        if (r < 0)
                return r;
        if (r == 0 || type != SD_BUS_TYPE_ARRAY)
                return -EBADMSG;
        return ctl_json_read_value(m, ret);
}

int ctl_json_print_line(json_object *v) {
        puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return fflush(stdout) == 0 ? 0 : -errno;
}

const char *ctl_json_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int64_t ctl_json_int(json_object *o, const char *key, int64_t def) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return def;
        return json_object_get_int64(v);
}
