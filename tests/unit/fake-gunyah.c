/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-gunyah.h"
#include "hv.h"

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

#define N_ELEMENTS(x) (sizeof(x) / sizeof((x)[0]))
#define MAX_OBJS 64
#define MAX_VMS 8
#define MAX_REGIONS 16
#define MAX_EXITS 16
#define MAX_FORCED 8

typedef struct FakeObj {
        FakeGunyahKind kind;
        int ref_fd; /* the fake's own reference, keeps the inode alive */
        dev_t dev;
        ino_t ino;
        int vm;                  /* VM and vCPU objects */
        uint32_t vcpu_id;        /* vCPU objects */
        struct gunyah_vcpu_run *run; /* vCPU objects: the fake's view of the run block */
        GhRulesGuestMem mem;     /* guest memory objects */
} FakeObj;

typedef struct FakeRegion {
        struct gunyah_userspace_memory_region r;
        int lent;
} FakeRegion;

typedef struct FakeVm {
        GhRulesVm rules;
        FakeRegion regions[MAX_REGIONS];
        size_t n_regions;
} FakeVm;

typedef struct QueuedExit {
        uint32_t vcpu_id;
        struct gunyah_vcpu_run exit;
} QueuedExit;

static struct {
        FakeGunyahMode mode;
        char path[64];
        FakeObj objs[MAX_OBJS];
        size_t n_objs;
        FakeVm vms[MAX_VMS];
        int n_vms;
        FakeGunyahCall calls[FAKE_GUNYAH_MAX_CALLS];
        size_t n_calls;
        QueuedExit exits[MAX_EXITS];
        size_t n_exits;
        struct {
                uint32_t request;
                int error;
                unsigned count; /* calls left to fail, 0 = every call */
        } forced[MAX_FORCED];
        uint64_t refused_mem_flags;
} fake;

static const struct {
        uint32_t request;
        const char *name;
} request_names[] = {
        { GUNYAH_CREATE_VM, "CREATE_VM" },
        { GUNYAH_CREATE_GUEST_MEM, "CREATE_GUEST_MEM" },
        { GH_ANDROID_TENTATIVE_UAPI, "ANDROID_TENTATIVE_UAPI" },
        { GH_VM_SET_USER_MEM_REGION, "SET_USER_MEM_REGION" },
        { GUNYAH_VM_SET_DTB_CONFIG, "SET_DTB_CONFIG" },
        { GUNYAH_VM_START, "VM_START" },
        { GUNYAH_VM_ADD_FUNCTION, "ADD_FUNCTION" },
        { GUNYAH_VM_REMOVE_FUNCTION, "REMOVE_FUNCTION" },
        { GUNYAH_VM_MAP_MEM, "MAP_MEM" },
        { GUNYAH_VM_SET_BOOT_CONTEXT, "SET_BOOT_CONTEXT" },
        { GH_VM_ANDROID_LEND_USER_MEM, "ANDROID_LEND_USER_MEM" },
        { GH_VM_ANDROID_SET_FW_CONFIG, "ANDROID_SET_FW_CONFIG" },
        { GUNYAH_VCPU_RUN, "VCPU_RUN" },
        { GUNYAH_VCPU_MMAP_SIZE, "VCPU_MMAP_SIZE" },
        { GH_VENDOR_CREATE_VM, "VENDOR_CREATE_VM" },
};

const char *fake_gunyah_request_name(uint32_t request) {
        for (size_t i = 0; i < N_ELEMENTS(request_names); i++)
                if (request_names[i].request == request)
                        return request_names[i].name;
        return "unknown";
}

/* ---- objects ---- */

static FakeObj *obj_new(FakeGunyahKind kind, uint64_t size) {
        FakeObj *o;
        struct stat st;
        int fd;

        if (fake.n_objs >= MAX_OBJS)
                return NULL;
        fd = memfd_create("fake-gunyah", MFD_CLOEXEC);
        if (fd < 0)
                return NULL;
        if (ftruncate(fd, (off_t) size) < 0 || fstat(fd, &st) < 0) {
                close(fd);
                return NULL;
        }
        o = &fake.objs[fake.n_objs++];
        *o = (FakeObj) { .kind = kind, .ref_fd = fd, .dev = st.st_dev, .ino = st.st_ino, .vm = -1 };
        return o;
}

