/* Verifying one topic-partition of a log copy against its checkpoints
 * (the engine of `hivelog audit verify`; audit_verify_cmd.c runs it over
 * every partition, in threads, and reports).
 *
 * For the partition it:
 *  - opens every <size>.checkpoint: a valid one is a note signed by the
 *    trusted key whose text is a checkpoint with the expected origin and
 *    the size its file name says;
 *  - reads the records in offset order, sequencing them as the sealer does
 *    (audit_seq.h), hashing each event into a full Merkle tree, checking
 *    each aggregate's versions run 1, 2, 3...;
 *  - at each valid checkpoint's size compares the recomputed root with the
 *    signed one, and proves the previous checkpoint consistent with it;
 *  - on the first structural failure stops and names the first bad event
 *    or checkpoint as precisely as it can: when the checkpoint directory
 *    also holds the sealer's leaves file and the signed roots authenticate
 *    it, a changed or forged event is pinpointed by its leaf.
 * Reads only files; needs only the verifier key. */
#ifndef HIVE_AUDIT_VERIFY_H
#define HIVE_AUDIT_VERIFY_H

#include <limits.h>
#include <stdint.h>

#include "hive_evmeta.h"
#include "hive_merkle.h"
#include "hive_note.h"

#define VERIFY_MAX_FAILURES 8

typedef struct {
    const char *kind;     /* static code: "event_changed", "checkpoint_bad_signature", ... */
    int64_t offset;       /* -1 when not about one record */
    int64_t seq;          /* -1 when unknown */
    char event_id[64];    /* "" when unknown */
    char checkpoint[PATH_MAX]; /* the checkpoint file concerned, "" if none */
    char message[600];
} verify_failure;

/* One aggregate seen in the partition (for the cross-partition check). */
typedef struct {
    uint64_t key;         /* keyed hash of tenant, aggregate type and id */
    int64_t version;      /* last version seen */
    int64_t first_offset; /* offset of its first event */
} verify_agg;

typedef struct {
    /* inputs */
    char topic[256];
    int partition;
    char log_path[PATH_MAX];   /* <log>/log/<topic>/<p>.records; may not exist */
    char ck_dir[PATH_MAX];     /* <checkpoints>/<topic>/<p>; may not exist */
    char origin[600];          /* expected origin line */
    /* results */
    int log_present;
    uint64_t records, events, duplicates, foreign, tree_size;
    int checkpoints_found, checkpoints_valid, consistency_proofs;
    uint64_t largest_valid_checkpoint; /* 0 when none */
    uint64_t checked_checkpoint;       /* largest checkpoint whose root matched */
    hive_hash root;                    /* of the whole tree read */
    int leaves_used;                   /* the leaves file pinpointed a failure */
    int scan_complete;
    verify_failure failures[VERIFY_MAX_FAILURES];
    int nfailures;
    uint64_t more_failures;            /* not kept */
    char warnings[4][300];
    int nwarnings;
    verify_agg *aggs;                  /* occupied slots of the aggregate table (malloc'd) */
    uint64_t naggs;
} verify_part;

/* Verifies vp (inputs filled in). progress, if given, is advanced by the
 * number of records read (atomically). sipkey keys the aggregate hash.
 * Returns 0 when it ran (failures are in vp), HIVE_ERR_NOMEM otherwise. */
int verify_partition(verify_part *vp, const hive_note_verifier *key, hive_evmeta_reader *meta,
                     const uint8_t sipkey[16], uint64_t *progress);
void verify_part_free(verify_part *vp);

/* Adds a failure (kept up to VERIFY_MAX_FAILURES, counted beyond). */
verify_failure *verify_fail(verify_part *vp, const char *kind, int64_t offset, int64_t seq);

#endif
