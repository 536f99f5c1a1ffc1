/* PostgreSQL helpers (see hive_pg.h). */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_config.h"
#include "hive_err.h"
#include "hive_log.h"
#include "hive_pg.h"

static void log_pg(const char *what, const char *detail) {
    char esc[1024];
    hive_log_escape(esc, sizeof esc, detail ? detail : "");
    size_t n = strlen(esc);
    while (n && (esc[n - 1] == 'n' && n > 1 && esc[n - 2] == '\\')) { /* trim trailing \n */
        esc[n - 2] = '\0';
        n -= 2;
    }
    hive_error(what, "\"error\":\"%s\"", esc);
}

PGconn *hive_pg_connect(const char *dsn) {
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        char masked[1024], esc[1100];
        hive_config_mask_secret(dsn, masked, sizeof masked);
        hive_log_escape(esc, sizeof esc, masked);
        char err[1024];
        hive_log_escape(err, sizeof err, PQerrorMessage(c));
        hive_error("cannot connect to PostgreSQL", "\"dsn\":\"%s\",\"error\":\"%s\"", esc, err);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, NULL, NULL);
    return c;
}

int hive_pg_exec(PGconn *conn, const char *sql) {
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : HIVE_ERR_PG;
    if (rc) log_pg("SQL failed", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

int hive_pg_ensure_database(const char *dsn) {
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
    if (!opts) {
        log_pg("invalid PostgreSQL DSN", errmsg);
        PQfreemem(errmsg);
        return HIVE_ERR_INVALID;
    }
    const char *dbname = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val) dbname = o->val;
    if (!dbname || strcmp(dbname, "postgres") == 0) {
        PQconninfoFree(opts);
        return 0;
    }
    /* Same server and credentials, maintenance database. */
    const char *keys[64], *vals[64];
    int n = 0;
    for (PQconninfoOption *o = opts; o->keyword && n < 63; o++) {
        if (!o->val) continue;
        keys[n] = o->keyword;
        vals[n] = strcmp(o->keyword, "dbname") == 0 ? "postgres" : o->val;
        n++;
    }
    keys[n] = vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    int rc = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        log_pg("cannot connect to PostgreSQL to create the database", PQerrorMessage(c));
        rc = HIVE_ERR_PG;
        goto done;
    }
    const char *params[1] = {dbname};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                               NULL, NULL, 0);
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        char *ident = PQescapeIdentifier(c, dbname, strlen(dbname));
        char sql[512];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", ident);
        PQfreemem(ident);
        r = PQexec(c, sql);
        /* Another process may have created it concurrently: that is fine. */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!state) state = "";
        if (PQresultStatus(r) != PGRES_COMMAND_OK && strcmp(state, "42P04") != 0 &&
            strcmp(state, "23505") != 0) {
            log_pg("cannot create database", PQresultErrorMessage(r));
            rc = HIVE_ERR_PG;
        } else {
            hive_info("created database", "\"database\":\"%s\"", dbname);
        }
        PQclear(r);
    }
done:
    PQfinish(c);
    PQconninfoFree(opts);
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static void sha256_hex(const char *data, size_t len, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int hive_pg_migrate(PGconn *conn, const char *dir) {
    int rc = 0;
    char *names[256];
    int count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        hive_error("cannot open migrations folder", "\"dir\":\"%s\",\"error\":\"%s\"", dir,
                   strerror(errno));
        return HIVE_ERR_IO;
    }
    struct dirent *e;
    while ((e = readdir(d)) && count < 256) {
        size_t n = strlen(e->d_name);
        if (n > 9 && strcmp(e->d_name + n - 4, ".sql") == 0 && e->d_name[0] >= '0' &&
            e->d_name[0] <= '9')
            names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], cmp_names);

    /* Serialize concurrent migrators (several projector instances starting). */
    if ((rc = hive_pg_exec(conn, "SELECT pg_advisory_lock(72410001)"))) goto done;
    rc = hive_pg_exec(conn, "CREATE TABLE IF NOT EXISTS hive_migrations ("
                            " version text PRIMARY KEY, name text NOT NULL,"
                            " checksum text NOT NULL,"
                            " applied_at timestamptz NOT NULL DEFAULT now())");
    if (rc) goto unlock;
    for (int i = 0; i < count && !rc; i++) {
        char path[2048];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *sql = read_file(path, &len);
        if (!sql) {
            hive_error("cannot read migration", "\"file\":\"%s\"", path);
            rc = HIVE_ERR_IO;
            break;
        }
        char sum[65], version[16];
        sha256_hex(sql, len, sum);
        snprintf(version, sizeof version, "%.4s", names[i]);
        const char *params[3] = {version, names[i], sum};
        PGresult *r = PQexecParams(conn, "SELECT checksum FROM hive_migrations WHERE version = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            log_pg("cannot read hive_migrations", PQresultErrorMessage(r));
            rc = HIVE_ERR_PG;
        } else if (PQntuples(r) == 1) {
            if (strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
                hive_error("an applied migration was edited; add a new migration instead",
                           "\"file\":\"%s\"", names[i]);
                rc = HIVE_ERR_CONFLICT;
            }
        } else {
            PQclear(r);
            r = NULL;
            rc = hive_pg_exec(conn, "BEGIN");
            if (!rc) rc = hive_pg_exec(conn, sql);
            if (!rc) {
                r = PQexecParams(conn,
                                 "INSERT INTO hive_migrations(version, name, checksum) VALUES ($1,$2,$3)",
                                 3, NULL, params, NULL, NULL, 0);
                if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                    log_pg("cannot record migration", PQresultErrorMessage(r));
                    rc = HIVE_ERR_PG;
                }
            }
            if (!rc) rc = hive_pg_exec(conn, "COMMIT");
            if (rc) {
                hive_error("migration failed and was rolled back", "\"file\":\"%s\"", names[i]);
                PQclear(PQexec(conn, "ROLLBACK"));
            } else {
                hive_info("applied migration", "\"file\":\"%s\"", names[i]);
            }
        }
        PQclear(r);
        free(sql);
    }
unlock:
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(72410001)"));
done:
    for (int i = 0; i < count; i++) free(names[i]);
    return rc;
}
