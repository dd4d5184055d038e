/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A read-only flattened devicetree walker, just enough for the guests to
 * find their console, CPUs, memory and bootargs. Every read is 4-byte
 * aligned (the format guarantees it for tokens and property values), since
 * with the MMU off an unaligned access faults. */

#include "guest.h"

#define FDT_MAGIC      0xd00dfeedU
#define FDT_BEGIN_NODE 1U
#define FDT_END_NODE   2U
#define FDT_PROP       3U
#define FDT_NOP        4U
#define FDT_END        9U
#define PATH_MAX_LEN   128
#define MAX_DEPTH      8

static uint32_t be32(const void *p) {
        return __builtin_bswap32(*(const volatile uint32_t *) p);
}

static uint32_t hdr(const void *fdt, unsigned field) {
        return be32((const char *) fdt + 4 * field);
}

static uint32_t align4(uint32_t v) {
        return (v + 3) & ~3U;
}

bool fdt_valid(const void *fdt) {
        return hdr(fdt, 0) == FDT_MAGIC && hdr(fdt, 5) >= 16 && hdr(fdt, 1) >= 40;
}

uint32_t fdt_totalsize(const void *fdt) {
        return hdr(fdt, 1);
}

/* Called for each node with its full path and the offset of its first
 * property; a non-zero return stops the walk and is passed back. */
typedef int (*fdt_node_fn)(const void *fdt, const char *path, unsigned depth, uint32_t off,
                           void *userdata);

static int fdt_walk(const void *fdt, fdt_node_fn fn, void *userdata) {
        const char *s = (const char *) fdt + hdr(fdt, 2);
        uint32_t end = hdr(fdt, 9), off = 0;
        char path[PATH_MAX_LEN];
        size_t lens[MAX_DEPTH + 1];
        unsigned depth = 0;
        int r;

        path[0] = '\0';
        lens[0] = 0;
        while (off + 4 <= end) {
                uint32_t tok = be32(s + off);

                if (tok == FDT_BEGIN_NODE) {
                        const char *name = s + off + 4;
                        size_t n = strlen(name), cur = lens[depth];

                        off = align4(off + 4 + n + 1);
                        if (depth >= MAX_DEPTH || cur + n + 2 > PATH_MAX_LEN)
                                return 0;    /* deeper than any node we look for */
                        if (cur == 0 || path[cur - 1] != '/')
                                path[cur++] = '/';
                        memcpy(path + cur, name, n + 1);
                        lens[++depth] = cur + n;
                        r = fn(fdt, path, depth - 1, off, userdata);   /* root = 0 */
                        if (r)
                                return r;
                } else if (tok == FDT_END_NODE) {
                        if (depth == 0)
                                return 0;
                        path[lens[--depth]] = '\0';
                        off += 4;
                } else if (tok == FDT_PROP) {
                        off = align4(off + 12 + be32(s + off + 4));
                } else if (tok == FDT_NOP) {
                        off += 4;
                } else {
                        return 0;
                }
        }
        return 0;
}

/* Looks name up among the properties starting at off (a node's first). */
static const void *node_prop(const void *fdt, uint32_t off, const char *name, uint32_t *ret_len) {
        const char *s = (const char *) fdt + hdr(fdt, 2);
        const char *strings = (const char *) fdt + hdr(fdt, 3);
        uint32_t end = hdr(fdt, 9);

        while (off + 4 <= end) {
                uint32_t tok = be32(s + off);

                if (tok == FDT_NOP) {
                        off += 4;
                        continue;
                }
                if (tok != FDT_PROP)
                        return NULL;
                uint32_t len = be32(s + off + 4);
                if (strcmp(strings + be32(s + off + 8), name) == 0) {
                        if (ret_len)
                                *ret_len = len;
                        return s + off + 12;
                }
                off = align4(off + 12 + len);
        }
        return NULL;
}

struct prop_query {
        const char *path, *name;
        const void *value;
        uint32_t len;
};

