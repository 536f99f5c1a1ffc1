/* The output directory of `hivelog export` and its one commit point.
 *
 * <dir>/manifest.json is the exporter's committed state and the list of
 * what it wrote: per topic-partition the next offset and next seq to
 * export, every data file (path, table, day, offsets, rows, bytes,
 * SHA-256), every record that could not be exported (with the reason), and
 * per-table totals. It is replaced atomically (temp file, fsync, rename,
 * fsync of the directory); its content depends only on what was exported,
 * never on when, so an interrupted run followed by a rerun leaves the same
 * manifest as one uninterrupted run.
 *
 * A commit: data files are already complete and fsynced under temp names
 * (".tmp-*"); their final names go into <dir>/.journal.json (fsynced);
 * they are renamed; the manifest is replaced; the journal is removed.
 * Opening the directory undoes an interrupted commit: files named in a
 * leftover journal but not in the manifest, and every ".tmp-*" file, are
 * deleted. An exclusive flock on <dir>/.lock keeps a second exporter out. */
#ifndef HIVE_EXPORT_STORE_H
#define HIVE_EXPORT_STORE_H

#include <jansson.h>
#include <stdint.h>

typedef struct export_store export_store;

/* Opens dir (created if missing), locks it, recovers and loads the
 * manifest. *out is the caller's to free with export_store_close. */
int export_store_open(export_store **out, const char *dir, char *err, size_t errcap);
void export_store_close(export_store *st);

/* The directory (borrowed). */
const char *export_store_dir(const export_store *st);
/* A string or integer setting stored in the manifest (NULL / -1 when new). */
const char *export_store_get_str(const export_store *st, const char *key);
int64_t export_store_get_int(const export_store *st, const char *key);
/* Sets a top-level manifest member (the reference is stolen); saved with the next commit. */
void export_store_set(export_store *st, const char *key, json_t *value);
/* Records a table's description under "tables" (columns is stolen). */
void export_store_set_table(export_store *st, const char *table, const char *event_type,
                            int schema_id, json_t *columns);

/* The committed position of a topic-partition: 0 and zeros when new. */
void export_store_position(const export_store *st, const char *topic, int partition,
                           int64_t *next_offset, int64_t *next_seq);

typedef struct {
    char tmp_path[1600];    /* absolute temp path, complete and fsynced */
    char final_rel[1024];    /* path relative to the directory */
    json_t *entry;          /* the manifest's file entry (stolen by the commit) */
} export_file;

/* Commits a chunk of one partition: renames files into place, records them
 * and errors (an array, stolen; may be NULL) and the new position. */
int export_store_commit(export_store *st, const char *topic, int partition, int64_t next_offset,
                        int64_t next_seq, int64_t duplicates, export_file *files, int nfiles,
                        json_t *errors, char *err, size_t errcap);

/* Totals over the manifest: rows, files, errors. */
void export_store_totals(const export_store *st, int64_t *rows, int64_t *files, int64_t *errors);

/* mkdir -p for dir (absolute or relative); 0 or HIVE_ERR_IO. */
int export_mkdirs(const char *dir);
/* fsync of a file or directory by path. */
int export_fsync_path(const char *path);

#endif
