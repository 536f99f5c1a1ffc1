/* Applying one batch of staged projection rows to PostgreSQL: COPY into
 * the service's temp staging tables, run each stage's flush SQL in order,
 * check its verify SQL, and empty the stages. Runs inside the caller's
 * transaction. */
#ifndef HIVE_PG_BATCH_H
#define HIVE_PG_BATCH_H

#include <libpq-fe.h>

#include "projection.h"

/* Creates the service's temp staging tables on this connection. */
int pg_batch_prepare(PGconn *conn, const proj_service *svc);

/* Flushes rows; with empty_after the stages are emptied before returning
 * (otherwise at commit). On failure returns HIVE_ERR_PG, message in err. */
int pg_batch_flush(PGconn *conn, const proj_service *svc, proj_rows *rows, int empty_after,
                   char *err, size_t cap);

#endif
