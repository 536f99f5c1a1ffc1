/* The export directory: manifest, journal, recovery (see export_store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_store.h"
#include "hive_err.h"
#include "hive_log.h"

struct export_store {
    char dir[1024];
    int lock_fd;
    json_t *root; /* the manifest */
};

int export_mkdirs(const char *dir) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST) return HIVE_ERR_IO;
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST) return HIVE_ERR_IO;
    return 0;
}

int export_fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return HIVE_ERR_IO;
    int rc = fsync(fd) ? HIVE_ERR_IO : 0;
    close(fd);
    return rc;
}

/* Writes json to path atomically: temp file, fsync, rename, fsync of the directory. */
static int write_atomic(const char *dir, const char *name, json_t *json) {
    char tmp[1200], path[1200];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = json_dumps(json, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!text) return HIVE_ERR_NOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? HIVE_ERR_IO : 0;
    size_t n = strlen(text), off = 0;
    while (!rc && off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w <= 0) rc = HIVE_ERR_IO;
        else off += (size_t)w;
    }
    if (!rc && (write(fd, "\n", 1) != 1 || fsync(fd))) rc = HIVE_ERR_IO;
    if (fd >= 0) close(fd);
    free(text);
    if (!rc && rename(tmp, path)) rc = HIVE_ERR_IO;
    if (!rc) rc = export_fsync_path(dir);
    return rc;
}

static json_t *files_of(const export_store *st) { return json_object_get(st->root, "files"); }

static int in_manifest(const export_store *st, const char *rel) {
    json_t *files = files_of(st);
    for (size_t i = 0; i < json_array_size(files); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(files, i), "path")), rel)) return 1;
    return 0;
}

/* Deletes the .tmp-* files in <dir>/<table>/day=<d>: work of a run that did not commit. */
static void remove_temp_files(const char *dir) {
    DIR *top = opendir(dir);
    if (!top) return;
    struct dirent *t;
    while ((t = readdir(top))) {
        if (t->d_name[0] == '.') continue;
        char tdir[1400];
        snprintf(tdir, sizeof tdir, "%s/%s", dir, t->d_name);
        DIR *days = opendir(tdir);
        if (!days) continue;
        struct dirent *d;
        while ((d = readdir(days))) {
            if (strncmp(d->d_name, "day=", 4) != 0) continue;
            char ddir[1700];
            snprintf(ddir, sizeof ddir, "%s/%s", tdir, d->d_name);
            DIR *files = opendir(ddir);
            if (!files) continue;
            struct dirent *f;
            while ((f = readdir(files))) {
                if (strncmp(f->d_name, ".tmp-", 5) != 0) continue;
                char path[2000];
                snprintf(path, sizeof path, "%s/%s", ddir, f->d_name);
                if (!unlink(path)) hive_info("removed an uncommitted temp file", "\"path\":\"%s\"", f->d_name);
            }
            closedir(files);
        }
        closedir(days);
    }
    closedir(top);
}

static int recover(export_store *st) {
    char path[1200];
    snprintf(path, sizeof path, "%s/.journal.json", st->dir);
    json_error_t je;
    json_t *journal = json_load_file(path, 0, &je);
    if (journal) {
        json_t *files = json_object_get(journal, "files");
        for (size_t i = 0; i < json_array_size(files); i++) {
            const char *rel = json_string_value(json_array_get(files, i));
            if (!rel || in_manifest(st, rel) || strstr(rel, "..")) continue;
            char p[1700];
            snprintf(p, sizeof p, "%s/%s", st->dir, rel);
            if (!unlink(p)) hive_info("removed a file of an uncommitted export", "\"path\":\"%s\"", rel);
        }
        json_decref(journal);
        if (unlink(path) || export_fsync_path(st->dir)) return HIVE_ERR_IO;
    } else if (access(path, F_OK) == 0 && unlink(path)) {
        return HIVE_ERR_IO; /* a journal torn before its fsync: nothing was renamed yet */
    }
    remove_temp_files(st->dir);
    return 0;
}

