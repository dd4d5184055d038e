/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives the VM's virtio-vsock device (the first "virtio,mmio" node with
 * DeviceID 19) with lib/virtio-vsock.c the way no Linux driver would, and
 * prints what came back, one "vsock: case=NAME key=value..." line per
 * case, for tests/integration/test_vsock_guest.py.
 *
 * Bootargs: port=P, the host's listener (<vmdir>/vsock_P, default 7000);
 * peer=C, a CID that is neither the host's nor this VM's (default 3);
 * flood=N, REQUESTs in the flood (default 300).
 *
 * First "vsock: init cid=N result=0", then connections to the host's port P
 * are tried every 0.1 s until one is answered ("vsock: case=connect
 * op=RESPONSE tries=T"; the host test creates the listener once the VM
 * runs). Each
 * case then sends one kind of bad input on a fresh local port and says
 * which packet came back for that port within a second (op=RST,
 * op=RESPONSE, op=none, ...):
 *   short-header        a 20-byte chain (no whole header)
 *   len-beyond-chain    a REQUEST whose header says 100 payload bytes, none sent
 *   unknown-op          op 99 to port P
 *   bad-type            a REQUEST of type 2 (SEQPACKET, not offered)
 *   other-cid           a REQUEST to CID peer
 *   spoofed-src         a REQUEST from a source CID other than this VM's
 *   rw-len-beyond-chain on an open connection, an RW whose header says
 *                       4096 bytes with 100 in the chain
 *   unknown-op-open     op 99 on an open connection
 *   credit-overflow     on an open connection the host does not read from
 *                       (its first bytes "hold"), buf_alloc + 1 MiB sent
 *                       without waiting for credit
 *   flood               N REQUESTs to port P+1 (nothing listens there) as
 *                       fast as the tx queue takes them: rsts=R responses=S
 * and at last a connection that must work: "ping" sent, "pong" expected
 * ("vsock: case=good-after ok=1"), "vsock: status=0x.." (no
 * DEVICE_NEEDS_RESET) and "vsock: done". */

#include "lib/virtio-vsock.h"

#define TRANSPORTS_MAX 32
#define REPLY_US 1000000u
#define CONNECT_TRIES 300
#define RETRY_US 100000u
#define LOCAL_PORT_BASE 40000u
#define OVERFLOW_EXTRA (1u << 20)
#define CHUNK 0x1000u
#define BAD_OP 99u

static vvsock dev;
static uint32_t host_port, next_port = LOCAL_PORT_BASE;
static uint8_t rx_payload[VVS_RX_BUF];

static void kv(const char *key, uint64_t v) {
        uart_putc(' ');
        uart_puts(key);
        uart_putc('=');
        uart_put_dec((int64_t) v);
}

static void kvs(const char *key, const char *v) {
        uart_putc(' ');
        uart_puts(key);
        uart_putc('=');
        uart_puts(v);
}

static const char *op_name(int op) {
        switch (op) {
        case -1: return "none";
        case VSOCK_OP_REQUEST: return "REQUEST";
        case VSOCK_OP_RESPONSE: return "RESPONSE";
        case VSOCK_OP_RST: return "RST";
        case VSOCK_OP_SHUTDOWN: return "SHUTDOWN";
        case VSOCK_OP_RW: return "RW";
        case VSOCK_OP_CREDIT_UPDATE: return "CREDIT_UPDATE";
        case VSOCK_OP_CREDIT_REQUEST: return "CREDIT_REQUEST";
        default: return "other";
        }
}

static void case_line(const char *name, int op) {
        uart_puts("vsock: case=");
        uart_puts(name);
        kvs("op", op_name(op));
}

/* A header from this VM's local port to the host's port. */
static vsock_hdr hdr(uint32_t local, uint32_t op) {
        return (vsock_hdr) { .src_cid = dev.cid, .dst_cid = VSOCK_HOST_CID, .src_port = local,
                             .dst_port = host_port, .type = VSOCK_TYPE_STREAM, .op = (uint16_t) op,
                             .buf_alloc = 64 * 1024 };
}

/* The op of the next packet addressed to local port `local` within timeout
 * (credit updates skipped unless wanted), -1 if none came. Others are dropped. */
