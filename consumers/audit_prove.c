/* `hivelog audit prove` and `hivelog audit verify-proof`: one event's
 * inclusion proof (bundle format: audit_proof.h). prove rebuilds the
 * partition's tree from a log copy, picks a checkpoint that covers the
 * event and whose root the copy reproduces, and writes the audit path;
 * verify-proof needs nothing but the bundle and the verifier key (and the
 * schemas, to also check the event's own seq and id). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cmds.h"
#include "audit_config.h"
#include "audit_files.h"
#include "audit_proof.h"
#include "audit_seq.h"
#include "cli_util.h"
#include "hive_codec.h"
#include "hive_config.h"
#include "hive_err.h"
#include "hive_evmeta.h"

typedef struct {
    const char *log_dir, *ck_dir, *event_id, *topic, *out;
    int partition;
    int64_t seq, offset;
    uint64_t tree_size;
} prove_args;

typedef struct {
    prove_args *a;
    hive_evmeta_reader *meta;
    char topic[256];
    int partition, found;
} finder;

static void printable(char *out, size_t cap, const hive_evmeta_str *s) {
    size_t n = s->len < cap - 1 ? s->len : cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = s->p[i] >= 0x20 && s->p[i] < 0x7f ? s->p[i] : '?';
    out[n] = '\0';
}

/* --event-id: which partition holds it (each .records file is scanned). */
static int find_event(void *ctx, const char *topic, int partition) {
    finder *f = ctx;
    if (f->found) return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/log/%s/%d.records", f->a->log_dir, topic, partition);
    audit_dump_reader r;
    if (audit_dump_open(&r, path)) return 0;
    int64_t off;
    const uint8_t *v;
    size_t len, at, idlen = strlen(f->a->event_id);
    hive_evmeta m;
    while (audit_dump_next(&r, &off, &v, &len, &at) == 1) {
        if (!v || hive_evmeta_read(f->meta, v, len, &m, NULL, 0)) continue;
        if (m.event_id.len == idlen && !memcmp(m.event_id.p, f->a->event_id, idlen)) {
            snprintf(f->topic, sizeof f->topic, "%s", topic);
            f->partition = partition;
            f->found = 1;
            break;
        }
    }
    audit_dump_close(&r);
    return 0;
}

static int leaf_at(void *ctx, int64_t index, hive_hash *out) {
    const hive_hash *h = hive_merkle_tree_leaf(ctx, (uint64_t)index);
    if (!h) return -1;
    *out = *h;
    return 0;
}

