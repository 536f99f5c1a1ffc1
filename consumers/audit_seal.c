/* Sealing one topic-partition (see audit_seal.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_files.h"
#include "audit_seal.h"
#include "hive_err.h"
#include "hive_log.h"

#define WBUF_LEAVES 4096
#define STATE_FORMAT "hivelog-sealer-state/1"

static int fail(char *err, size_t cap, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return rc;
}

static void b64(const hive_hash *h, char out[45]) {
    sodium_bin2base64(out, 45, h->b, HIVE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static int unb64(const char *s, hive_hash *h) {
    size_t n = 0;
    return !s || hive_b64_decode(s, strlen(s), h->b, sizeof h->b, &n) || n != HIVE_HASH_LEN ? -1 : 0;
}

static const char *jstr(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int64_t jint(const json_t *o, const char *k, int *bad) {
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) *bad = 1;
    return json_integer_value(v);
}

/* Loads sealer.state if present; *found = 0 when there is none. */
static int load_state(seal_part *p, int *found, char *err, size_t cap) {
    char path[PATH_MAX + 32];
    hive_buf buf = {0};
    snprintf(path, sizeof path, "%s/sealer.state", p->dir);
    *found = 0;
    int rc = audit_read_file(path, 1 << 20, &buf);
    if (rc == HIVE_ERR_NOT_FOUND) return 0;
    if (rc) return fail(err, cap, rc, "cannot read %s", path);
    json_error_t je;
    json_t *st = json_loadb(buf.data, buf.len, 0, &je);
    hive_buf_free(&buf);
    int bad = !st || strcmp(jstr(st, "format"), STATE_FORMAT) != 0;
    if (!bad && strcmp(jstr(st, "origin"), p->origin) != 0) {
        audit_fmt(err, cap, "%s was sealed under origin '%s', not '%s': use another directory for a new "
                 "log identity", p->dir, jstr(st, "origin"), p->origin);
        json_decref(st);
        return HIVE_ERR_CONFLICT;
    }
    hive_hash nodes[64];
    const json_t *fr = json_object_get(st, "frontier");
    size_t nf = json_array_size(fr);
    if (nf > 64) bad = 1;
    for (size_t i = 0; !bad && i < nf; i++) bad |= unb64(json_string_value(json_array_get(fr, i)), &nodes[i]);
    int64_t size = bad ? 0 : jint(st, "tree_size", &bad);
    if (!bad) {
        p->next_offset = jint(st, "next_offset", &bad);
        p->last_leaf_offset = jint(st, "last_leaf_offset", &bad);
        p->seq.next_seq = size;
        p->seq.last_offset = jint(st, "last_offset", &bad);
        p->seq.rewrite_next = jint(st, "rewrite_next", &bad);
        p->seq.rewrite_offset = jint(st, "rewrite_offset", &bad);
        p->seq.rewrite_seq = jint(st, "rewrite_seq", &bad);
        p->cp_last_offset = p->last_leaf_offset;
        bad |= size < 0 || hive_merkle_frontier_set(&p->frontier, (uint64_t)size, nodes, (int)nf) != 0;
        bad |= unb64(json_string_value(json_object_get(st, "checkpoint_root")), &p->cp_root);
    }
    json_decref(st);
    if (bad) return fail(err, cap, HIVE_ERR_INVALID, "%s/sealer.state is damaged", p->dir);
    hive_hash root;
    hive_merkle_frontier_root(&p->frontier, &root);
    if (memcmp(root.b, p->cp_root.b, HIVE_HASH_LEN) != 0)
        return fail(err, cap, HIVE_ERR_INVALID, "%s/sealer.state: frontier and checkpoint root disagree", p->dir);
    p->cp_size = (uint64_t)size;
    *found = 1;
    return 0;
}

/* Checkpoints on disk: the one at the resumed size must match it; larger
 * ones become promises. */
