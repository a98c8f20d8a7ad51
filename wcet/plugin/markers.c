/*
 * A QEMU TCG plugin that counts the guest instructions between two marker
 * instructions, exactly, and names the functions each measured stretch ran.
 *
 * The firmware brackets every measured call with `mov r10, r10` (start) and
 * `mov r11, r11` (stop): Thumb no-ops that no compiler emits. Every guest
 * instruction adds one to a counter (an inline op, before the instruction);
 * the markers' callbacks, which run after the inline op of their own
 * instruction, read it. So a stretch counts the start marker and everything
 * up to the stop marker, which it does not count; the plugin reports the
 * count less the start marker itself.
 *
 * For each stretch it prints one line to QEMU's log:
 *
 *     <instructions> <path> <share> <share> ...
 *
 * where <path> is the number of a path line printed before its first use,
 *
 *     path <n> <symbol> <symbol> ...
 *
 * listing, in the order first entered, the functions (ELF symbols) whose
 * code the stretch ran, and the shares split the instructions among them:
 * the first is those run before the first translation block entered (the
 * rest of the marker's block, in the caller), then one per symbol of the
 * path, in its order. A block's instructions go to the symbol of its first
 * instruction (a function's code is contiguous, and blocks end at every
 * branch), so the shares add up to the count exactly. The harness
 * (wcet/run.py) pairs these lines, in order, with the calls the firmware
 * reports over semihosting.
 *
 * Debian's qemu-system-arm (7.2) has plugin support but ships no
 * qemu-plugin.h, so the few API functions used here are declared below, as
 * that version (plugin API 1) defines them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, qemu_plugin_vcpu_tb_trans_cb_t);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *, qemu_plugin_vcpu_udata_cb_t,
                                          enum qemu_plugin_cb_flags, void *);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *, qemu_plugin_vcpu_udata_cb_t,
                                            enum qemu_plugin_cb_flags, void *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum qemu_plugin_op,
                                                void *, uint64_t);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *);
void qemu_plugin_outs(const char *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Thumb encodings of the markers. */
#define START 0x46d2 /* mov r10, r10 */
#define STOP 0x46db  /* mov r11, r11 */

/* Most functions one stretch may name; more are summed up as "...". */
#define PATH_LEN 12
/* Most distinct paths a run may have. */
#define PATHS 4096

static uint64_t executed;
static uint64_t started_at;
static bool measuring;

/* The stretch being measured: the symbols entered so far. */
static const char *current[PATH_LEN + 1];
static size_t current_len;

/*
 * Its instructions per symbol: `shares[0]` before the first block entered,
 * `shares[i + 1]` in `current[i]`'s blocks. `share` is where the block
 * running now counts, from `block_at` on.
 */
static uint64_t shares[PATH_LEN + 2];
static size_t share;
static uint64_t block_at;

/* Paths seen, by their symbols (the strings QEMU's symbol table owns). */
static const char *paths[PATHS][PATH_LEN + 1];
static size_t path_lens[PATHS];
static size_t path_count;

static void on_start(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (measuring) {
        qemu_plugin_outs("error: start marker inside a measured call\n");
    }
    measuring = true;
    started_at = executed;
    current_len = 0;
    memset(shares, 0, sizeof shares);
    share = 0;
    block_at = executed;
}

static size_t path_id(void)
{
    for (size_t p = 0; p < path_count; p++) {
        if (path_lens[p] == current_len &&
            memcmp(paths[p], current, current_len * sizeof current[0]) == 0) {
            return p;
        }
    }
    if (path_count == PATHS) {
        return PATHS; /* printed as an unnamed path */
    }
    size_t p = path_count++;
    memcpy(paths[p], current, current_len * sizeof current[0]);
    path_lens[p] = current_len;
    char line[64 + (PATH_LEN + 1) * 160];
    size_t at = (size_t)snprintf(line, 64, "path %zu", p);
    for (size_t i = 0; i < current_len && at < sizeof line - 2; i++) {
        at += (size_t)snprintf(line + at, sizeof line - at, " %s",
                               current[i] ? current[i] : "...");
    }
    snprintf(line + at, sizeof line - at, "\n");
    qemu_plugin_outs(line);
    return p;
}

static void on_stop(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!measuring) {
        qemu_plugin_outs("error: stop marker without a start\n");
        return;
    }
    measuring = false;
    /* `executed` counts the start marker and not this one. */
    uint64_t count = executed - started_at - 1;
    shares[share] += executed - 1 - block_at;
    char line[64 + (PATH_LEN + 2) * 24];
    size_t at = (size_t)snprintf(line, 64, "%llu %zu", (unsigned long long)count, path_id());
    for (size_t i = 0; i <= current_len; i++) {
        at += (size_t)snprintf(line + at, sizeof line - at, " %llu",
                               (unsigned long long)shares[i]);
    }
    snprintf(line + at, sizeof line - at, "\n");
    qemu_plugin_outs(line);
}

/* A translation block starts running: note its function in the path. */
static void on_block(unsigned int vcpu, void *symbol)
{
    (void)vcpu;
    if (!measuring) {
        return;
    }
    /*
     * The block's first instruction has counted already: QEMU runs a
     * block's callback after that instruction's inline op.
     */
    shares[share] += executed - 1 - block_at;
    block_at = executed - 1;
    const char *name = symbol;
    for (size_t i = 0; i < current_len; i++) {
        if (current[i] == name) {
            share = i + 1;
            return;
        }
    }
    if (current_len < PATH_LEN) {
        current[current_len++] = name;
    } else if (current_len == PATH_LEN) {
        current[current_len++] = NULL; /* "..." */
    }
    share = current_len;
}

/*
 * The instruction's first halfword. Near the end of a page QEMU's Thumb
 * decoder peeks at the next halfword and its bytes are appended to the
 * instruction's, so the size may be 4 for a 16-bit instruction; a 32-bit
 * instruction never starts with a marker's halfword (0x46xx is a 16-bit
 * encoding), so the first halfword alone decides.
 */
static uint16_t halfword(const struct qemu_plugin_insn *insn)
{
    if (qemu_plugin_insn_size(insn) < 2) {
        return 0;
    }
    uint16_t value;
    memcpy(&value, qemu_plugin_insn_data(insn), 2);
    return value;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    const char *symbol = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(symbol ? symbol : "?"));
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &executed, 1);
        switch (halfword(insn)) {
        case START:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
            break;
        case STOP:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS, NULL);
            break;
        }
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    return 0;
}