static FakeObj *obj_lookup(int fd) {
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return NULL;
        for (size_t i = 0; i < fake.n_objs; i++)
                if (fake.objs[i].dev == st.st_dev && fake.objs[i].ino == st.st_ino)
                        return &fake.objs[i];
        return NULL;
}

/* A new fd for o, as the kernel's anon-inode fds: O_CLOEXEC unless told not. */
static int obj_fd(const FakeObj *o, bool cloexec) {
        int fd = fcntl(o->ref_fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
        return fd < 0 ? -errno : fd;
}

const char *fake_gunyah_setup(FakeGunyahMode mode) {
        FakeObj *dev;

        fake_gunyah_teardown();
        fake.mode = mode;
        if (mode == FAKE_GUNYAH_MISSING) {
                snprintf(fake.path, sizeof(fake.path), "/nonexistent-fake-gunyah/gunyah");
                return fake.path;
        }
        dev = obj_new(FAKE_GUNYAH_KIND_DEVICE, 0);
        if (!dev)
                return NULL;
        snprintf(fake.path, sizeof(fake.path), "/proc/self/fd/%d", dev->ref_fd);
        return fake.path;
}

void fake_gunyah_teardown(void) {
        for (size_t i = 0; i < fake.n_objs; i++) {
                if (fake.objs[i].run)
                        munmap(fake.objs[i].run, FAKE_GUNYAH_PAGE_SIZE);
                close(fake.objs[i].ref_fd);
        }
        memset(&fake, 0, sizeof(fake));
}

void fake_gunyah_force_errno_n(uint32_t request, int error, unsigned count) {
        for (size_t i = 0; i < MAX_FORCED; i++)
                if (fake.forced[i].request == request || fake.forced[i].error == 0) {
                        fake.forced[i].request = request;
                        fake.forced[i].error = error;
                        fake.forced[i].count = count;
                        return;
                }
}

void fake_gunyah_force_errno(uint32_t request, int error) {
        fake_gunyah_force_errno_n(request, error, 0);
}

static int forced_errno(uint32_t request) {
        for (size_t i = 0; i < MAX_FORCED; i++) {
                int error = fake.forced[i].error;

                if (!error || fake.forced[i].request != request)
                        continue;
                if (fake.forced[i].count > 0 && --fake.forced[i].count == 0)
                        fake.forced[i].error = 0; /* that was the last one */
                return -error;
        }
        return 0;
}

void fake_gunyah_refuse_guest_mem_flags(uint64_t flags) {
        fake.refused_mem_flags = flags;
}

void fake_gunyah_queue_exit(uint32_t vcpu_id, const struct gunyah_vcpu_run *exit) {
        if (fake.n_exits < MAX_EXITS)
                fake.exits[fake.n_exits++] = (QueuedExit) { vcpu_id, *exit };
}

size_t fake_gunyah_n_calls(void) {
        return fake.n_calls;
}

const FakeGunyahCall *fake_gunyah_call(size_t i) {
        return i < fake.n_calls ? &fake.calls[i] : NULL;
}

const FakeGunyahCall *fake_gunyah_find_call(uint32_t request, size_t n) {
        for (size_t i = 0; i < fake.n_calls; i++)
                if (fake.calls[i].request == request && n-- == 0)
                        return &fake.calls[i];
        return NULL;
}

size_t fake_gunyah_n_objects(void) {
        return fake.n_objs;
}

int fake_gunyah_n_vms(void) {
        return fake.n_vms;
}

const GhRulesVm *fake_gunyah_vm_rules(int vm) {
        return vm >= 0 && vm < fake.n_vms ? &fake.vms[vm].rules : NULL;
}

size_t fake_gunyah_a14_n_regions(int vm) {
        return vm >= 0 && vm < fake.n_vms ? fake.vms[vm].n_regions : 0;
}

const struct gunyah_userspace_memory_region *fake_gunyah_a14_region(int vm, size_t j, int *ret_lent) {
        if (vm < 0 || vm >= fake.n_vms || j >= fake.vms[vm].n_regions)
                return NULL;
        if (ret_lent)
                *ret_lent = fake.vms[vm].regions[j].lent;
        return &fake.vms[vm].regions[j].r;
}

static bool mode_is_u17(void) {
        return fake.mode == FAKE_GUNYAH_U17;
}

static bool mode_has_user_mem(void) {
        return fake.mode == FAKE_GUNYAH_A14 || fake.mode == FAKE_GUNYAH_A14_OLD || fake.mode == FAKE_GUNYAH_A15;
}

/* ---- /dev/gunyah ---- */

static int dev_create_vm(unsigned long arg, bool vendor) {
        FakeObj *o;

        if (arg != 0)
                return -EINVAL;
        if (fake.n_vms >= MAX_VMS)
                return -ENOMEM;
        o = obj_new(FAKE_GUNYAH_KIND_VM, 0);
        if (!o)
                return -ENOMEM;
        o->vm = fake.n_vms++;
        gh_rules_vm_init(&fake.vms[o->vm].rules, FAKE_GUNYAH_PAGE_SIZE);
        return obj_fd(o, true);
}

static int dev_create_guest_mem(const struct gunyah_create_mem_args *a) {
        FakeObj *o;
        int r;

        if (a->flags & fake.refused_mem_flags)
                return -EINVAL; /* a kernel that does not know the flag */
        r = gh_rules_create_guest_mem(a, FAKE_GUNYAH_PAGE_SIZE);
        if (r < 0)
                return r;
        o = obj_new(FAKE_GUNYAH_KIND_GUEST_MEM, a->size);
        if (!o)
                return -ENOMEM;
        o->mem = (GhRulesGuestMem) { .id = (uint64_t) o->ino, .size = a->size, .flags = a->flags };
        return obj_fd(o, a->flags & GHMF_CLOEXEC);
}

static int dev_ioctl(uint32_t request, unsigned long int_arg, const void *arg) {
        bool vendor = fake.mode == FAKE_GUNYAH_VENDOR;

        switch (request) {
        case GUNYAH_CREATE_VM:
                /* the vendor driver rejects 'G' ioctls ("Invalid gunyah dev ioctl") */
                return vendor ? -EINVAL : dev_create_vm(int_arg, false);
        case GH_VENDOR_CREATE_VM:
                return vendor ? dev_create_vm(int_arg, true) : -ENOTTY;
        case GUNYAH_CREATE_GUEST_MEM:
                return mode_is_u17() ? dev_create_guest_mem(arg) : -ENOTTY;
        case GH_ANDROID_TENTATIVE_UAPI:
                return fake.mode == FAKE_GUNYAH_A14 ? 0 : -ENOTTY;
        default:
                return -ENOTTY;
        }
}

/* ---- VM fd ---- */

/* Whether any mapping of this process shows [offset, +size) of the memfd
 * whose inode is mem_id: the kernel's "lent pages still mapped by the host". */
static bool host_mapped(void *userdata, uint64_t mem_id, uint64_t offset, uint64_t size) {
        char line[512];
        FILE *f;
        bool found = false;
        f = fopen("/proc/self/maps", "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned long start, end;
                unsigned long long off, ino;
                if (sscanf(line, "%lx-%lx %*s %llx %*s %llu", &start, &end, &off, &ino) != 4)
                        continue;
                if (ino == mem_id && off < offset + size && offset < off + (end - start))
                        found = true;
        }
        fclose(f);
        return found;
}

static int u17_map_mem(FakeVm *vm, const struct gunyah_map_mem_args *a) {
        FakeObj *mem = obj_lookup((int) a->guest_mem_fd);

        if (mem && mem->kind != FAKE_GUNYAH_KIND_GUEST_MEM)
                mem = NULL;
        return gh_rules_map_mem(&vm->rules, a, mem ? &mem->mem : NULL);
}

/* A14 SET_USER_MEM_REGION / LEND (spec §4.1). */
static int a14_user_mem(FakeVm *vm, const struct gunyah_userspace_memory_region *r, int lent) {
        const uint64_t page = FAKE_GUNYAH_PAGE_SIZE;

        if (r->flags & ~GH_MEM_ALLOW_RWX)
                return -EINVAL;
        if (r->memory_size == 0 || r->memory_size % page || r->userspace_addr % page || r->guest_phys_addr % page)
                return -EINVAL;
        if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr)
                return -EOVERFLOW;
        for (size_t i = 0; i < vm->n_regions; i++) {
                const struct gunyah_userspace_memory_region *o = &vm->regions[i].r;
                if (fake.mode != FAKE_GUNYAH_A15 && o->label == r->label)
                        return -EEXIST;
                if (o->guest_phys_addr < r->guest_phys_addr + r->memory_size &&
                    r->guest_phys_addr < o->guest_phys_addr + o->memory_size)
                        return -EEXIST;
        }
        if (vm->n_regions >= MAX_REGIONS)
                return -ENOMEM;
        vm->regions[vm->n_regions++] = (FakeRegion) { *r, lent };
        return 0;
}

