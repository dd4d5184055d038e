/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The strict JSON reader (json-strict.h). json-c keeps the last of duplicate
 * keys and says nothing, and accepts single-quoted strings even in strict
 * mode. So, once json-c has accepted the text, a scanner walks it again to
 * refuse both.
 */
#include <stdio.h>
#include <string.h>

#include "json-cleanup.h"
#include "json-strict.h"
#include "macro.h"
#include "spec-error.h"

typedef struct Scanner {
        VmSpecError *error;
        const char *json; /* the document, for line and column of syntax errors */
        const char *p, *end;
} Scanner;

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

static int syntax_error(Scanner *sc, const char *at, const char *what) {
        unsigned line, column;

        offset_to_line_column(sc->json, (size_t) (at - sc->json), &line, &column);
        return spec_error(sc->error, -EINVAL, "", "JSON syntax error at line %u, column %u: %s", line, column, what);
}

static int scan_value(Scanner *sc, const char *path);

static void scan_ws(Scanner *sc) {
        while (sc->p < sc->end && strchr(" \t\r\n", *sc->p) && *sc->p)
                sc->p++;
}

static int scan_expect(Scanner *sc, char c) {
        scan_ws(sc);
        if (sc->p >= sc->end || *sc->p != c)
                return syntax_error(sc, sc->p, "unexpected character");
        sc->p++;
        return 0;
}

/* Skips a string; on success [*ret_start, *ret_end) spans it, quotes included. */
static int scan_string(Scanner *sc, const char **ret_start, const char **ret_end) {
        const char *start = sc->p;

        if (sc->p < sc->end && *sc->p == '\'')
                return syntax_error(sc, sc->p, "strings must be enclosed in double quotes");
        if (sc->p >= sc->end || *sc->p != '"')
                return syntax_error(sc, sc->p, "string expected");
        for (sc->p++; sc->p < sc->end && *sc->p != '"'; sc->p++)
                if (*sc->p == '\\')
                        sc->p++;
        if (sc->p >= sc->end)
                return syntax_error(sc, start, "unterminated string");
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
        char child[sizeof(sc->error->path)];
        const char *start, *end;
        json_object *key = NULL;
        int r;

        scan_ws(sc);
        r = scan_string(sc, &start, &end);
        if (r < 0)
                return r;
        r = scan_decode_key(start, end, &key);
        if (r < 0)
                return r == -EINVAL ? syntax_error(sc, start, "malformed key") : r;
        spec_path_join(child, sizeof(child), path, json_object_get_string(key));
        if (json_object_object_get_ex(seen, json_object_get_string(key), NULL))
                r = spec_error(sc->error, -EINVAL, child, "duplicate key; each key may appear only once");
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
        char child[sizeof(sc->error->path)];
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
                return syntax_error(sc, sc->p, "unexpected end of document");
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
                return sc->p > start ? 0 : syntax_error(sc, sc->p, "value expected");
        }
}

/* json-c does the parsing; this adds the document-level rules and messages
 * with line and column. */
static int tokenize(Scanner *sc, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        size_t len = (size_t) (sc->end - sc->json), parsed;
        const char *first = sc->json, *nul = memchr(sc->json, '\0', len);
        json_object *o;

        if (nul)
                return syntax_error(sc, nul, "NUL byte in the document");
        while (first < sc->end && strchr(" \t\r\n", *first))
                first++;
        if (first == sc->end)
                return spec_error(sc->error, -EINVAL, "", "the document is empty; it must be a JSON object");
        if (*first != '{')
                return syntax_error(sc, first, "the document must be a JSON object ({ ... })");

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        /* Trailing text is checked below, with a clearer message than json-c's. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                            JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, sc->json, (int) len);
        parsed = json_tokener_get_parse_end(tok);
        if (!o) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                const char *at = sc->json + MIN(parsed, len);

                if (at < sc->end && *at == '\'')
                        return syntax_error(sc, at, "strings must be enclosed in double quotes");
                return syntax_error(sc, at, e == json_tokener_continue ? "unexpected end of document" :
                                                                   json_tokener_error_desc(e));
        }
        for (const char *t = sc->json + parsed; t < sc->end; t++)
                if (!strchr(" \t\r\n", *t)) {
                        json_object_put(o);
                        return syntax_error(sc, t, "trailing characters after the JSON object");
                }
        *ret = o;
        return 0;
}

int json_strict_parse_object(const char *json, size_t len, json_object **ret, VmSpecError *error) {
        Scanner sc = { .error = error, .json = json, .p = json, .end = json + len };
        json_object *o = NULL;
        int r;

        r = tokenize(&sc, &o);
        if (r < 0)
                return r;
        /* json-c has accepted the text: walk it again for what it lets through. */
        r = scan_value(&sc, "");
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}