static int prove(prove_args *a, hive_evmeta_reader *meta) {
    char path[PATH_MAX], dir[PATH_MAX], err[300];
    snprintf(path, sizeof path, "%s/log/%s/%d.records", a->log_dir, a->topic, a->partition);
    audit_dump_reader r;
    if (audit_dump_open(&r, path)) {
        fprintf(stderr, "hivelog audit prove: cannot open %s\n", path);
        return 1;
    }
    hive_merkle_tree *t = hive_merkle_tree_new();
    audit_seq s;
    audit_seq_init(&s);
    audit_proof p;
    memset(&p, 0, sizeof p);
    p.seq = p.offset = -1;
    int rc = 1, found = 0;
    int64_t off;
    const uint8_t *v;
    size_t len, at;
    hive_evmeta m;
    while (t && audit_dump_next(&r, &off, &v, &len, &at) == 1) {
        if (!v || hive_evmeta_read(meta, v, len, &m, NULL, 0)) {
            if (audit_seq_foreign(&s, off) != AUDIT_LEAF) break;
            continue;
        }
        hive_hash leaf;
        int64_t idx;
        hive_merkle_leaf_hash(v, len, &leaf);
        audit_step st = audit_seq_event(&s, off, m.seq, &leaf, leaf_at, t, &idx);
        if (st == AUDIT_DUPLICATE) continue;
        if (st != AUDIT_LEAF) {
            audit_seq_describe(&s, st, off, m.seq, err, sizeof err);
            fprintf(stderr, "hivelog audit prove: the log copy does not sequence (%s); run `hivelog audit "
                            "verify` first\n", err);
            goto done;
        }
        if (hive_merkle_tree_append(t, &leaf)) goto done;
        int match = a->event_id ? (m.event_id.len == strlen(a->event_id) &&
                                   !memcmp(m.event_id.p, a->event_id, m.event_id.len))
                  : a->seq >= 0 ? m.seq == a->seq : off == a->offset;
        if (match && !found) {
            found = 1;
            p.offset = off;
            p.seq = m.seq;
            p.leaf_index = (uint64_t)idx;
            printable(p.event_id, sizeof p.event_id, &m.event_id);
            if (!(p.event = malloc(len ? len : 1))) goto done;
            memcpy(p.event, v, len);
            p.event_len = len;
            const char *schema = hive_evmeta_schema_text(meta, m.schema_id);
            if (schema && !(p.schema = strdup(schema))) goto done;
        }
    }
    if (!found) {
        fprintf(stderr, "hivelog audit prove: no such event in %s\n", path);
        goto done;
    }
    /* The checkpoint: the one asked for, else the largest one covering the
     * event that the copy reproduces. */
    uint64_t *sizes = NULL;
    int n = 0;
    audit_partition_dir(a->ck_dir, a->topic, a->partition, dir, sizeof dir);
    audit_list_checkpoints(dir, &sizes, &n);
    hive_buf note = {0};
    for (int i = n - 1; i >= 0; i--) {
        if (sizes[i] <= p.leaf_index || sizes[i] > hive_merkle_tree_size(t)) continue;
        if (a->tree_size && sizes[i] != a->tree_size) continue;
        char cpath[PATH_MAX + 64], why[200];
        size_t tl = 0;
        hive_checkpoint cp;
        hive_hash root;
        snprintf(cpath, sizeof cpath, "%s/%llu.checkpoint", dir, (unsigned long long)sizes[i]);
        if (audit_read_file(cpath, 1 << 20, &note) ||
            hive_note_open(note.data, note.len, NULL, &tl, why, sizeof why) == HIVE_NOTE_MALFORMED ||
            hive_checkpoint_parse(note.data, tl, &cp, why, sizeof why) || cp.size != sizes[i])
            continue;
        hive_merkle_tree_root(t, cp.size, &root);
        if (memcmp(root.b, cp.root.b, HIVE_HASH_LEN) != 0) {
            fprintf(stderr, "hivelog audit prove: %s does not match the log copy; skipped\n", cpath);
            continue;
        }
        p.tree_size = cp.size;
        p.checkpoint = strdup(note.data);
        p.checkpoint_len = note.len;
        break;
    }
    free(sizes);
    hive_buf_free(&note);
    if (!p.checkpoint) {
        fprintf(stderr, "hivelog audit prove: no checkpoint in %s covers seq %lld%s\n", dir, (long long)p.seq,
                a->tree_size ? " at the requested tree size" : "");
        goto done;
    }
    snprintf(p.topic, sizeof p.topic, "%s", a->topic);
    p.partition = a->partition;
    if (hive_merkle_tree_inclusion(t, p.leaf_index, p.tree_size, p.path, &p.npath)) goto done;
    json_t *j = audit_proof_json(&p);
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (!text) goto done;
    size_t tlen = strlen(text);
    if (!strcmp(a->out, "-")) rc = printf("%s\n", text) < 0;
    else rc = audit_write_atomic(a->out, text, tlen, 0644) != 0;
    if (rc) fprintf(stderr, "hivelog audit prove: cannot write %s\n", a->out);
    else if (strcmp(a->out, "-"))
        fprintf(stderr, "proof of %s/%d seq %lld (offset %lld, event %s) in the tree of %llu events -> %s\n",
                a->topic, a->partition, (long long)p.seq, (long long)p.offset, p.event_id,
                (unsigned long long)p.tree_size, a->out);
    free(text);
done:
    audit_proof_free(&p);
    hive_merkle_tree_destroy(t);
    audit_dump_close(&r);
    return rc;
}