static int a14_start(FakeVm *vm) {
        GhRulesVm *rv = &vm->rules;

        if (rv->state == GH_RULES_VM_RUNNING)
                return 0;
        if (rv->state == GH_RULES_VM_FAILED)
                return -ENODEV;
        for (size_t i = 0; rv->dtb_set && i < vm->n_regions; i++) {
                const struct gunyah_userspace_memory_region *o = &vm->regions[i].r;
                if (rv->dtb_guest_addr >= o->guest_phys_addr &&
                    rv->dtb_guest_addr + rv->dtb_size <= o->guest_phys_addr + o->memory_size) {
                        rv->state = GH_RULES_VM_RUNNING;
                        return 0;
                }
        }
        rv->state = GH_RULES_VM_FAILED; /* the whole DTB must lie in one region */
        return -EINVAL;
}

static int vm_function(FakeVm *vm, int vm_index, uint32_t request, const struct gunyah_fn_desc *d,
                       FakeGunyahCall *call) {
        FakeObj *o;
        int r;

        if (d->arg_size > GUNYAH_FN_MAX_ARG_SIZE)
                return -EINVAL;
        if (d->arg_size > 0) {
                if (!d->arg)
                        return -EFAULT;
                memcpy(call->fn_arg, (const void *) (uintptr_t) d->arg, d->arg_size);
                call->fn_arg_size = d->arg_size;
        }

        if (request == GUNYAH_VM_REMOVE_FUNCTION) {
                r = gh_rules_remove_function(&vm->rules, d, call->fn_arg);
                /* the android14 build removes by memcmp and returns 0 even if nothing matched */
                return r == -ENOENT && !mode_is_u17() ? 0 : r;
        }

        /* The kernel's order: arguments, then eventfd_ctx_fdget() of an
         * irqfd's or ioeventfd's fd (as the simulator), then its tables. */
        r = gh_rules_check_function(d, call->fn_arg);
        if (r < 0)
                return r;
        if (d->type == GUNYAH_FN_IRQFD)
                r = hv_check_eventfd((int) ((const struct gunyah_fn_irqfd_arg *) call->fn_arg)->fd);
        else if (d->type == GUNYAH_FN_IOEVENTFD)
                r = hv_check_eventfd(((const struct gunyah_fn_ioeventfd_arg *) call->fn_arg)->fd);
        if (r < 0)
                return r;
        r = gh_rules_add_function(&vm->rules, d, call->fn_arg);
        if (r < 0 || d->type != GUNYAH_FN_VCPU)
                return r;

        o = obj_new(FAKE_GUNYAH_KIND_VCPU, FAKE_GUNYAH_PAGE_SIZE);
        if (!o)
                return -ENOMEM;
        o->vm = vm_index;
        memcpy(&o->vcpu_id, call->fn_arg, sizeof(o->vcpu_id));
        o->run = mmap(NULL, FAKE_GUNYAH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, o->ref_fd, 0);
        if (o->run == MAP_FAILED) {
                o->run = NULL;
                return -ENOMEM;
        }
        return obj_fd(o, true);
}

