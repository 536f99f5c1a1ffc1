/* The per-partition verifier (see audit_verify.h). The hot path per event:
 * one meta read straight from the bytes, one leaf hash, one tree append
 * (one node hash amortized), one aggregate-table probe; no allocation but
 * the geometric growth of the tree, position and aggregate arrays. */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_files.h"
#include "audit_seq.h"
#include "audit_verify.h"
#include "hive_checkpoint.h"
#include "hive_err.h"

typedef struct {
    uint64_t size;
    hive_hash root;
    char file[PATH_MAX];
} valid_cp;

typedef struct {
    verify_part *vp;
    const hive_note_verifier *key;
    hive_evmeta_reader *meta;
    const uint8_t *sipkey;
    audit_dump_reader dump;
    hive_merkle_tree *tree;
    uint64_t *pos;            /* file position of each leaf's record */
    uint64_t pos_cap;
    valid_cp *cps;
    int ncps, next_cp, last_good;
    verify_agg *tab;          /* open addressing, key 0 = empty */
    uint64_t tab_cap, tab_used;
    const uint8_t *leaves;    /* the sealer's leaves file, mapped; NULL if absent */
    size_t leaves_len;
    int leaves_loaded;
    uint64_t leaves_auth;     /* prefix of the leaves file the signed roots authenticate */
    uint64_t progress_pending;
    uint64_t *progress;
} vctx;