int audit_cmd_prove(int argc, char **argv) {
    prove_args a = {.partition = -1, .seq = -1, .offset = -1};
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(argc, argv)) {
            printf("usage: hivelog audit prove --log DIR [--checkpoints DIR] (--event-id ID |\n"
                   "         --topic T --partition P (--seq S | --offset O)) [--tree-size N] --out FILE|-\n\n"
                   "Writes an inclusion-proof bundle (JSON) for one event of the log copy DIR (from\n"
                   "`hivelog audit dump`): the event's bytes, its leaf index (= seq), the audit path to\n"
                   "the root of a signed checkpoint (--checkpoints, default DIR/checkpoints; the largest\n"
                   "covering the event unless --tree-size) and that checkpoint's signed note.\n");
            return 0;
        } else if (cli_flag(argc, argv, &i, "log", &v)) a.log_dir = v;
        else if (cli_flag(argc, argv, &i, "checkpoints", &v)) a.ck_dir = v;
        else if (cli_flag(argc, argv, &i, "event-id", &v)) a.event_id = v;
        else if (cli_flag(argc, argv, &i, "topic", &v)) a.topic = v;
        else if (cli_flag(argc, argv, &i, "partition", &v)) a.partition = (int)cli_int("partition", v, 0, 1 << 20);
        else if (cli_flag(argc, argv, &i, "seq", &v)) a.seq = cli_int("seq", v, 0, INT64_MAX);
        else if (cli_flag(argc, argv, &i, "offset", &v)) a.offset = cli_int("offset", v, 0, INT64_MAX);
        else if (cli_flag(argc, argv, &i, "tree-size", &v)) a.tree_size = (uint64_t)cli_int("tree-size", v, 1, INT64_MAX);
        else if (cli_flag(argc, argv, &i, "out", &v)) a.out = v;
        else {
            fprintf(stderr, "hivelog audit prove: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    int by_pos = a.topic && a.partition >= 0 && (a.seq >= 0) != (a.offset >= 0);
    if (!a.log_dir || !a.out || (!a.event_id && !by_pos)) {
        fprintf(stderr, "hivelog audit prove: need --log, --out and either --event-id or --topic, --partition "
                        "and one of --seq/--offset (try --help)\n");
        return 2;
    }
    char ck[PATH_MAX];
    if (!a.ck_dir) {
        snprintf(ck, sizeof ck, "%s/checkpoints", a.log_dir);
        a.ck_dir = ck;
    }
    hive_config cfg;
    hive_registry *reg = NULL;
    char err[512];
    if (hive_config_load(&cfg)) return 2;
    if (hive_registry_load_local(&reg, cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "hivelog audit prove: cannot load schemas: %s\n", err);
        return 1;
    }
    hive_evmeta_reader *meta = hive_evmeta_reader_new(reg);
    /* The copy's own writer schemas first: its ids may be a schema registry's. */
    char sdir[PATH_MAX];
    audit_schema *schemas = NULL;
    int nschemas = 0;
    snprintf(sdir, sizeof sdir, "%s/schemas", a.log_dir);
    audit_schemas_load(sdir, &schemas, &nschemas);
    for (int i = 0; meta && i < nschemas; i++) hive_evmeta_reader_add(meta, schemas[i].id, schemas[i].text, err, sizeof err);
    audit_schemas_free(schemas, nschemas);
    int rc = 1;
    finder f = {.a = &a, .meta = meta};
    if (a.event_id) {
        char logsub[PATH_MAX];
        snprintf(logsub, sizeof logsub, "%s/log", a.log_dir);
        audit_list_partitions(logsub, 1, find_event, &f);
        if (!f.found) {
            fprintf(stderr, "hivelog audit prove: no event %s in %s\n", a.event_id, a.log_dir);
            goto done;
        }
        a.topic = f.topic;
        a.partition = f.partition;
    }
    rc = prove(&a, meta);
done:
    hive_evmeta_reader_destroy(meta);
    hive_registry_destroy(reg);
    return rc;
}

int audit_cmd_verify_proof(int argc, char **argv) {
    audit_config ac;
    if (audit_config_load(&ac)) return 2;
    const char *bundle = NULL, *key = ac.pub_key[0] ? ac.pub_key : NULL, *origin = ac.origin[0] ? ac.origin : NULL, *v;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(argc, argv)) {
            printf("usage: hivelog audit verify-proof BUNDLE --key PUB [--origin PREFIX] [--quiet]\n\n"
                   "Checks an inclusion-proof bundle on its own: the checkpoint's signature by PUB (a file\n"
                   "or the key text; HIVE_AUDIT_PUBKEY), its origin (PREFIX/<topic>/<partition>, PREFIX\n"
                   "defaulting to the key's name), that the audit path leads from the event to the signed\n"
                   "root, and (with the schemas) that the event's meta.seq is the leaf index and its id\n"
                   "the bundle's. Exit status 0 when the proof holds, 1 when not, 2 on a usage error.\n");
            return 0;
        } else if (cli_flag(argc, argv, &i, "key", &v)) key = v;
        else if (cli_flag(argc, argv, &i, "origin", &v)) origin = v;
        else if (cli_switch(argv, i, "quiet")) quiet = 1;
        else if (argv[i][0] != '-' && !bundle) bundle = argv[i];
        else {
            fprintf(stderr, "hivelog audit verify-proof: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    hive_note_verifier vk;
    if (!bundle) {
        fprintf(stderr, "hivelog audit verify-proof: which BUNDLE?\n");
        return 2;
    }
    if (audit_load_verifier("hivelog audit verify-proof", key, &vk)) return 2;
    hive_buf buf = {0};
    if (audit_read_file(bundle, 64u << 20, &buf)) {
        fprintf(stderr, "hivelog audit verify-proof: cannot read %s\n", bundle);
        return 2;
    }
    audit_proof p;
    hive_checkpoint cp;
    char err[400];
    int rc = 1;
    if (audit_proof_parse(buf.data, buf.len, &p, err, sizeof err) ||
        audit_proof_verify(&p, &vk, origin ? origin : vk.name, &cp, err, sizeof err)) {
        printf("proof FAILED: %s\n", err);
        goto done;
    }
    /* The event's own meta must agree: its seq is the leaf index. Read with
     * the bundle's writer schema if it has one, else the local schemas. */
    hive_config cfg;
    hive_registry *reg = NULL;
    const char *content = "not checked (schemas unavailable)";
    int id = 0;
    if (!hive_config_load(&cfg) && (p.schema || !hive_registry_load_local(&reg, cfg.schemas_dir, err, sizeof err))) {
        hive_evmeta_reader *meta = hive_evmeta_reader_new(reg);
        if (meta && p.schema && !hive_codec_peek_id(p.event, p.event_len, &id))
            hive_evmeta_reader_add(meta, id, p.schema, err, sizeof err);
        hive_evmeta m;
        char why[300];
        if (meta && !hive_evmeta_read(meta, p.event, p.event_len, &m, why, sizeof why)) {
            if ((uint64_t)m.seq != p.leaf_index) {
                snprintf(err, sizeof err, "the event's meta.seq is %lld, not the leaf index %llu", (long long)m.seq,
                         (unsigned long long)p.leaf_index);
            } else if (p.event_id[0] && (m.event_id.len != strlen(p.event_id) ||
                                         memcmp(m.event_id.p, p.event_id, m.event_id.len) != 0)) {
                snprintf(err, sizeof err, "the event's meta.event_id is not the bundle's event_id");
            } else {
                err[0] = '\0';
                content = "meta.seq = leaf index, event_id matches";
            }
        } else {
            snprintf(err, sizeof err, "the event is not an event record the schemas know");
            content = NULL;
        }
        hive_evmeta_reader_destroy(meta);
        hive_registry_destroy(reg);
        if (err[0]) {
            printf("proof FAILED: %s\n", err);
            goto done;
        }
    }
    rc = 0;
    if (!quiet)
        printf("proof OK: %s/%d seq %llu (offset %lld, event %s) is in the log %s of %llu events signed by "
               "%s+%08x; content: %s\n", p.topic, p.partition, (unsigned long long)p.leaf_index,
               (long long)p.offset, p.event_id[0] ? p.event_id : "?", cp.origin, (unsigned long long)cp.size,
               vk.name, vk.id, content ? content : "?");
done:
    audit_proof_free(&p);
    hive_buf_free(&buf);
    return rc;
}
