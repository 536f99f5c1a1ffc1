/* `hivelog schemas check`: every version of every schema in schemas/ must
 * be able to read data written by every earlier version of the same record
 * (BACKWARD_TRANSITIVE by default), by hivelog's own implementation of the
 * Avro resolution rules (core/hive_compat.h). CI runs it (ctest
 * schemas.check).
 *
 * Versions: the entries of registry.tsv with the same record full name are
 * that record's versions, oldest first; a file named Name.vN.avsc must be
 * the N-th of its record (a file without .vN is version 1), and every
 * version must stay on the same topic. Every .avsc file outside types/ must
 * be listed, and every field default must be valid for its type. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_compat.h"
#include "hive_config.h"
#include "hive_registry.h"

typedef struct {
    int problems;
} report;

__attribute__((format(printf, 2, 3))) static void problem(report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "schemas check: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    r->problems++;
}

/* N of "Name.vN.avsc", or 1 for "Name.avsc"; 0 when malformed. */
static int file_version(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n < 6 || strcmp(base + n - 5, ".avsc") != 0) return 0;
    const char *v = NULL;
    for (const char *p = base; p < base + n - 5; p++)
        if (p[0] == '.' && p[1] == 'v') v = p + 2;
    if (!v) return 1;
    char *end;
    long ver = strtol(v, &end, 10);
    return end == base + n - 5 && ver >= 1 && ver < 10000 ? (int)ver : 0;
}

/* Every .avsc under dir (but types/) that registry.tsv does not list. */
static void unlisted(report *r, const hive_registry *reg, const char *root, const char *rel) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024], full[3100];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(sub, "types") != 0) unlisted(r, reg, root, sub);
            continue;
        }
        size_t n = strlen(sub);
        if (n < 5 || strcmp(sub + n - 5, ".avsc") != 0) continue;
        int listed = 0;
        for (int i = 0; i < hive_registry_count(reg) && !listed; i++)
            listed = strcmp(hive_registry_at(reg, i)->path, sub) == 0;
        if (!listed)
            problem(r, "%s: not listed in registry.tsv (a schema must have an id to be used)", sub);
    }
    closedir(d);
}

static int check_dir(const char *dir, hive_compat_level level, int quiet) {
    report r = {0};
    hive_registry *reg = NULL;
    char err[1024];
    if (hive_registry_load_local(&reg, dir, err, sizeof err)) {
        fprintf(stderr, "schemas check: %s\n", err);
        return 1;
    }
    int n = hive_registry_count(reg), records = 0;
    for (int i = 0; i < n; i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        char why[600];
        if (hive_avsc_check_defaults(s->model, why, sizeof why))
            problem(&r, "%s: %s", s->path, why);
        int fv = file_version(s->path);
        if (fv != s->version)
            problem(&r, "%s: is version %d of %s in registry.tsv order, but its file name says "
                        "v%d (name versions Name.vN.avsc and list them oldest first)",
                    s->path, s->version, s->full_name, fv);
    }
    for (int i = 0; i < n; i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        if (s->version != 1) continue;
        records++;
        const hive_avsc *older[HIVE_REGISTRY_MAX_LOCAL];
        const hive_schema *older_s[HIVE_REGISTRY_MAX_LOCAL];
        int count = 0;
        for (int k = i; k < n; k++) {
            const hive_schema *v = hive_registry_at(reg, k);
            if (strcmp(v->full_name, s->full_name) != 0) continue;
            if (strcmp(v->topic_suffix, s->topic_suffix) != 0)
                problem(&r, "%s: %s moved from topic suffix '%s' to another topic; a record's "
                            "versions share one subject", v->path, s->full_name, s->topic_suffix);
            char why[900];
            if (hive_compat_check(level, v->model, older, (size_t)count, why, sizeof why))
                problem(&r, "%s: %s v%d is not %s compatible: %s", v->path, v->full_name,
                        v->version, hive_compat_level_name(level), why);
            older_s[count] = v;
            older[count++] = v->model;
        }
        if (!quiet)
            printf("ok  %-48s v1..v%d  (%s)\n", s->full_name, count, older_s[count - 1]->path);
    }
    unlisted(&r, reg, dir, "");
    hive_registry_destroy(reg);
    if (r.problems) {
        fprintf(stderr, "schemas check: %d problem(s) in %s\n", r.problems, dir);
        return 1;
    }
    printf("schemas check: %d records, %d schema versions in %s: every version reads every "
           "earlier one (%s)\n", records, n, dir, hive_compat_level_name(level));
    return 0;
}

int cmd_schemas(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    const char *dir = cfg.schemas_dir, *v;
    hive_compat_level level = HIVE_COMPAT_BACKWARD_TRANSITIVE;
    int quiet = 0;
    if (argc < 2 || cli_wants_help(argc, argv) || strcmp(argv[1], "check") != 0) {
        printf("usage: hivelog schemas check [--dir DIR] [--level LEVEL] [--quiet]\n\n"
               "Checks every schema listed in DIR/registry.tsv (default HIVE_SCHEMAS_DIR=%s):\n"
               "each parses, its field defaults are valid, each version of a record can read\n"
               "data written by every earlier version (LEVEL, default BACKWARD_TRANSITIVE; also\n"
               "BACKWARD, FORWARD[_TRANSITIVE], FULL[_TRANSITIVE], NONE), versions are listed\n"
               "oldest first with file names Name.vN.avsc, and no .avsc file is unlisted.\n"
               "Exits 1 naming the file, record, version and field of every problem.\n",
               cfg.schemas_dir);
        return argc < 2 || (!cli_wants_help(argc, argv)) ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "dir", &v)) dir = v;
        else if (cli_flag(argc, argv, &i, "level", &v)) {
            if (hive_compat_level_parse(v, &level)) {
                fprintf(stderr, "hivelog schemas: unknown --level '%s'\n", v);
                return 2;
            }
        } else if (cli_switch(argv, i, "quiet")) quiet = 1;
        else {
            fprintf(stderr, "hivelog schemas: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    return check_dir(dir, level, quiet);
}