verify_failure *verify_fail(verify_part *vp, const char *kind, int64_t offset, int64_t seq) {
    if (vp->nfailures == VERIFY_MAX_FAILURES) {
        vp->more_failures++;
        return NULL;
    }
    verify_failure *f = &vp->failures[vp->nfailures++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->offset = offset;
    f->seq = seq;
    return f;
}

static void warn(verify_part *vp, const char *msg) {
    if (vp->nwarnings < 4) audit_fmt(vp->warnings[vp->nwarnings++], sizeof vp->warnings[0], "%s", msg);
}

/* A printable copy of a meta string (it came from untrusted bytes). */
static void copy_id(char *out, size_t cap, const hive_evmeta_str *s) {
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s->p[i];
        out[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    out[n] = '\0';
}

static int same(const hive_hash *a, const void *b) { return memcmp(a->b, b, HIVE_HASH_LEN) == 0; }

/* ------------------------------------------------------------ checkpoints */

static void load_checkpoints(vctx *c) {
    verify_part *vp = c->vp;
    uint64_t *sizes = NULL;
    int n = 0;
    if (audit_list_checkpoints(vp->ck_dir, &sizes, &n)) {
        verify_failure *f = verify_fail(vp, "checkpoint_unreadable", -1, -1);
        if (f) audit_fmt(f->message, sizeof f->message, "cannot list %s", vp->ck_dir);
        return;
    }
    vp->checkpoints_found = n;
    c->cps = calloc((size_t)(n ? n : 1), sizeof *c->cps);
    hive_buf buf = {0};
    for (int i = 0; c->cps && i < n; i++) {
        char path[PATH_MAX + 64], why[300] = "";
        audit_fmt(path, sizeof path, "%s/%llu.checkpoint", vp->ck_dir, (unsigned long long)sizes[i]);
        const char *kind = NULL;
        size_t tl = 0;
        hive_checkpoint cp;
        if (audit_read_file(path, 1 << 20, &buf)) {
            kind = "checkpoint_unreadable";
            audit_fmt(why, sizeof why, "cannot read the file");
        } else {
            hive_note_status st = hive_note_open(buf.data, buf.len, c->key, &tl, why, sizeof why);
            if (st == HIVE_NOTE_MALFORMED) kind = "checkpoint_malformed";
            else if (st == HIVE_NOTE_BAD_SIGNATURE) kind = "checkpoint_bad_signature";
            else if (st == HIVE_NOTE_NO_KNOWN_SIGNATURE) kind = "checkpoint_unknown_key";
            else if (hive_checkpoint_parse(buf.data, tl, &cp, why, sizeof why)) kind = "checkpoint_malformed";
            else if (strcmp(cp.origin, vp->origin) != 0) {
                kind = "checkpoint_wrong_origin";
                audit_fmt(why, sizeof why, "origin is '%.200s', expected '%.200s'", cp.origin, vp->origin);
            } else if (cp.size != sizes[i]) {
                kind = "checkpoint_wrong_name";
                audit_fmt(why, sizeof why, "the file name says tree size %llu, the checkpoint says %llu",
                         (unsigned long long)sizes[i], (unsigned long long)cp.size);
            }
        }
        if (kind) {
            verify_failure *f = verify_fail(vp, kind, -1, -1);
            if (f) {
                audit_fmt(f->checkpoint, sizeof f->checkpoint, "%s", path);
                audit_fmt(f->message, sizeof f->message, "checkpoint %s: %s", path, why);
            }
            continue;
        }
        valid_cp *v = &c->cps[c->ncps++];
        v->size = cp.size;
        v->root = cp.root;
        audit_fmt(v->file, sizeof v->file, "%s", path);
        vp->checkpoints_valid++;
        vp->largest_valid_checkpoint = cp.size;
    }
    hive_buf_free(&buf);
    free(sizes);
}

/* Maps the sealer's leaves file and finds how much of it the valid
 * checkpoints authenticate: the longest prefix whose roots at every valid
 * checkpoint size match. */
static void load_leaves(vctx *c) {
    if (c->leaves_loaded) return;
    c->leaves_loaded = 1;
    char path[PATH_MAX + 16];
    audit_fmt(path, sizeof path, "%s/leaves", c->vp->ck_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) || st.st_size < HIVE_HASH_LEN) {
        close(fd);
        return;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return;
    c->leaves = m;
    c->leaves_len = (size_t)st.st_size;
    uint64_t n = c->leaves_len / HIVE_HASH_LEN;
    hive_merkle_frontier f;
    hive_merkle_frontier_init(&f);
    for (int j = 0; j < c->ncps && c->cps[j].size <= n; j++) {
        while (f.size < c->cps[j].size) hive_merkle_frontier_append(&f, (const hive_hash *)(c->leaves + f.size * HIVE_HASH_LEN));
        hive_hash root;
        hive_merkle_frontier_root(&f, &root);
        if (!same(&root, c->cps[j].root.b)) break;
        c->leaves_auth = c->cps[j].size;
    }
}

static const uint8_t *sealed_leaf(vctx *c, uint64_t i) {
    load_leaves(c);
    return i < c->leaves_auth ? c->leaves + i * HIVE_HASH_LEN : NULL;
}

/* Offset and event id of leaf i, re-read from the log copy. */
static void leaf_record(vctx *c, uint64_t i, int64_t *offset, char *event_id, size_t cap) {
    const uint8_t *v;
    size_t len;
    hive_evmeta m;
    *offset = -1;
    event_id[0] = '\0';
    if (i >= hive_merkle_tree_size(c->tree) || audit_dump_at(&c->dump, c->pos[i], offset, &v, &len)) return;
    if (v && !hive_evmeta_read(c->meta, v, len, &m, NULL, 0)) copy_id(event_id, cap, &m.event_id);
}

/* The root at valid checkpoint j's size differs from the signed one. */
static void root_mismatch(vctx *c, int j) {
    verify_part *vp = c->vp;
    uint64_t size = c->cps[j].size, from = c->last_good >= 0 ? c->cps[c->last_good].size : 0;
    load_leaves(c);
    if (c->leaves_auth >= size) {
        for (uint64_t i = from; i < size; i++) {
            if (same(hive_merkle_tree_leaf(c->tree, i), c->leaves + i * HIVE_HASH_LEN)) continue;
            /* Is the sealed event further on? Then this one was put in its place. */
            audit_dump_reader ahead = c->dump;
            int64_t o, later = -1;
            const uint8_t *v;
            size_t len, at;
            while (later < 0 && audit_dump_next(&ahead, &o, &v, &len, &at) == 1) {
                hive_hash h;
                if (!v) continue;
                hive_merkle_leaf_hash(v, len, &h);
                if (same(&h, c->leaves + i * HIVE_HASH_LEN)) later = o;
            }
            verify_failure *f = verify_fail(vp, later >= 0 ? "event_inserted" : "event_changed", -1, (int64_t)i);
            if (!f) return;
            leaf_record(c, i, &f->offset, f->event_id, sizeof f->event_id);
            audit_fmt(f->checkpoint, sizeof f->checkpoint, "%s", c->cps[j].file);
            vp->leaves_used = 1;
            if (later >= 0) {
                audit_fmt(f->message, sizeof f->message,
                          "record at offset %lld (seq %llu, event_id %s) is not the event sealed as leaf %llu; "
                          "that event comes later, at offset %lld: a forged event was inserted before it",
                          (long long)f->offset, (unsigned long long)i, f->event_id[0] ? f->event_id : "?",
                          (unsigned long long)i, (long long)later);
                return;
            }
            audit_fmt(f->message, sizeof f->message,
                     "event at offset %lld (seq %llu, event_id %s) is not the event that was sealed as "
                     "leaf %llu: its bytes changed (the leaf hash signed into %s differs)",
                     (long long)f->offset, (unsigned long long)i, f->event_id[0] ? f->event_id : "?",
                     (unsigned long long)i, c->cps[j].file);
            return;
        }
    }
    verify_failure *f = verify_fail(vp, "checkpoint_root_mismatch", -1, (int64_t)from);
    if (!f) return;
    int64_t first = -1, last = -1;
    char id[64];
    leaf_record(c, from, &first, f->event_id, sizeof f->event_id);
    leaf_record(c, size - 1, &last, id, sizeof id);
    f->offset = first;
    audit_fmt(f->checkpoint, sizeof f->checkpoint, "%s", c->cps[j].file);
    audit_fmt(f->message, sizeof f->message,
             "the first %llu events do not hash to the root signed in %s%s: an event among seq %llu..%llu "
             "(offsets %lld..%lld) differs from what was sealed",
             (unsigned long long)size, c->cps[j].file, c->last_good >= 0 ? " (the previous checkpoint matched)" : "",
             (unsigned long long)from, (unsigned long long)(size - 1), (long long)first, (long long)last);
}

/* The tree just reached valid checkpoint j's size. 0, or -1 to stop. */
static int check_checkpoint(vctx *c, int j) {
    verify_part *vp = c->vp;
    hive_hash root;
    hive_merkle_tree_root(c->tree, c->cps[j].size, &root);
    if (!same(&root, c->cps[j].root.b)) {
        root_mismatch(c, j);
        return -1;
    }
    if (c->last_good >= 0 && c->cps[c->last_good].size > 0) {
        const valid_cp *a = &c->cps[c->last_good], *b = &c->cps[j];
        hive_hash proof[HIVE_MERKLE_MAX_PROOF];
        int n = 0;
        if (hive_merkle_tree_consistency(c->tree, a->size, b->size, proof, &n) ||
            hive_merkle_verify_consistency(a->size, b->size, &a->root, &b->root, proof, n)) {
            verify_failure *f = verify_fail(vp, "checkpoint_inconsistent", -1, -1);
            if (f) {
                audit_fmt(f->checkpoint, sizeof f->checkpoint, "%s", b->file);
                audit_fmt(f->message, sizeof f->message, "%s is not consistent with %s", b->file, a->file);
            }
            return -1;
        }
        vp->consistency_proofs++;
    }
    c->last_good = j;
    vp->checked_checkpoint = c->cps[j].size;
    return 0;
}

/* ------------------------------------------------------------ aggregates */

static int agg_grow(vctx *c) {
    uint64_t cap = c->tab_cap ? c->tab_cap * 2 : 4096;
    verify_agg *t = calloc(cap, sizeof *t);
    if (!t) return HIVE_ERR_NOMEM;
    for (uint64_t i = 0; i < c->tab_cap; i++) {
        if (!c->tab[i].key) continue;
        uint64_t k = c->tab[i].key & (cap - 1);
        while (t[k].key) k = (k + 1) & (cap - 1);
        t[k] = c->tab[i];
    }
    free(c->tab);
    c->tab = t;
    c->tab_cap = cap;
    return 0;
}

static uint64_t agg_key(vctx *c, const hive_evmeta *m) {
    static const uint8_t sep = 0;
    uint8_t out[crypto_shorthash_BYTES];
    /* SipHash over "tenant \0 type \0 id", keyed per run: crafted records cannot collide on purpose. */
    uint8_t buf[512];
    size_t n = 0;
    const hive_evmeta_str *parts[3] = {&m->tenant_id, &m->aggregate_type, &m->aggregate_id};
    for (int i = 0; i < 3; i++) {
        size_t l = parts[i]->len < 160 ? parts[i]->len : 160;
        memcpy(buf + n, parts[i]->p, l);
        n += l;
        buf[n++] = sep;
    }
    crypto_shorthash(out, buf, n, c->sipkey);
    uint64_t k;
    memcpy(&k, out, sizeof k);
    return k | 1; /* 0 marks an empty slot */
}

static int check_version(vctx *c, const hive_evmeta *m, int64_t offset) {
    if (c->tab_used * 2 >= c->tab_cap && agg_grow(c)) return HIVE_ERR_NOMEM;
    uint64_t key = agg_key(c, m), i = key & (c->tab_cap - 1);
    while (c->tab[i].key && c->tab[i].key != key) i = (i + 1) & (c->tab_cap - 1);
    verify_agg *a = &c->tab[i];
    int64_t want = a->key ? a->version + 1 : 1;
    if (!a->key) {
        a->key = key;
        a->first_offset = offset;
        c->tab_used++;
    }
    if (m->aggregate_version != want) {
        verify_failure *f = verify_fail(c->vp, "version_gap", offset, m->seq);
        if (f) {
            char type[64], id[64];
            copy_id(f->event_id, sizeof f->event_id, &m->event_id);
            copy_id(type, sizeof type, &m->aggregate_type);
            copy_id(id, sizeof id, &m->aggregate_id);
            audit_fmt(f->message, sizeof f->message,
                     "event at offset %lld (seq %lld, event_id %s) has version %lld of %s %s; expected %lld",
                     (long long)offset, (long long)m->seq, f->event_id, (long long)m->aggregate_version,
                     type, id, (long long)want);
        }
    }
    a->version = m->aggregate_version;
    return 0;
}

/* ------------------------------------------------------------ sequencing failures */

static int tree_leaf_at(void *ctx, int64_t index, hive_hash *out) {
    vctx *c = ctx;
    const hive_hash *h = hive_merkle_tree_leaf(c->tree, (uint64_t)index);
    if (!h) return -1;
    *out = *h;
    return 0;
}

/* seq `want` was expected at `offset` but `got` came: reordered or missing? */
static void diagnose_gap(vctx *c, const audit_seq *s, int64_t offset, const hive_evmeta *m) {
    audit_dump_reader ahead = c->dump;
    int64_t o;
    const uint8_t *v;
    size_t len, at;
    hive_evmeta m2;
    char here[64];
    copy_id(here, sizeof here, &m->event_id);
    while (audit_dump_next(&ahead, &o, &v, &len, &at) == 1) {
        if (!v || hive_evmeta_read(c->meta, v, len, &m2, NULL, 0) || m2.seq != s->next_seq) continue;
        verify_failure *f = verify_fail(c->vp, "event_reordered", offset, m->seq);
        if (f) {
            audit_fmt(f->event_id, sizeof f->event_id, "%s", here);
            char there[64];
            copy_id(there, sizeof there, &m2.event_id);
            audit_fmt(f->message, sizeof f->message,
                     "events out of order: offset %lld holds seq %lld (event_id %s) where seq %lld belongs; "
                     "seq %lld (event_id %s) comes later, at offset %lld",
                     (long long)offset, (long long)m->seq, here, (long long)s->next_seq,
                     (long long)s->next_seq, there, (long long)o);
        }
        return;
    }
    verify_failure *f = verify_fail(c->vp, "event_missing", offset, s->next_seq);
    if (f)
        audit_fmt(f->message, sizeof f->message,
                 "event seq %lld is missing: the record at offset %lld, where it belongs, has seq %lld "
                 "(event_id %s), and no later record has seq %lld",
                 (long long)s->next_seq, (long long)offset, (long long)m->seq, here, (long long)s->next_seq);
}

/* A record reuses seq k of an existing leaf with other bytes. Which one is
 * genuine can only be told from the sealed leaf hashes. */
static void diagnose_changed(vctx *c, int64_t offset, const hive_evmeta *m, const hive_hash *leaf) {
    uint64_t k = (uint64_t)m->seq;
    int64_t first_offset;
    char first_id[64], here[64];
    copy_id(here, sizeof here, &m->event_id);
    leaf_record(c, k, &first_offset, first_id, sizeof first_id);
    const uint8_t *sealed = sealed_leaf(c, k);
    verify_failure *f;
    if (sealed && same(leaf, sealed)) {
        /* This record is the sealed one: the earlier record was put in its place. */
        if (!(f = verify_fail(c->vp, "event_inserted", first_offset, (int64_t)k))) return;
        audit_fmt(f->event_id, sizeof f->event_id, "%s", first_id);
        audit_fmt(f->message, sizeof f->message,
                 "record at offset %lld (seq %llu, event_id %s) is not the event sealed as leaf %llu; that "
                 "event comes later, at offset %lld: a forged event was inserted before it",
                 (long long)first_offset, (unsigned long long)k, first_id, (unsigned long long)k, (long long)offset);
        c->vp->leaves_used = 1;
        return;
    }
    if (sealed && same(hive_merkle_tree_leaf(c->tree, k), sealed)) {
        if (!(f = verify_fail(c->vp, "event_inserted", offset, (int64_t)k))) return;
        audit_fmt(f->event_id, sizeof f->event_id, "%s", here);
        audit_fmt(f->message, sizeof f->message,
                 "record at offset %lld (event_id %s) claims seq %llu, which belongs to the sealed event at "
                 "offset %lld: an altered copy was inserted", (long long)offset, here, (unsigned long long)k,
                 (long long)first_offset);
        c->vp->leaves_used = 1;
        return;
    }
    if (!(f = verify_fail(c->vp, "seq_conflict", offset, (int64_t)k))) return;
    audit_fmt(f->event_id, sizeof f->event_id, "%s", here);
    audit_fmt(f->message, sizeof f->message,
             "two different records claim seq %llu: offset %lld (event_id %s) and offset %lld (event_id %s); "
             "one was altered or inserted (or the log reordered)", (unsigned long long)k,
             (long long)first_offset, first_id, (long long)offset, here);
}

/* ------------------------------------------------------------ the scan */

static void flush_progress(vctx *c) {
    if (c->progress && c->progress_pending) __atomic_fetch_add(c->progress, c->progress_pending, __ATOMIC_RELAXED);
    c->progress_pending = 0;
}

/* Reads the whole partition; returns 0 when the scan reached the end. */
static int scan(vctx *c) {
    verify_part *vp = c->vp;
    audit_seq s;
    audit_seq_init(&s);
    int64_t offset;
    const uint8_t *v;
    size_t len, at;
    int r;
    char why[300];
    while ((r = audit_dump_next(&c->dump, &offset, &v, &len, &at)) == 1) {
        vp->records++;
        if (++c->progress_pending == 4096) flush_progress(c);
        hive_evmeta m;
        if (!v || hive_evmeta_read(c->meta, v, len, &m, why, sizeof why)) {
            if (audit_seq_foreign(&s, offset) != AUDIT_LEAF) goto bad_offset;
            if (!vp->foreign++) {
                char w[300];
                audit_fmt(w, sizeof w, "record at offset %lld is not an event (%s); such records are not "
                         "part of the sealed log", (long long)offset, v ? why : "null value");
                warn(vp, w);
            }
            continue;
        }
        hive_hash leaf;
        hive_merkle_leaf_hash(v, len, &leaf);
        int64_t index;
        audit_step st = audit_seq_event(&s, offset, m.seq, &leaf, tree_leaf_at, c, &index);
        if (st == AUDIT_DUPLICATE) {
            vp->duplicates++;
            continue;
        }
        if (st == AUDIT_LEAF) {
            if (hive_merkle_tree_append(c->tree, &leaf)) return HIVE_ERR_NOMEM;
            uint64_t n = hive_merkle_tree_size(c->tree);
            if (n > c->pos_cap) {
                uint64_t cap = c->pos_cap ? c->pos_cap * 2 : 4096;
                uint64_t *p = realloc(c->pos, cap * sizeof *p);
                if (!p) return HIVE_ERR_NOMEM;
                c->pos = p;
                c->pos_cap = cap;
            }
            c->pos[n - 1] = at;
            vp->events++;
            if (check_version(c, &m, offset)) return HIVE_ERR_NOMEM;
            while (c->next_cp < c->ncps && c->cps[c->next_cp].size == n)
                if (check_checkpoint(c, c->next_cp++)) return 1;
            continue;
        }
        if (st == AUDIT_ERR_OFFSET) goto bad_offset;
        if (st == AUDIT_ERR_GAP) {
            diagnose_gap(c, &s, offset, &m);
        } else if (st == AUDIT_ERR_CHANGED) {
            diagnose_changed(c, offset, &m, &leaf);
        } else {
            verify_failure *f = verify_fail(vp, "event_inserted", s.rewrite_offset, s.rewrite_seq);
            if (f) {
                audit_seq_describe(&s, st, offset, m.seq, f->message, sizeof f->message);
                int64_t o;
                const uint8_t *rv;
                size_t rl;
                hive_evmeta rm;
                /* Name the inserted record by its own event id. */
                audit_dump_reader again = c->dump;
                again.pos = AUDIT_DUMP_MAGIC_LEN;
                size_t rat;
                while (audit_dump_next(&again, &o, &rv, &rl, &rat) == 1)
                    if (o == s.rewrite_offset) {
                        if (rv && !hive_evmeta_read(c->meta, rv, rl, &rm, NULL, 0))
                            copy_id(f->event_id, sizeof f->event_id, &rm.event_id);
                        break;
                    }
            }
        }
        return 1;
    }
    if (r < 0) {
        verify_failure *f = verify_fail(vp, "log_unreadable", s.last_offset, -1);
        if (f)
            audit_fmt(f->message, sizeof f->message, "%s ends inside a record (after offset %lld): the copy "
                     "is damaged or truncated mid-record", vp->log_path, (long long)s.last_offset);
        return 1;
    }
    if (s.rewrite_next >= 0) {
        char w[300];
        audit_fmt(w, sizeof w, "the log ends inside a re-written run (offset %lld repeats seq %lld onward): "
                 "a decider was re-writing when the copy was taken", (long long)s.rewrite_offset,
                 (long long)s.rewrite_seq);
        warn(vp, w);
    }
    return 0;
bad_offset:;
    verify_failure *f = verify_fail(vp, "offset_order", offset, -1);
    if (f) audit_seq_describe(&s, AUDIT_ERR_OFFSET, offset, -1, f->message, sizeof f->message);
    return 1;
}

int verify_partition(verify_part *vp, const hive_note_verifier *key, hive_evmeta_reader *meta,
                     const uint8_t sipkey[16], uint64_t *progress) {
    vctx c = {.vp = vp, .key = key, .meta = meta, .sipkey = sipkey, .last_good = -1, .progress = progress};
    int rc = 0;
    if (!(c.tree = hive_merkle_tree_new())) return HIVE_ERR_NOMEM;
    load_checkpoints(&c);
    /* A checkpoint of the empty tree needs no records. */
    int stopped = 0;
    while (c.next_cp < c.ncps && c.cps[c.next_cp].size == 0 && !stopped)
        stopped = check_checkpoint(&c, c.next_cp++) != 0;
    int orc = audit_dump_open(&c.dump, vp->log_path);
    vp->log_present = orc == 0;
    if (orc && orc != HIVE_ERR_NOT_FOUND) {
        verify_failure *f = verify_fail(vp, "log_unreadable", -1, -1);
        if (f) audit_fmt(f->message, sizeof f->message, "%s is not a hivelog records file (%s)", vp->log_path,
                        orc == HIVE_ERR_INVALID ? "bad magic" : hive_err_str(orc));
        stopped = 1;
    }
    if (!stopped && vp->log_present) {
        rc = scan(&c);
        if (rc == HIVE_ERR_NOMEM) goto done;
        stopped = rc != 0;
        rc = 0;
    }
    flush_progress(&c);
    vp->scan_complete = !stopped;
    vp->tree_size = hive_merkle_tree_size(c.tree);
    hive_merkle_tree_root(c.tree, vp->tree_size, &vp->root);
    if (!stopped && c.next_cp < c.ncps) {
        const valid_cp *cp = &c.cps[c.next_cp];
        verify_failure *f = verify_fail(vp, "log_truncated", -1, (int64_t)vp->tree_size);
        if (f) {
            audit_fmt(f->checkpoint, sizeof f->checkpoint, "%s", cp->file);
            audit_fmt(f->message, sizeof f->message,
                     "the log copy %s after %llu events, but %s covers %llu: events seq %llu..%llu are missing",
                     vp->log_present ? "ends" : "is absent", (unsigned long long)vp->tree_size, cp->file,
                     (unsigned long long)cp->size, (unsigned long long)vp->tree_size,
                     (unsigned long long)(cp->size - 1));
        }
    }
    if (!stopped && vp->events > 0 && c.ncps == 0) {
        verify_failure *f = verify_fail(vp, "unsealed", -1, 0);
        if (f) audit_fmt(f->message, sizeof f->message, "no valid checkpoint covers any of the %llu events",
                        (unsigned long long)vp->events);
    } else if (!stopped && vp->tree_size > vp->checked_checkpoint) {
        char w[300];
        audit_fmt(w, sizeof w, "%llu events after the last checkpoint (tree size %llu) are not sealed yet",
                 (unsigned long long)(vp->tree_size - vp->checked_checkpoint), (unsigned long long)vp->checked_checkpoint);
        warn(vp, w);
    }
    /* Keep the aggregates (for the cross-partition check), packed. */
    if (c.tab_used) {
        vp->aggs = malloc(c.tab_used * sizeof *vp->aggs);
        if (!vp->aggs) {
            rc = HIVE_ERR_NOMEM;
            goto done;
        }
        for (uint64_t i = 0; i < c.tab_cap; i++)
            if (c.tab[i].key) vp->aggs[vp->naggs++] = c.tab[i];
    }
done:
    if (c.leaves) munmap((void *)c.leaves, c.leaves_len);
    audit_dump_close(&c.dump);
    hive_merkle_tree_destroy(c.tree);
    free(c.pos);
    free(c.cps);
    free(c.tab);
    return rc;
}

void verify_part_free(verify_part *vp) {
    free(vp->aggs);
    vp->aggs = NULL;
}
