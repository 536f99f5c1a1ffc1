/* PostgreSQL plumbing shared by projectors and tools: connecting with
 * clear errors, creating a service's database on first use, and applying
 * sql/<service>/NNNN_name.sql migrations in order, each in a transaction,
 * recorded with a checksum in hive_migrations (an applied migration that
 * was edited afterwards is refused). */
#ifndef HIVE_PG_H
#define HIVE_PG_H

#include <libpq-fe.h>

/* Connects; on failure logs the masked DSN and the server's message and
 * returns NULL. The caller owns the connection (PQfinish). */
PGconn *hive_pg_connect(const char *dsn);

/* Creates the database named by dsn's dbname if it does not exist, by
 * connecting to the server's "postgres" database. */
int hive_pg_ensure_database(const char *dsn);

/* Applies pending migrations from dir. Returns 0, HIVE_ERR_PG, HIVE_ERR_IO
 * or HIVE_ERR_CONFLICT (an applied file changed). */
int hive_pg_migrate(PGconn *conn, const char *dir);

/* Runs one statement without parameters; logs and returns HIVE_ERR_PG on failure. */
int hive_pg_exec(PGconn *conn, const char *sql);

#endif
