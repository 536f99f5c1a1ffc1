/* Staged-row flushing (see pg_batch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_err.h"
#include "hive_pg.h"
#include "pg_batch.h"

int pg_batch_prepare(PGconn *conn, const proj_service *svc) {
    for (int i = 0; i < svc->stage_count; i++) {
        char sql[2048];
        snprintf(sql, sizeof sql, "CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS",
                 svc->stages[i].table, svc->stages[i].columns);
        if (hive_pg_exec(conn, sql)) return HIVE_ERR_PG;
    }
    return 0;
}

static int result_error(PGresult *r, const char *what, char *err, size_t cap) {
    const char *msg = PQresultErrorMessage(r);
    snprintf(err, cap, "%s: %s", what, msg && *msg ? msg : "failed");
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
    PQclear(r);
    return HIVE_ERR_PG;
}

static int copy_in(PGconn *conn, const char *table, const hive_buf *data, char *err, size_t cap) {
    char sql[256];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) return result_error(r, table, err, cap);
    PQclear(r);
    if (PQputCopyData(conn, data->data, (int)data->len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        snprintf(err, cap, "%s: COPY failed: %s", table, PQerrorMessage(conn));
        return HIVE_ERR_PG;
    }
    r = PQgetResult(conn);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : result_error(r, table, err, cap);
    if (!rc) PQclear(r);
    while ((r = PQgetResult(conn))) PQclear(r);
    return rc;
}

int pg_batch_flush(PGconn *conn, const proj_service *svc, proj_rows *rows, int empty_after,
                   char *err, size_t cap) {
    int64_t counts[16];
    for (int i = 0; i < svc->stage_count; i++) {
        const hive_buf *data = proj_rows_data(rows, i, &counts[i]);
        if (counts[i] && copy_in(conn, svc->stages[i].table, data, err, cap)) return HIVE_ERR_PG;
    }
    for (int i = 0; i < svc->stage_count; i++) {
        if (counts[i] == 0) continue;
        PGresult *r = PQexec(conn, svc->stages[i].flush_sql);
        /* A flush is a statement or a SELECT of an apply function. */
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            return result_error(r, svc->stages[i].table, err, cap);
        PQclear(r);
    }
    /* Checked after every stage ran: a stage's rows may be completed by a later stage. */
    for (int i = 0; i < svc->stage_count; i++) {
        if (counts[i] == 0 || !svc->stages[i].verify_sql) continue;
        PGresult *r = PQexec(conn, svc->stages[i].verify_sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) return result_error(r, svc->stages[i].table, err, cap);
        long bad = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (bad) {
            snprintf(err, cap, "%s: %ld staged row(s) changed nothing in the read model",
                     svc->stages[i].table, bad);
            return HIVE_ERR_PG;
        }
    }
    /* Stages are emptied at commit; a transaction that flushes several
     * times (isolating a bad event) empties them in between. DELETE, not
     * TRUNCATE: TRUNCATE rewrites the table's catalog entry each time. */
    for (int i = 0; empty_after && i < svc->stage_count; i++) {
        if (counts[i] == 0) continue;
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM %s", svc->stages[i].table);
        if (hive_pg_exec(conn, sql)) {
            snprintf(err, cap, "cannot empty staging table %s", svc->stages[i].table);
            return HIVE_ERR_PG;
        }
    }
    return 0;
}
