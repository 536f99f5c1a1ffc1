/* Audit settings (see audit_config.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit_config.h"
#include "hive_err.h"

static void str(char *dst, size_t cap, const char *env, const char *def) {
    const char *v = getenv(env);
    snprintf(dst, cap, "%s", v && *v ? v : def);
}

double audit_config_seconds(const char *s) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || end == s || *end || !isfinite(v) || v <= 0 || v > 86400) return -1;
    return v;
}

int audit_config_load(audit_config *c) {
    memset(c, 0, sizeof *c);
    str(c->dir, sizeof c->dir, "HIVE_AUDIT_DIR", "hivelog-audit");
    str(c->key_file, sizeof c->key_file, "HIVE_AUDIT_KEY", "");
    str(c->pub_key, sizeof c->pub_key, "HIVE_AUDIT_PUBKEY", "");
    str(c->origin, sizeof c->origin, "HIVE_AUDIT_ORIGIN", "");
    c->every = 1000;
    c->interval_s = 10;
    const char *v = getenv("HIVE_SEAL_EVERY");
    if (v && *v) {
        char *end = NULL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || !end || *end || n < 1 || n > 100000000) {
            fprintf(stderr, "hivelog: HIVE_SEAL_EVERY=%s is not an integer in [1, 100000000]\n", v);
            return HIVE_ERR_INVALID;
        }
        c->every = n;
    }
    v = getenv("HIVE_SEAL_INTERVAL");
    if (v && *v) {
        if ((c->interval_s = audit_config_seconds(v)) < 0) {
            fprintf(stderr, "hivelog: HIVE_SEAL_INTERVAL=%s is not a number of seconds in (0, 86400]\n", v);
            return HIVE_ERR_INVALID;
        }
    }
    return 0;
}

void audit_config_print(const audit_config *c, FILE *out) {
    fprintf(out, "HIVE_AUDIT_DIR=%s\n", c->dir);
    fprintf(out, "HIVE_AUDIT_KEY=%s\n", c->key_file);
    fprintf(out, "HIVE_AUDIT_PUBKEY=%s\n", c->pub_key);
    fprintf(out, "HIVE_AUDIT_ORIGIN=%s\n", c->origin[0] ? c->origin : "(the key's name)");
    fprintf(out, "HIVE_SEAL_EVERY=%ld\n", c->every);
    fprintf(out, "HIVE_SEAL_INTERVAL=%g\n", c->interval_s);
}