static int vm_ioctl(int vm_index, uint32_t request, unsigned long int_arg, const void *arg, FakeGunyahCall *call) {
        FakeVm *vm = &fake.vms[vm_index];
        const struct gunyah_vm_boot_context *ctx = arg;

        if (fake.mode == FAKE_GUNYAH_VENDOR)
                return -ENOTTY;

        switch (request) {
        case GUNYAH_VM_MAP_MEM:
                return mode_is_u17() ? u17_map_mem(vm, arg) : -ENOTTY;
        case GH_VM_SET_USER_MEM_REGION:
        case GH_VM_ANDROID_LEND_USER_MEM:
                return mode_has_user_mem() ? a14_user_mem(vm, arg, request == GH_VM_ANDROID_LEND_USER_MEM) : -ENOTTY;
        case GUNYAH_VM_SET_BOOT_CONTEXT:
                if (!mode_is_u17() && fake.mode != FAKE_GUNYAH_A15)
                        return -ENOTTY;
                if (fake.mode == FAKE_GUNYAH_A15 && ctx->reg > 0xffffu)
                        return -EINVAL;
                return gh_rules_set_boot_context(&vm->rules, ctx);
        case GUNYAH_VM_SET_DTB_CONFIG:
                return gh_rules_set_dtb_config(&vm->rules, arg);
        case GUNYAH_VM_ADD_FUNCTION:
        case GUNYAH_VM_REMOVE_FUNCTION:
                return vm_function(vm, vm_index, request, arg, call);
        case GUNYAH_VM_START:
                return mode_is_u17() ? gh_rules_start(&vm->rules, host_mapped, NULL) : a14_start(vm);
        default:
                return -ENOTTY;
        }
}

