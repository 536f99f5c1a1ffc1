/* The audit's files on disk.
 *
 * Checkpoint directory (the sealer writes it; a witness copies it):
 *   <dir>/<topic>/<partition>/<tree size>.checkpoint   signed note, one per checkpoint
 *   <dir>/<topic>/<partition>/leaves                   leaf hashes, 32 bytes each, leaf order
 *   <dir>/<topic>/<partition>/sealer.state             the sealer's resume point (JSON)
 * Log dump (`hivelog audit dump`; the copy of the log an auditor checks):
 *   <dir>/log/<topic>/<partition>.records   16-byte magic "hivelog-records\n", then per
 *                                           record: offset (int64 BE), value length (uint32
 *                                           BE; 0xffffffff = null value), value bytes
 *   <dir>/checkpoints/...                   the checkpoints read from <prefix>.audit.checkpoints,
 *                                           laid out like a checkpoint directory
 *   <dir>/schemas/<wire id>.avsc            the writer schema of each id in the copy
 *   <dir>/manifest.json                     what was dumped, from where, record counts
 * Every file is written to a temporary name, fsynced and renamed, so a
 * crash leaves the old file or the new one, never a torn one. */
#ifndef HIVE_AUDIT_FILES_H
#define HIVE_AUDIT_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hive_codec.h"

#define AUDIT_DUMP_MAGIC "hivelog-records\n"
#define AUDIT_DUMP_MAGIC_LEN 16
#define AUDIT_DUMP_NULL 0xffffffffu

/* snprintf for messages meant for people: cut at cap without complaint. */
void audit_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir -p; 0 or HIVE_ERR_IO. */
int audit_mkdirs(const char *path);
/* Writes path atomically (temporary file, fsync, rename, fsync of the directory). */
int audit_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Reads a whole file of at most max bytes into out. 0, HIVE_ERR_NOT_FOUND or HIVE_ERR_IO. */
int audit_read_file(const char *path, size_t max, hive_buf *out);
/* fsync of a directory (after creating or renaming entries in it). */
int audit_sync_dir(const char *path);

/* "<root>/<topic>/<partition>" into out. */
void audit_partition_dir(const char *root, const char *topic, int partition, char *out, size_t cap);

/* Tree sizes of the "<size>.checkpoint" files in dir, ascending, into a
 * malloc'd array (*sizes, caller frees); *n = 0 when dir is missing. */
int audit_list_checkpoints(const char *dir, uint64_t **sizes, int *n);

/* Topic and partition subdirectories of a checkpoint or log directory:
 * calls fn(ctx, topic, partition) for each "<topic>/<partition>" directory
 * (checkpoints) or "<topic>/<partition>.records" file (log). */
typedef int (*audit_part_fn)(void *ctx, const char *topic, int partition);
int audit_list_partitions(const char *root, int records_files, audit_part_fn fn, void *ctx);

/* ---- the writer schemas a log copy carries: DIR/schemas/<wire id>.avsc ---- */
typedef struct {
    int id;
    char *text;
} audit_schema;

/* Reads every <id>.avsc of dir into a malloc'd array (*out, *n; free with
 * audit_schemas_free). *n = 0 when dir is missing. */
int audit_schemas_load(const char *dir, audit_schema **out, int *n);
void audit_schemas_free(audit_schema *s, int n);

/* ---- log dump files ---- */
typedef struct {
    const uint8_t *base;
    size_t size, pos;
} audit_dump_reader;

/* Maps a .records file. 0, HIVE_ERR_NOT_FOUND, HIVE_ERR_IO or HIVE_ERR_INVALID (bad magic). */
int audit_dump_open(audit_dump_reader *r, const char *path);
void audit_dump_close(audit_dump_reader *r);
/* Next record: 1 and its fields (value NULL for a null value; *at = its
 * position in the file), 0 at the end, HIVE_ERR_INVALID when the file ends
 * inside a record. */
int audit_dump_next(audit_dump_reader *r, int64_t *offset, const uint8_t **value, size_t *len, size_t *at);
/* Re-reads the record at file position at. */
int audit_dump_at(const audit_dump_reader *r, size_t at, int64_t *offset, const uint8_t **value, size_t *len);

int audit_dump_write_header(FILE *f);
int audit_dump_write_record(FILE *f, int64_t offset, const void *value, size_t len);

#endif