static int match_path(const void *fdt, const char *path, unsigned depth, uint32_t off, void *userdata) {
        struct prop_query *q = userdata;
        if (strcmp(path, q->path) != 0)
                return 0;
        q->value = node_prop(fdt, off, q->name, &q->len);
        return 1;
}

const void *fdt_getprop(const void *fdt, const char *path, const char *name, uint32_t *ret_len) {
        struct prop_query q = { .path = path, .name = name };

        (void) fdt_walk(fdt, match_path, &q);
        if (q.value && ret_len)
                *ret_len = q.len;
        return q.value;
}

uint64_t fdt_read_cells(const void *p, uint32_t cells) {
        const char *c = p;
        uint64_t v = 0;

        for (uint32_t i = 0; i < cells; i++)
                v = (v << 32) | be32(c + 4 * i);
        return v;
}

uint32_t fdt_cells(const void *fdt, const char *path, const char *name, uint32_t dflt) {
        uint32_t len;
        const void *p = fdt_getprop(fdt, path, name, &len);

        return p && len == 4 ? be32(p) : dflt;
}

struct cpu_query {
        uint64_t *mpidrs;
        unsigned max, n;
        uint32_t cells;
};

static int collect_cpu(const void *fdt, const char *path, unsigned depth, uint32_t off, void *userdata) {
        struct cpu_query *q = userdata;
        const void *type, *reg;
        uint32_t len;

        if (depth != 2 || strncmp(path, "/cpus/cpu@", 10) != 0)
                return 0;
        type = node_prop(fdt, off, "device_type", NULL);
        reg = node_prop(fdt, off, "reg", &len);
        if (!type || strcmp(type, "cpu") != 0 || !reg || len < 4 * q->cells || q->n >= q->max)
                return 0;
        q->mpidrs[q->n++] = fdt_read_cells(reg, q->cells);
        return 0;
}

unsigned fdt_cpus(const void *fdt, uint64_t *mpidrs, unsigned max) {
        struct cpu_query q = {
                .mpidrs = mpidrs,
                .max = max,
                .cells = fdt_cells(fdt, "/cpus", "#address-cells", 1),
        };

        (void) fdt_walk(fdt, collect_cpu, &q);
        /* Insertion sort: the boot order must not depend on node order. */
        for (unsigned i = 1; i < q.n; i++)
                for (unsigned j = i; j > 0 && mpidrs[j - 1] > mpidrs[j]; j--) {
                        uint64_t t = mpidrs[j];
                        mpidrs[j] = mpidrs[j - 1];
                        mpidrs[j - 1] = t;
                }
        return q.n;
}

struct reg_query {
        const char *path;       /* exact path, or NULL */
        const char *compatible; /* entry of the "compatible" list, or NULL */
        bool memory;            /* a top-level /memory or /memory@... node */
        uint32_t acells, scells;
        uint64_t base, size;
};

static bool has_compatible(const char *list, uint32_t len, const char *want) {
        for (uint32_t i = 0; i < len; i += strlen(list + i) + 1)
                if (strcmp(list + i, want) == 0)
                        return true;
        return false;
}

static int match_reg(const void *fdt, const char *path, unsigned depth, uint32_t off, void *userdata) {
        struct reg_query *q = userdata;
        const void *reg, *compat;
        uint32_t len;

        if (q->path && strcmp(path, q->path) != 0)
                return 0;
        if (q->memory && (depth != 1 || (strcmp(path, "/memory") != 0 && strncmp(path, "/memory@", 8) != 0)))
                return 0;
        if (q->compatible) {
                compat = node_prop(fdt, off, "compatible", &len);
                if (!compat || !has_compatible(compat, len, q->compatible))
                        return 0;
        }
        reg = node_prop(fdt, off, "reg", &len);
        if (!reg || len < 4 * (q->acells + q->scells))
                return 0;
        q->base = fdt_read_cells(reg, q->acells);
        q->size = fdt_read_cells((const char *) reg + 4 * q->acells, q->scells);
        return 1;
}