int export_store_open(export_store **out, const char *dir, char *err, size_t errcap) {
    *out = NULL;
    export_store *st = calloc(1, sizeof *st);
    if (!st) return HIVE_ERR_NOMEM;
    snprintf(st->dir, sizeof st->dir, "%s", dir);
    st->lock_fd = -1;
    char path[1200];
    if (export_mkdirs(dir)) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/.lock", dir);
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf(err, errcap, "%s is in use by another `hivelog export` (or cannot be locked: %s)", dir,
                 strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t je;
    if (access(path, F_OK) == 0) {
        st->root = json_load_file(path, 0, &je);
        if (!st->root || !json_is_array(files_of(st))) {
            snprintf(err, errcap, "%s is not an export manifest: %s", path, st->root ? "no files list" : je.text);
            goto fail;
        }
    } else {
        st->root = json_pack("{s:i, s:[], s:[], s:[], s:{}}", "hivelog_export", 1, "files", "errors",
                             "positions", "tables");
    }
    if (recover(st)) {
        snprintf(err, errcap, "cannot clean up an interrupted export in %s: %s", dir, strerror(errno));
        goto fail;
    }
    *out = st;
    return 0;
fail:
    export_store_close(st);
    return HIVE_ERR_IO;
}

void export_store_close(export_store *st) {
    if (!st) return;
    if (st->lock_fd >= 0) close(st->lock_fd);
    json_decref(st->root);
    free(st);
}

const char *export_store_dir(const export_store *st) { return st->dir; }

const char *export_store_get_str(const export_store *st, const char *key) {
    return json_string_value(json_object_get(st->root, key));
}

int64_t export_store_get_int(const export_store *st, const char *key) {
    json_t *v = json_object_get(st->root, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

void export_store_set(export_store *st, const char *key, json_t *value) {
    json_object_set_new(st->root, key, value);
}

void export_store_set_table(export_store *st, const char *table, const char *event_type,
                            int schema_id, json_t *columns) {
    json_t *tables = json_object_get(st->root, "tables");
    if (!json_is_object(tables)) {
        tables = json_object();
        json_object_set_new(st->root, "tables", tables);
    }
    json_t *t = json_object_get(tables, table);
    if (!t) {
        t = json_object();
        json_object_set_new(tables, table, t);
    }
    json_object_set_new(t, "event_type", json_string(event_type));
    json_object_set_new(t, "schema_id", json_integer(schema_id));
    json_object_set_new(t, "columns", columns);
}

static json_t *find_position(const export_store *st, const char *topic, int partition) {
    json_t *pos = json_object_get(st->root, "positions");
    for (size_t i = 0; i < json_array_size(pos); i++) {
        json_t *p = json_array_get(pos, i);
        if (!strcmp(json_string_value(json_object_get(p, "topic")), topic) &&
            json_integer_value(json_object_get(p, "partition")) == partition)
            return p;
    }
    return NULL;
}

void export_store_position(const export_store *st, const char *topic, int partition,
                           int64_t *next_offset, int64_t *next_seq) {
    json_t *p = find_position(st, topic, partition);
    *next_offset = p ? json_integer_value(json_object_get(p, "next_offset")) : 0;
    *next_seq = p ? json_integer_value(json_object_get(p, "next_seq")) : 0;
}

/* ------------------------------------------------------------ commit */
static int cmp_str(json_t *x, json_t *y, const char *key) {
    return strcmp(json_string_value(json_object_get(x, key)), json_string_value(json_object_get(y, key)));
}

static int cmp_int(json_t *x, json_t *y, const char *key) {
    json_int_t a = json_integer_value(json_object_get(x, key)), b = json_integer_value(json_object_get(y, key));
    return a < b ? -1 : a > b;
}

/* Files in (table, day, topic, partition, first offset) order: numeric, not by name. */
static int cmp_files(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = cmp_str(x, y, "table");
    if (!r) r = cmp_str(x, y, "day");
    if (!r) r = cmp_str(x, y, "topic");
    if (!r) r = cmp_int(x, y, "partition");
    if (!r) r = cmp_int(x, y, "first_offset");
    return r;
}

static int cmp_by_origin(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(json_string_value(json_object_get(x, "topic")), json_string_value(json_object_get(y, "topic")));
    if (r) return r;
    json_int_t px = json_integer_value(json_object_get(x, "partition")), py = json_integer_value(json_object_get(y, "partition"));
    if (px != py) return px < py ? -1 : 1;
    json_int_t ox = json_integer_value(json_object_get(x, "offset")), oy = json_integer_value(json_object_get(y, "offset"));
    return ox < oy ? -1 : ox > oy;
}

static int cmp_positions(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(json_string_value(json_object_get(x, "topic")), json_string_value(json_object_get(y, "topic")));
    if (r) return r;
    json_int_t px = json_integer_value(json_object_get(x, "partition")), py = json_integer_value(json_object_get(y, "partition"));
    return px < py ? -1 : px > py;
}

/* Sorts a JSON array in place so the manifest does not depend on which partition committed first. */
static void sort_array(json_t *arr, int (*cmp)(const void *, const void *)) {
    size_t n = json_array_size(arr);
    if (n < 2) return;
    json_t **items = malloc(n * sizeof *items);
    if (!items) return;
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof *items, cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, items[i]);
    free(items);
}

static void update_totals(export_store *st) {
    json_t *tables = json_object_get(st->root, "tables");
    const char *name;
    json_t *t;
    json_object_foreach(tables, name, t) {
        json_object_set_new(t, "rows", json_integer(0));
        json_object_set_new(t, "files", json_integer(0));
    }
    int64_t rows = 0, files = 0, errors = 0;
    json_t *arr = files_of(st);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *f = json_array_get(arr, i);
        json_int_t r = json_integer_value(json_object_get(f, "rows"));
        t = json_object_get(tables, json_string_value(json_object_get(f, "table")));
        if (t) {
            json_object_set_new(t, "rows", json_integer(json_integer_value(json_object_get(t, "rows")) + r));
            json_object_set_new(t, "files", json_integer(json_integer_value(json_object_get(t, "files")) + 1));
        }
        rows += r;
        files++;
    }
    errors = (int64_t)json_array_size(json_object_get(st->root, "errors"));
    int64_t dups = 0;
    json_t *pos = json_object_get(st->root, "positions");
    for (size_t i = 0; i < json_array_size(pos); i++)
        dups += json_integer_value(json_object_get(json_array_get(pos, i), "duplicates_skipped"));
    json_object_set_new(st->root, "totals",
                        json_pack("{s:I, s:I, s:I, s:I}", "rows", (json_int_t)rows, "files",
                                  (json_int_t)files, "errors", (json_int_t)errors,
                                  "duplicates_skipped", (json_int_t)dups));
}

void export_store_totals(const export_store *st, int64_t *rows, int64_t *files, int64_t *errors) {
    json_t *t = json_object_get(st->root, "totals");
    *rows = json_integer_value(json_object_get(t, "rows"));
    *files = json_integer_value(json_object_get(t, "files"));
    *errors = (int64_t)json_array_size(json_object_get(st->root, "errors"));
}

int export_store_commit(export_store *st, const char *topic, int partition, int64_t next_offset,
                        int64_t next_seq, int64_t duplicates, export_file *files, int nfiles,
                        json_t *errors, char *err, size_t errcap) {
    int rc = 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/.journal.json", st->dir);
    if (nfiles) {
        json_t *journal = json_pack("{s:[]}", "files");
        for (int i = 0; i < nfiles; i++)
            json_array_append_new(json_object_get(journal, "files"), json_string(files[i].final_rel));
        rc = write_atomic(st->dir, ".journal.json", journal);
        json_decref(journal);
        /* write_atomic names it "..journal.json.tmp" then ".journal.json". */
        for (int i = 0; !rc && i < nfiles; i++) {
            char final[2100];
            snprintf(final, sizeof final, "%s/%s", st->dir, files[i].final_rel);
            if (rename(files[i].tmp_path, final)) rc = HIVE_ERR_IO;
            char *slash = strrchr(final, '/');
            if (!rc && slash) {
                *slash = '\0';
                rc = export_fsync_path(final);
            }
        }
        if (rc) {
            snprintf(err, errcap, "cannot move export files into place: %s", strerror(errno));
            return rc;
        }
    }
    json_t *arr = files_of(st);
    for (int i = 0; i < nfiles; i++) {
        json_array_append_new(arr, files[i].entry);
        files[i].entry = NULL;
    }
    sort_array(arr, cmp_files);
    json_t *errs = json_object_get(st->root, "errors");
    for (size_t i = 0; i < json_array_size(errors); i++) json_array_append(errs, json_array_get(errors, i));
    json_decref(errors);
    sort_array(errs, cmp_by_origin);
    json_t *p = find_position(st, topic, partition);
    if (!p) {
        p = json_pack("{s:s, s:i, s:I}", "topic", topic, "partition", partition, "duplicates_skipped", (json_int_t)0);
        json_array_append_new(json_object_get(st->root, "positions"), p);
        sort_array(json_object_get(st->root, "positions"), cmp_positions);
    }
    json_object_set_new(p, "next_offset", json_integer(next_offset));
    json_object_set_new(p, "next_seq", json_integer(next_seq));
    json_object_set_new(p, "duplicates_skipped",
                        json_integer(json_integer_value(json_object_get(p, "duplicates_skipped")) + duplicates));
    update_totals(st);
    rc = write_atomic(st->dir, "manifest.json", st->root);
    if (!rc && nfiles && (unlink(path) || export_fsync_path(st->dir))) rc = HIVE_ERR_IO;
    if (rc) snprintf(err, errcap, "cannot write %s/manifest.json: %s", st->dir, strerror(errno));
    return rc;
}