static int reply_for(uint32_t local, uint64_t timeout_us, vsock_hdr *ret) {
        uint64_t deadline = vblk_now_us() + timeout_us;
        vsock_hdr h;

        while (vblk_now_us() < deadline) {
                if (vvsock_recv(&dev, &h, rx_payload, sizeof(rx_payload), deadline - vblk_now_us()) < 0)
                        break;
                if (h.dst_port != local || h.op == VSOCK_OP_CREDIT_UPDATE || h.op == VSOCK_OP_CREDIT_REQUEST)
                        continue;
                if (ret)
                        *ret = h;
                return h.op;
        }
        return -1;
}

/* A REQUEST to the host's port from a fresh local port: its RESPONSE's
 * header in *ret and the local port, or 0 when it was refused. */
static uint32_t open_conn(vsock_hdr *ret) {
        uint32_t local = next_port++;
        vsock_hdr h = hdr(local, VSOCK_OP_REQUEST);

        if (vvsock_send(&dev, &h, NULL, 0) < 0)
                return 0;
        return reply_for(local, REPLY_US, ret) == VSOCK_OP_RESPONSE ? local : 0;
}

static void close_conn(uint32_t local) {
        vsock_hdr h = hdr(local, VSOCK_OP_RST);

        (void) vvsock_send(&dev, &h, NULL, 0);
}

static void connect_first(void) {
        vsock_hdr resp;
        uint32_t local = 0;
        int tries = 0;

        while (!local && tries++ < CONNECT_TRIES) {
                local = open_conn(&resp);
                /* a reset comes back at once: give the host time to listen */
                for (uint64_t until = vblk_now_us() + RETRY_US; !local && vblk_now_us() < until;)
                        ;
        }
        case_line("connect", local ? (int) VSOCK_OP_RESPONSE : -1);
        kv("tries", (uint64_t) tries);
        if (local)
                kv("buf_alloc", resp.buf_alloc);
        uart_putc('\n');
        if (local)
                close_conn(local);
}

/* One packet on a fresh local port, its header h with fields as given,
 * chain_len bytes of it sent; the reply's op. */
static void bad_packet(const char *name, vsock_hdr h, uint32_t chain_len) {
        h.src_port = next_port++;
        vvsock_put_hdr(vvsock_tx_buf(&dev), &h);
        int r = vvsock_send_raw(&dev, chain_len);
        case_line(name, reply_for(h.src_port, REPLY_US, NULL));
        kv("sent", (uint64_t) (r == 0));
        uart_putc('\n');
}

static void fresh_port_cases(uint32_t peer) {
        vsock_hdr h = hdr(0, VSOCK_OP_REQUEST);

        bad_packet("short-header", h, 20);
        h.len = 100;
        bad_packet("len-beyond-chain", h, VSOCK_HDR_SIZE);
        h = hdr(0, BAD_OP);
        bad_packet("unknown-op", h, VSOCK_HDR_SIZE);
        h = hdr(0, VSOCK_OP_REQUEST);
        h.type = 2;
        bad_packet("bad-type", h, VSOCK_HDR_SIZE);
        h = hdr(0, VSOCK_OP_REQUEST);
        h.dst_cid = peer;
        bad_packet("other-cid", h, VSOCK_HDR_SIZE);
        h = hdr(0, VSOCK_OP_REQUEST);
        h.src_cid = dev.cid + 100;
        bad_packet("spoofed-src", h, VSOCK_HDR_SIZE);
}

/* A bad packet on an open connection: what came back for it. */
static void open_conn_case(const char *name, uint32_t op, uint32_t hdr_len, uint32_t chain_payload) {
        uint32_t local = open_conn(NULL);
        vsock_hdr h = hdr(local, op);

        h.len = hdr_len;
        vvsock_put_hdr(vvsock_tx_buf(&dev), &h);
        int r = local ? vvsock_send_raw(&dev, VSOCK_HDR_SIZE + chain_payload) : -1;
        case_line(name, local ? reply_for(local, REPLY_US, NULL) : -1);
        kv("connected", local != 0);
        kv("sent", (uint64_t) (r == 0));
        uart_putc('\n');
        close_conn(local);
}