static int load_promises(seal_part *p, char *err, size_t cap) {
    uint64_t *sizes = NULL;
    int n = 0;
    if (audit_list_checkpoints(p->dir, &sizes, &n)) return fail(err, cap, HIVE_ERR_IO, "cannot list %s", p->dir);
    int rc = 0;
    hive_buf buf = {0};
    for (int i = 0; i < n && !rc; i++) {
        if (sizes[i] < p->cp_size || (sizes[i] == 0 && p->cp_size == 0)) continue;
        char path[PATH_MAX + 40], why[256];
        snprintf(path, sizeof path, "%s/%llu.checkpoint", p->dir, (unsigned long long)sizes[i]);
        size_t tl = 0;
        hive_checkpoint cp;
        if (audit_read_file(path, 1 << 20, &buf) ||
            hive_note_open(buf.data, buf.len, NULL, &tl, why, sizeof why) != HIVE_NOTE_NO_KNOWN_SIGNATURE ||
            hive_checkpoint_parse(buf.data, tl, &cp, why, sizeof why) || cp.size != sizes[i] ||
            strcmp(cp.origin, p->origin) != 0) {
            rc = fail(err, cap, HIVE_ERR_INVALID, "%s is not a checkpoint of this log", path);
            break;
        }
        if (sizes[i] == p->cp_size) {
            if (memcmp(cp.root.b, p->cp_root.b, HIVE_HASH_LEN) != 0)
                rc = fail(err, cap, HIVE_ERR_CONFLICT, "%s disagrees with the sealer state", path);
            continue;
        }
        seal_promise *np = realloc(p->promises, (size_t)(p->npromises + 1) * sizeof *np);
        if (!np) {
            rc = HIVE_ERR_NOMEM;
            break;
        }
        p->promises = np;
        p->promises[p->npromises].size = cp.size;
        p->promises[p->npromises].root = cp.root;
        p->npromises++;
    }
    hive_buf_free(&buf);
    free(sizes);
    return rc;
}

int seal_part_open(seal_part *p, const char *root, const char *topic, int partition,
                   const char *origin, char *err, size_t errcap) {
    memset(p, 0, sizeof *p);
    p->opened = 1;
    p->leaves_fd = -1;
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    snprintf(p->origin, sizeof p->origin, "%s", origin);
    audit_partition_dir(root, topic, partition, p->dir, sizeof p->dir);
    audit_seq_init(&p->seq);
    hive_merkle_frontier_init(&p->frontier);
    p->last_leaf_offset = p->cp_last_offset = -1;
    hive_merkle_empty_root(&p->cp_root);
    if (audit_mkdirs(p->dir)) return fail(err, errcap, HIVE_ERR_IO, "cannot create %s", p->dir);
    if (!(p->wbuf = malloc(WBUF_LEAVES * sizeof *p->wbuf))) return HIVE_ERR_NOMEM;
    int found, rc = load_state(p, &found, err, errcap);
    if (rc) return rc;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/leaves", p->dir);
    p->leaves_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (p->leaves_fd < 0 || fstat(p->leaves_fd, &st)) return fail(err, errcap, HIVE_ERR_IO, "cannot open %s", path);
    uint64_t want = p->cp_size * HIVE_HASH_LEN;
    if ((uint64_t)st.st_size < want) {
        /* The leaf hashes the state stands on are gone (deleted, or a copy of
         * the directory without them): start over from the log's first
         * record; every checkpoint on disk becomes a promise to meet. */
        hive_warn("the leaves file is shorter than the sealed tree; rebuilding the partition from the log",
                  "\"topic\":\"%s\",\"partition\":%d,\"tree_size\":%llu", topic, partition,
                  (unsigned long long)p->cp_size);
        audit_seq_init(&p->seq);
        hive_merkle_frontier_init(&p->frontier);
        hive_merkle_empty_root(&p->cp_root);
        p->cp_size = 0;
        p->next_offset = 0;
        p->last_leaf_offset = p->cp_last_offset = -1;
        want = 0;
    }
    if ((rc = load_promises(p, err, errcap))) return rc;
    /* Hashes beyond the state were written after it was saved: recomputed. */
    if (ftruncate(p->leaves_fd, (off_t)want) || lseek(p->leaves_fd, (off_t)want, SEEK_SET) < 0)
        return fail(err, errcap, HIVE_ERR_IO, "cannot truncate %s", path);
    p->leaves_flushed = p->cp_size;
    if (p->npromises)
        hive_warn("resuming behind checkpoints signed before a crash; they must be met again",
                  "\"topic\":\"%s\",\"partition\":%d,\"from\":%llu,\"promises\":%d", topic, partition,
                  (unsigned long long)p->cp_size, p->npromises);
    return 0;
}