/* ---- vCPU fd ---- */

static int vcpu_run(FakeObj *o) {
        int r;

        r = gh_rules_vcpu_run(&fake.vms[o->vm].rules, o->vcpu_id);
        if (r < 0)
                return r;
        if (__atomic_load_n(&o->run->immediate_exit, __ATOMIC_SEQ_CST))
                return -EINTR;
        for (size_t i = 0; i < fake.n_exits; i++) {
                if (fake.exits[i].vcpu_id != o->vcpu_id)
                        continue;
                /* the kernel owns everything after immediate_exit and its padding */
                memcpy((uint8_t *) o->run + 8, (const uint8_t *) &fake.exits[i].exit + 8,
                       sizeof(struct gunyah_vcpu_run) - 8);
                memmove(&fake.exits[i], &fake.exits[i + 1], (fake.n_exits - i - 1) * sizeof(fake.exits[0]));
                fake.n_exits--;
                return 0;
        }
        return -EIO;
}

static int vcpu_ioctl(FakeObj *o, uint32_t request) {
        switch (request) {
        case GUNYAH_VCPU_MMAP_SIZE:
                return FAKE_GUNYAH_PAGE_SIZE;
        case GUNYAH_VCPU_RUN:
                return vcpu_run(o);
        default:
                /* A14's gh_vcpu_ioctl default is EINVAL; U17/A15 ENOTTY */
                return mode_is_u17() || fake.mode == FAKE_GUNYAH_A15 ? -ENOTTY : -EINVAL;
        }
}

/* ---- the wrapper ---- */

int __wrap_ioctl(int fd, unsigned long request, ...) {
        FakeGunyahCall *call, scratch;
        unsigned long int_arg;
        uint32_t req = (uint32_t) request, dir = req >> 30, size = (req >> 16) & 0x3fffu;
        const void *arg;
        FakeObj *o;
        va_list ap;
        int r;

        va_start(ap, request);
        int_arg = va_arg(ap, unsigned long);
        va_end(ap);
        arg = (const void *) (uintptr_t) int_arg;

        o = obj_lookup(fd);
        if (!o)
                return __real_ioctl(fd, request, int_arg);

        call = fake.n_calls < FAKE_GUNYAH_MAX_CALLS ? &fake.calls[fake.n_calls++] : &scratch;
        *call = (FakeGunyahCall) { .kind = o->kind, .vm = o->vm, .request = req, .int_arg = int_arg };

        /* copy_from_user of _IOC_SIZE bytes, as the kernel does */
        if (dir == 1 && size > 0) {
                if (!arg || size > sizeof(call->arg)) {
                        call->result = -EFAULT;
                        goto out;
                }
                memcpy(call->arg, arg, size);
                call->arg_size = size;
                arg = call->arg;
        }

        r = forced_errno(req);
        if (r < 0)
                call->result = r;
        else if (o->kind == FAKE_GUNYAH_KIND_DEVICE)
                call->result = dev_ioctl(req, int_arg, arg);
        else if (o->kind == FAKE_GUNYAH_KIND_VM)
                call->result = vm_ioctl(o->vm, req, int_arg, arg, call);
        else if (o->kind == FAKE_GUNYAH_KIND_VCPU)
                call->result = vcpu_ioctl(o, req);
        else
                call->result = -ENOTTY; /* guest_memfd has no ioctls */
out:
        if (call->result < 0) {
                errno = -call->result;
                return -1;
        }
        return call->result;
}
