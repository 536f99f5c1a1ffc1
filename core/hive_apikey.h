/* API keys "hk_<prefix>_<secret>" and their scopes. A key is stored only as
 * its prefix (to find it) and a keyed BLAKE2b-256 hash of the whole key
 * (the key of that hash, the "pepper", is a 32-byte file only intake
 * processes read), so neither the log nor a read model can reveal a key. */
#ifndef HIVE_APIKEY_H
#define HIVE_APIKEY_H

#include <stddef.h>

#define HIVE_APIKEY_PREFIX_LEN 12 /* hex */
#define HIVE_APIKEY_SECRET_LEN 64 /* hex */
#define HIVE_APIKEY_LEN (3 + HIVE_APIKEY_PREFIX_LEN + 1 + HIVE_APIKEY_SECRET_LEN)
#define HIVE_APIKEY_HASH_HEX 64
#define HIVE_PEPPER_BYTES 32

enum {
    HIVE_SCOPE_PRESENCE_WRITE = 1 << 0,
    HIVE_SCOPE_TASKS_WRITE = 1 << 1,
    HIVE_SCOPE_BILLING_WRITE = 1 << 2,
    HIVE_SCOPE_IDENTITY_ADMIN = 1 << 3,
    HIVE_SCOPE_AUDIT_READ = 1 << 4,
};

/* Scope bit of a scope name ("tasks:write"), 0 when unknown. */
unsigned hive_scope_bit(const char *name);
/* The scope a command of a service needs ("tasks" -> tasks:write). */
unsigned hive_scope_for_service(const char *service);
/* Name of a single scope bit. */
const char *hive_scope_name(unsigned bit);

/* Generates a new key: key_out gets "hk_<prefix>_<secret>" (NUL-terminated,
 * HIVE_APIKEY_LEN + 1 bytes), prefix_out the prefix. */
void hive_apikey_generate(char key_out[HIVE_APIKEY_LEN + 1],
                          char prefix_out[HIVE_APIKEY_PREFIX_LEN + 1]);
/* Splits a presented key; 0 when well-formed (prefix_out filled). */
int hive_apikey_parse(const char *key, char prefix_out[HIVE_APIKEY_PREFIX_LEN + 1]);
/* hex(BLAKE2b-256(key = pepper, message = the whole key string)). */
void hive_apikey_hash(const unsigned char pepper[HIVE_PEPPER_BYTES], const char *key,
                      char hash_hex_out[HIVE_APIKEY_HASH_HEX + 1]);

/* Reads the pepper file (64 hex characters). With create, a missing file
 * is created (0600) from fresh random bytes. Returns 0 or a hive_err;
 * err says why. */
int hive_pepper_load(const char *path, int create, unsigned char pepper[HIVE_PEPPER_BYTES],
                     char *err, size_t errcap);

#endif