void seal_part_close(seal_part *p) {
    if (!p->opened) return;
    p->opened = 0;
    if (p->leaves_fd >= 0) close(p->leaves_fd);
    free(p->wbuf);
    free(p->promises);
    hive_buf_free(&p->state);
    p->leaves_fd = -1;
    p->wbuf = NULL;
    p->promises = NULL;
}

static int flush_leaves(seal_part *p) {
    const char *d = (const char *)p->wbuf;
    size_t left = (size_t)p->wlen * HIVE_HASH_LEN;
    while (left) {
        ssize_t n = write(p->leaves_fd, d, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return HIVE_ERR_IO;
        d += n;
        left -= (size_t)n;
    }
    p->leaves_flushed += (uint64_t)p->wlen;
    p->wlen = 0;
    return 0;
}

static int leaf_at(void *ctx, int64_t index, hive_hash *out) {
    seal_part *p = ctx;
    if ((uint64_t)index >= p->leaves_flushed) {
        uint64_t i = (uint64_t)index - p->leaves_flushed;
        if (i >= (uint64_t)p->wlen) return -1;
        *out = p->wbuf[i];
        return 0;
    }
    return pread(p->leaves_fd, out->b, HIVE_HASH_LEN, (off_t)index * HIVE_HASH_LEN) == HIVE_HASH_LEN ? 0 : -1;
}

int seal_part_halt(seal_part *p, const char *why) {
    p->halted = 1;
    snprintf(p->halt_reason, sizeof p->halt_reason, "%s", why);
    char esc[1100];
    hive_log_escape(esc, sizeof esc, why);
    hive_error("partition halted: nothing more is sealed until an operator looks",
               "\"topic\":\"%s\",\"partition\":%d,\"reason\":\"%s\"", p->topic, p->partition, esc);
    return HIVE_ERR_CONFLICT;
}

static int snapshot(seal_part *p);

/* The tree just reached a promised size: it must have the promised root.
 * It then counts as signed: the state is saved from it, and the sealer
 * publishes it again (it may have been written but never published). */
static int meet_promise(seal_part *p) {
    seal_promise *pr = &p->promises[p->next_promise];
    hive_hash root;
    hive_merkle_frontier_root(&p->frontier, &root);
    if (memcmp(root.b, pr->root.b, HIVE_HASH_LEN) != 0) {
        char why[256];
        audit_fmt(why, sizeof why, "the log's first %llu events no longer have the root of checkpoint "
                 "%llu.checkpoint signed earlier", (unsigned long long)pr->size, (unsigned long long)pr->size);
        return seal_part_halt(p, why);
    }
    p->next_promise++;
    p->cp_size = pr->size;
    p->cp_root = pr->root;
    p->cp_last_offset = p->last_leaf_offset;
    p->met_promise = pr->size;
    /* Like a checkpoint: the state saved from here stands on these leaves. */
    if (flush_leaves(p) || fsync(p->leaves_fd)) return seal_part_halt(p, "cannot write the leaves file");
    if (snapshot(p)) return seal_part_halt(p, "out of memory");
    if (p->next_promise == p->npromises) {
        hive_info("caught up with the checkpoints signed before a crash", "\"topic\":\"%s\",\"partition\":%d,"
                  "\"tree_size\":%llu", p->topic, p->partition, (unsigned long long)p->cp_size);
        p->first_unsealed_ms = 0;
    }
    return 0;
}

int seal_part_record(seal_part *p, hive_evmeta_reader *meta, int64_t offset, const void *value,
                     size_t len, int64_t now_ms) {
    if (p->halted) return HIVE_ERR_CONFLICT;
    if (offset < p->next_offset) return 0; /* already taken */
    hive_evmeta m;
    char why[300];
    if (!value || hive_evmeta_read(meta, value, len, &m, NULL, 0)) {
        if (audit_seq_foreign(&p->seq, offset) != AUDIT_LEAF) {
            audit_seq_describe(&p->seq, AUDIT_ERR_OFFSET, offset, -1, why, sizeof why);
            return seal_part_halt(p, why);
        }
        p->foreign++;
        p->next_offset = offset + 1;
        return 0;
    }
    hive_hash leaf;
    hive_merkle_leaf_hash(value, len, &leaf);
    int64_t index;
    audit_step st = audit_seq_event(&p->seq, offset, m.seq, &leaf, leaf_at, p, &index);
    if (st != AUDIT_LEAF && st != AUDIT_DUPLICATE) {
        audit_seq_describe(&p->seq, st, offset, m.seq, why, sizeof why);
        return seal_part_halt(p, why);
    }
    p->next_offset = offset + 1;
    if (st == AUDIT_DUPLICATE) {
        p->duplicates++;
        return 0;
    }
    if (p->wlen == WBUF_LEAVES && flush_leaves(p)) return seal_part_halt(p, "cannot write the leaves file");
    p->wbuf[p->wlen++] = leaf;
    hive_merkle_frontier_append(&p->frontier, &leaf);
    p->last_leaf_offset = offset;
    p->events++;
    if (!p->first_unsealed_ms) p->first_unsealed_ms = now_ms ? now_ms : 1;
    if (p->next_promise < p->npromises && p->frontier.size == p->promises[p->next_promise].size)
        return meet_promise(p);
    return 0;
}

int seal_part_due(const seal_part *p, long every, int64_t interval_ms, int64_t now_ms) {
    if (p->halted || p->next_promise < p->npromises || p->frontier.size <= p->cp_size) return 0;
    return p->frontier.size - p->cp_size >= (uint64_t)every || now_ms - p->first_unsealed_ms >= interval_ms;
}

int seal_part_checkpoint(seal_part *p, const hive_note_signer *key, hive_buf *note, int64_t now_ms) {
    if (p->halted || p->next_promise < p->npromises || p->frontier.size <= p->cp_size) return HIVE_ERR_NOT_FOUND;
    if (flush_leaves(p) || fsync(p->leaves_fd)) return HIVE_ERR_IO;
    hive_hash root;
    hive_merkle_frontier_root(&p->frontier, &root);
    hive_buf text = {0};
    int rc = hive_checkpoint_format(p->origin, p->frontier.size, &root, &text);
    if (!rc) rc = hive_note_sign(key, text.data, text.len, note);
    hive_buf_free(&text);
    if (rc) return rc;
    char path[PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/%llu.checkpoint", p->dir, (unsigned long long)p->frontier.size);
    if (audit_write_atomic(path, note->data, note->len, 0644)) return HIVE_ERR_IO;
    p->cp_size = p->frontier.size;
    p->cp_root = root;
    p->cp_last_offset = p->last_leaf_offset;
    p->cp_mono_ms = now_ms;
    p->first_unsealed_ms = 0;
    return snapshot(p);
}

/* The resume state as of now (called right after a checkpoint). */
static int snapshot(seal_part *p) {
    json_t *st = json_object(), *fr = json_array();
    char h[45];
    for (int i = 0; i < p->frontier.count; i++) {
        b64(&p->frontier.nodes[i], h);
        json_array_append_new(fr, json_string(h));
    }
    b64(&p->cp_root, h);
    json_object_set_new(st, "format", json_string(STATE_FORMAT));
    json_object_set_new(st, "topic", json_string(p->topic));
    json_object_set_new(st, "partition", json_integer(p->partition));
    json_object_set_new(st, "origin", json_string(p->origin));
    json_object_set_new(st, "next_offset", json_integer(p->next_offset));
    json_object_set_new(st, "tree_size", json_integer((json_int_t)p->frontier.size));
    json_object_set_new(st, "frontier", fr);
    json_object_set_new(st, "checkpoint_root", json_string(h));
    json_object_set_new(st, "last_leaf_offset", json_integer(p->last_leaf_offset));
    json_object_set_new(st, "last_offset", json_integer(p->seq.last_offset));
    json_object_set_new(st, "rewrite_next", json_integer(p->seq.rewrite_next));
    json_object_set_new(st, "rewrite_offset", json_integer(p->seq.rewrite_offset));
    json_object_set_new(st, "rewrite_seq", json_integer(p->seq.rewrite_seq));
    char *text = json_dumps(st, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(st);
    if (!text) return HIVE_ERR_NOMEM;
    size_t n = strlen(text);
    int rc = hive_buf_reserve(&p->state, n + 1);
    if (!rc) {
        memcpy(p->state.data, text, n + 1);
        p->state.len = n;
    }
    free(text);
    return rc;
}

int seal_part_save(seal_part *p) {
    if (!p->state.len) return 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sealer.state", p->dir);
    int rc = audit_write_atomic(path, p->state.data, p->state.len, 0644);
    if (!rc) p->state.len = 0;
    return rc;
}
