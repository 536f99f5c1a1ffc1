/* Which records of an events topic-partition are the leaves of its Merkle
 * log, shared by the sealer and the verifier so both read a log the same
 * way.
 *
 * Records are taken in offset order. An event record (one with a `meta`)
 * whose meta.seq equals the next leaf index becomes that leaf. A record
 * with a lower seq is accepted only as a byte-identical re-write of the
 * leaf at that index: on a broker that does not hide an unfinished
 * transaction (librdkafka's mock cluster), a decider that crashed leaves
 * events that its successor writes again, identical and with the same seq;
 * such a re-write run restarts at an earlier leaf and must continue in
 * order until it reaches the next new leaf. Everything else is refused:
 * a seq ahead of the next leaf (events missing), a lower seq with other
 * bytes (an event changed or forged), a re-write run that stops short
 * (an event inserted), an offset that does not increase. Records that are
 * not events (no `meta`: foreign producers, garbage) are not leaves; they
 * are counted and reported, and consumers send them to the DLQ. */
#ifndef HIVE_AUDIT_SEQ_H
#define HIVE_AUDIT_SEQ_H

#include <stdint.h>

#include "hive_merkle.h"

typedef enum {
    AUDIT_LEAF = 0,        /* appended as leaf index */
    AUDIT_DUPLICATE,       /* byte-identical re-write of leaf index */
    AUDIT_ERR_OFFSET,      /* offset not after the previous record's */
    AUDIT_ERR_GAP,         /* seq beyond the next leaf: events missing */
    AUDIT_ERR_CHANGED,     /* seq of an existing leaf, other bytes */
    AUDIT_ERR_REWRITE,     /* a re-write run skipped events or stopped short */
} audit_step;

typedef struct {
    int64_t next_seq;        /* leaves so far = the next leaf's index */
    int64_t rewrite_next;    /* -1, or the seq a re-write run expects next */
    int64_t rewrite_offset;  /* offset of the record that started the run */
    int64_t rewrite_seq;     /* seq that record repeated */
    int64_t last_offset;     /* -1 before the first record */
} audit_seq;

/* Looks up leaf hash i (< next_seq) for the re-write check; 0 or nonzero
 * when it cannot be read (the record is then refused as changed). */
typedef int (*audit_leaf_fn)(void *ctx, int64_t index, hive_hash *out);

void audit_seq_init(audit_seq *s);
/* Classifies an event record (offset, meta.seq, leaf hash). On AUDIT_LEAF
 * and AUDIT_DUPLICATE *index is the leaf index; on errors the state is
 * unchanged so the caller can report it. */
audit_step audit_seq_event(audit_seq *s, int64_t offset, int64_t seq, const hive_hash *leaf,
                           audit_leaf_fn leaf_at, void *ctx, int64_t *index);
/* A record that is not an event: only its offset is checked. */
audit_step audit_seq_foreign(audit_seq *s, int64_t offset);
/* Describes an error step for a report (offset, seq as given to the call). */
void audit_seq_describe(const audit_seq *s, audit_step st, int64_t offset, int64_t seq, char *out,
                        size_t cap);
const char *audit_step_code(audit_step st);

#endif