static int find_reg(const void *fdt, struct reg_query *q) {
        /* Nodes we look for sit under the root, so the root's cells apply. */
        q->acells = fdt_cells(fdt, "/", "#address-cells", 2);
        q->scells = fdt_cells(fdt, "/", "#size-cells", 1);
        return fdt_walk(fdt, match_reg, q) ? 0 : -1;
}

int fdt_memory(const void *fdt, uint64_t *ret_base, uint64_t *ret_size) {
        struct reg_query q = { .memory = true };

        if (find_reg(fdt, &q) < 0)
                return -1;
        *ret_base = q.base;
        *ret_size = q.size;
        return 0;
}

int fdt_uart(const void *fdt, uint64_t *ret_base) {
        char path[PATH_MAX_LEN];
        uint32_t len;
        const char *stdout_path = fdt_getprop(fdt, "/chosen", "stdout-path", &len);
        struct reg_query q = { .compatible = "arm,pl011" };

        /* "stdout-path" may carry ":options"; aliases are not resolved, the
         * compatible search below covers them. */
        if (stdout_path && stdout_path[0] == '/') {
                size_t n = 0;
                while (n < len && n + 1 < sizeof(path) && stdout_path[n] && stdout_path[n] != ':') {
                        path[n] = stdout_path[n];
                        n++;
                }
                path[n] = '\0';
                struct reg_query p = { .path = path };
                if (find_reg(fdt, &p) == 0) {
                        *ret_base = p.base;
                        return 0;
                }
        }
        if (find_reg(fdt, &q) < 0)
                return -1;
        *ret_base = q.base;
        return 0;
}

int fdt_compatible_reg(const void *fdt, const char *compatible, uint64_t *ret_base) {
        struct reg_query q = { .compatible = compatible };

        if (find_reg(fdt, &q) < 0)
                return -1;
        *ret_base = q.base;
        return 0;
}

struct regs_query {
        struct reg_query one;
        uint64_t *bases;
        unsigned max, n;
};

static int collect_reg(const void *fdt, const char *path, unsigned depth, uint32_t off, void *userdata) {
        struct regs_query *q = userdata;

        if (q->n < q->max && match_reg(fdt, path, depth, off, &q->one))
                q->bases[q->n++] = q->one.base;
        return 0;
}

unsigned fdt_compatible_regs(const void *fdt, const char *compatible, uint64_t *bases, unsigned max) {
        struct regs_query q = { .one = { .compatible = compatible }, .bases = bases, .max = max };

        q.one.acells = fdt_cells(fdt, "/", "#address-cells", 2);
        q.one.scells = fdt_cells(fdt, "/", "#size-cells", 1);
        (void) fdt_walk(fdt, collect_reg, &q);
        return q.n;
}

static bool parse_uint(const char *s, uint64_t *ret) {
        unsigned base = 10;
        uint64_t v = 0;
        bool any = false;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        for (;; s++) {
                unsigned d;
                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (base == 16 && *s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (base == 16 && *s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        break;
                v = v * base + d;
                any = true;
        }
        if (any && (*s == '\0' || *s == ' '))
                *ret = v;
        return any;
}

/* The value of "key=" in /chosen/bootargs, NULL without one. */
static const char *bootarg_value(const void *fdt, const char *key) {
        const char *args = fdt ? fdt_getprop(fdt, "/chosen", "bootargs", NULL) : NULL;
        size_t klen = strlen(key);

        if (!args)
                return NULL;
        for (const char *p = args; *p; p++)
                if ((p == args || p[-1] == ' ') && strncmp(p, key, klen) == 0 && p[klen] == '=')
                        return p + klen + 1;
        return NULL;
}

uint64_t fdt_bootarg(const void *fdt, const char *key, uint64_t dflt) {
        const char *value = bootarg_value(fdt, key);
        uint64_t v = dflt;

        if (value)
                (void) parse_uint(value, &v);
        return v;
}

bool fdt_bootarg_is(const void *fdt, const char *key, const char *want) {
        const char *value = bootarg_value(fdt, key);
        size_t n = strlen(want);

        return value && strncmp(value, want, n) == 0 && (value[n] == '\0' || value[n] == ' ');
}
