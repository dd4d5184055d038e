/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "pl061.h"

enum {
        PL061_DATA_END = 0x400, /* 0x000-0x3fc: data, address bits [9:2] mask the lines */
        PL061_DIR = 0x400,
        PL061_IS = 0x404,
        PL061_IBE = 0x408,
        PL061_IEV = 0x40c,
        PL061_IE = 0x410,
        PL061_RIS = 0x414,
        PL061_MIS = 0x418,
        PL061_IC = 0x41c,
        PL061_AFSEL = 0x420,
        PL061_ID_BASE = 0xfe0,
};

/* PeriphID0-3 then PCellID0-3 (PL061 TRM). */
static const uint8_t pl061_ids[8] = { 0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

void pl061_reset(Pl061 *s) {
        memset(s, 0, sizeof(*s));
}

static uint8_t level_of(const Pl061 *s) {
        /* Outputs read back what was written, inputs what is driven. */
        return (uint8_t) ((s->data_out & s->dir) | (s->data_in & ~s->dir));
}

static void update_level_interrupts(Pl061 *s) {
        uint8_t level = level_of(s);
        uint8_t active = (uint8_t) ((level & s->iev) | (~level & ~s->iev));

        /* Level-sensitive lines follow the level; edge lines stay latched. */
        s->ris = (uint8_t) ((s->ris & ~s->is) | (active & s->is));
}

bool pl061_read(Pl061 *s, uint64_t offset, unsigned len, uint64_t *ret) {
        if (len != 4 && len != 1)
                return false;
        if (offset < PL061_DATA_END) {
                *ret = level_of(s) & ((offset >> 2) & 0xff);
                return true;
        }
        switch (offset) {
        case PL061_DIR: *ret = s->dir; return true;
        case PL061_IS: *ret = s->is; return true;
        case PL061_IBE: *ret = s->ibe; return true;
        case PL061_IEV: *ret = s->iev; return true;
        case PL061_IE: *ret = s->ie; return true;
        case PL061_RIS: *ret = s->ris; return true;
        case PL061_MIS: *ret = s->ris & s->ie; return true;
        case PL061_AFSEL: *ret = s->afsel; return true;
        default:
                break;
        }
        if (offset >= PL061_ID_BASE && offset < PL061_ID_BASE + 0x20 && offset % 4 == 0) {
                *ret = pl061_ids[(offset - PL061_ID_BASE) / 4];
                return true;
        }
        return false;
}

bool pl061_write(Pl061 *s, uint64_t offset, unsigned len, uint64_t value) {
        uint8_t v = (uint8_t) value;

        if (len != 4 && len != 1)
                return false;
        if (offset < PL061_DATA_END) {
                uint8_t mask = (uint8_t) ((offset >> 2) & 0xff);
                s->data_out = (uint8_t) ((s->data_out & ~mask) | (v & mask));
                update_level_interrupts(s);
                return true;
        }
        switch (offset) {
        case PL061_DIR: s->dir = v; break;
        case PL061_IS: s->is = v; break;
        case PL061_IBE: s->ibe = v; break;
        case PL061_IEV: s->iev = v; break;
        case PL061_IE: s->ie = v; break;
        case PL061_IC: s->ris = (uint8_t) (s->ris & ~v); break;
        case PL061_AFSEL: s->afsel = v; break;
        case PL061_RIS:
        case PL061_MIS:
                return true; /* read-only, writes ignored as the hardware does */
        default:
                return false;
        }
        update_level_interrupts(s);
        return true;
}

void pl061_set_input(Pl061 *s, unsigned line, bool level) {
        uint8_t bit = (uint8_t) (1u << (line & 7));
        uint8_t before = level_of(s);

        s->data_in = level ? (uint8_t) (s->data_in | bit) : (uint8_t) (s->data_in & ~bit);
        uint8_t after = level_of(s);

        if ((before ^ after) & bit & ~s->is) {
                bool rising = after & bit;
                if ((s->ibe & bit) || (rising == !!(s->iev & bit)))
                        s->ris |= bit;
        }
        update_level_interrupts(s);
}

bool pl061_irq_pending(const Pl061 *s) {
        return (s->ris & s->ie) != 0;
}