static void credit_overflow(void) {
        vsock_hdr resp;
        uint32_t local = open_conn(&resp);
        uint64_t sent = 0, total = (uint64_t) resp.buf_alloc + OVERFLOW_EXTRA;
        static uint8_t chunk[CHUNK];
        int op = -1, r = 0;

        memcpy(chunk, "hold", 4);
        vsock_hdr h = hdr(local, VSOCK_OP_RW);
        while (local && sent < total && r == 0) {
                r = vvsock_send(&dev, &h, chunk, CHUNK);
                sent += CHUNK;
                memset(chunk, 0x5a, 4);
        }
        if (local)
                op = reply_for(local, REPLY_US, NULL);
        /* Only credit updates and what the RST answers may follow: look past RWs. */
        case_line("credit-overflow", op);
        kv("connected", local != 0);
        kv("buf_alloc", local ? resp.buf_alloc : 0);
        kv("sent", sent);
        kv("tx_ok", (uint64_t) (r == 0));
        uart_putc('\n');
        close_conn(local);
}

static void flood(uint32_t n) {
        uint32_t rsts = 0, responses = 0, first = next_port;
        vsock_hdr h = hdr(0, VSOCK_OP_REQUEST), got;
        int r = 0;

        h.dst_port = host_port + 1;
        for (uint32_t i = 0; i < n && r == 0; i++) {
                h.src_port = next_port++;
                r = vvsock_send(&dev, &h, NULL, 0);
                /* Take what came back meanwhile: the rx queue has only 16 buffers. */
                while (vvsock_recv(&dev, &got, rx_payload, sizeof(rx_payload), 0) >= 0)
                        if (got.dst_port >= first && got.dst_port < next_port)
                                rsts += got.op == VSOCK_OP_RST, responses += got.op == VSOCK_OP_RESPONSE;
        }
        while (vvsock_recv(&dev, &got, rx_payload, sizeof(rx_payload), REPLY_US) >= 0)
                if (got.dst_port >= first && got.dst_port < next_port)
                        rsts += got.op == VSOCK_OP_RST, responses += got.op == VSOCK_OP_RESPONSE;
        uart_puts("vsock: case=flood");
        kv("requests", n);
        kv("tx_ok", (uint64_t) (r == 0));
        kv("rsts", rsts);
        kv("responses", responses);
        uart_putc('\n');
}

static void good_after(void) {
        uint32_t local = open_conn(NULL);
        vsock_hdr h = hdr(local, VSOCK_OP_RW), got;
        bool ok = false;

        if (local && vvsock_send(&dev, &h, "ping", 4) == 0) {
                uint64_t deadline = vblk_now_us() + 5 * REPLY_US;
                while (!ok && vblk_now_us() < deadline) {
                        int n = vvsock_recv(&dev, &got, rx_payload, sizeof(rx_payload), deadline - vblk_now_us());
                        ok = n == 4 && got.dst_port == local && got.op == VSOCK_OP_RW && !memcmp(rx_payload, "pong", 4);
                }
        }
        uart_puts("vsock: case=good-after");
        kv("connected", local != 0);
        kv("ok", ok);
        uart_putc('\n');
        close_conn(local);
}

void guest_main(void) {
        uint64_t bases[TRANSPORTS_MAX];
        uint64_t dma = ((uint64_t) (uintptr_t) __image_end + 0xffff) & ~UINT64_C(0xffff);
        unsigned n = guest_dtb ? fdt_compatible_regs(guest_dtb, "virtio,mmio", bases, TRANSPORTS_MAX) : 0;
        unsigned i;

        for (i = 0; i < n && vvsock_probe(bases[i]) != 0; i++)
                ;
        if (i == n) {
                uart_puts("vsock: no virtio-vsock transport\nvsock: done\n");
                return;
        }
        host_port = (uint32_t) fdt_bootarg(guest_dtb, "port", 7000);
        int r = vvsock_init(&dev, bases[i], dma);
        uart_puts("vsock: init");
        kv("cid", dev.cid);
        kv("result", (uint64_t) -r);
        uart_putc('\n');
        if (r < 0)
                return;
        connect_first();
        fresh_port_cases((uint32_t) fdt_bootarg(guest_dtb, "peer", 3));
        open_conn_case("rw-len-beyond-chain", VSOCK_OP_RW, 4096, 100);
        open_conn_case("unknown-op-open", BAD_OP, 0, 0);
        credit_overflow();
        flood((uint32_t) fdt_bootarg(guest_dtb, "flood", 300));
        good_after();
        uart_puts("vsock: status=");
        uart_put_hex(vblk_r32(&dev.t, VIRTIO_MMIO_STATUS));
        uart_puts("\nvsock: done\n");
}
