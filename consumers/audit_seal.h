/* Sealing one topic-partition, without Kafka: the sealer (`hivelog seal`)
 * feeds it the partition's records in offset order and asks it for
 * checkpoints; the benchmark's log generator uses it the same way.
 *
 * It keeps the tree's right edge (hive_merkle_frontier), appends each leaf
 * hash to <dir>/<topic>/<partition>/leaves, and at a checkpoint fsyncs the
 * leaves, signs the checkpoint, writes <size>.checkpoint atomically, and
 * (once the caller has published it) saves the resume state atomically:
 * offset to read next, frontier, last checkpoint. After a crash it resumes
 * from that state; checkpoints already on disk beyond it (signed after the
 * state was saved) are held as promises: nothing new is signed until the
 * tree has grown past them, and at each one's size the recomputed root
 * must equal the signed root, or the partition halts. So the sealer never
 * signs two inconsistent checkpoints, whatever the moment it was killed. */
#ifndef HIVE_AUDIT_SEAL_H
#define HIVE_AUDIT_SEAL_H

#include <limits.h>
#include <stdint.h>

#include "audit_seq.h"
#include "hive_checkpoint.h"
#include "hive_codec.h"
#include "hive_evmeta.h"
#include "hive_merkle.h"
#include "hive_note.h"

typedef struct {
    uint64_t size;
    hive_hash root;
} seal_promise;

typedef struct {
    int opened;               /* seal_part_open ran (seal_part_close undoes it) */
    char topic[256];
    int partition;
    char dir[PATH_MAX];
    char origin[HIVE_ORIGIN_MAX];
    audit_seq seq;
    hive_merkle_frontier frontier;
    int64_t next_offset;      /* where to resume reading */
    int64_t last_leaf_offset; /* offset of the newest leaf, -1 if none */
    int leaves_fd;
    uint64_t leaves_flushed;  /* leaf hashes written to the file */
    hive_hash *wbuf;          /* leaf hashes not yet written */
    int wlen;
    uint64_t cp_size;         /* last checkpoint signed (or resumed from) */
    hive_hash cp_root;
    int64_t cp_last_offset;
    int64_t cp_mono_ms;       /* when it was signed; 0: never in this process */
    int64_t first_unsealed_ms;/* monotonic time the first leaf after it arrived */
    seal_promise *promises;   /* signed before a crash, beyond the resumed state */
    int npromises, next_promise;
    hive_buf state;           /* resume state as of the last checkpoint, not yet saved */
    uint64_t met_promise;     /* a promise just met: its size (the sealer re-publishes it), else 0 */
    int halted;
    char halt_reason[512];
    uint64_t events, duplicates, foreign;
} seal_part;

/* Opens (creating) the partition's directory under root and resumes from
 * its state. origin is the full origin line. 0, or a hive_err with err set
 * (the directory is unusable: another origin, a leaves file shorter than
 * the sealed tree, unreadable files). */
int seal_part_open(seal_part *p, const char *root, const char *topic, int partition,
                   const char *origin, char *err, size_t errcap);
void seal_part_close(seal_part *p);

/* Takes the next record of the partition. Returns 0, or HIVE_ERR_CONFLICT
 * when the log contradicts what was sealed or breaks the sequencing rules
 * (the partition halts: halt_reason says why; nothing more is sealed). */
int seal_part_record(seal_part *p, hive_evmeta_reader *meta, int64_t offset, const void *value,
                     size_t len, int64_t now_ms);

/* Stops sealing the partition (logged as an error with why); returns HIVE_ERR_CONFLICT. */
int seal_part_halt(seal_part *p, const char *why);

/* Whether a checkpoint is due: `every` new leaves, or interval_ms since the
 * first unsealed one; never while promises are pending or when halted. */
int seal_part_due(const seal_part *p, long every, int64_t interval_ms, int64_t now_ms);
/* Signs a checkpoint of the current tree into note (replacing its
 * contents), writes <size>.checkpoint and takes a snapshot of the resume
 * state as of this checkpoint. 0, HIVE_ERR_NOT_FOUND when nothing new is
 * to be signed, or HIVE_ERR_IO. */
int seal_part_checkpoint(seal_part *p, const hive_note_signer *key, hive_buf *note, int64_t now_ms);
/* Saves the snapshot of the last checkpoint (once the caller published it;
 * more records may have been taken since). 0 also when there is none. */
int seal_part_save(seal_part *p);

#endif
