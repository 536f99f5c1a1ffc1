/* Settings of the audit commands (`hivelog seal`, `hivelog audit ...`),
 * from HIVE_AUDIT_* / HIVE_SEAL_* environment variables; flags override. */
#ifndef HIVE_AUDIT_CONFIG_H
#define HIVE_AUDIT_CONFIG_H

#include <stdio.h>

typedef struct {
    char dir[1024];        /* HIVE_AUDIT_DIR: checkpoint directory, default "hivelog-audit" */
    char key_file[1024];   /* HIVE_AUDIT_KEY: the sealer's signer key file */
    char pub_key[1024];    /* HIVE_AUDIT_PUBKEY: verifier key file or text (verify, verify-proof) */
    char origin[256];      /* HIVE_AUDIT_ORIGIN: origin prefix, default the key's name */
    long every;            /* HIVE_SEAL_EVERY: checkpoint after this many new events (default 1000) */
    double interval_s;     /* HIVE_SEAL_INTERVAL: ... or this many seconds after the first unsealed one (10) */
} audit_config;

/* Defaults, then the environment. 0 or HIVE_ERR_INVALID (message on stderr). */
int audit_config_load(audit_config *c);
void audit_config_print(const audit_config *c, FILE *out);
/* Parses a positive decimal number of seconds ("0.5", "10"); -1 when invalid. */
double audit_config_seconds(const char *s);

#endif
