/* API key generation, parsing and hashing (see hive_apikey.h). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hive_apikey.h"
#include "hive_err.h"

static const struct {
    const char *name;
    unsigned bit;
    const char *service;
} scopes[] = {
    {"presence:write", HIVE_SCOPE_PRESENCE_WRITE, "presence"},
    {"tasks:write", HIVE_SCOPE_TASKS_WRITE, "tasks"},
    {"billing:write", HIVE_SCOPE_BILLING_WRITE, "billing"},
    {"identity:admin", HIVE_SCOPE_IDENTITY_ADMIN, "identity"},
    {"audit:read", HIVE_SCOPE_AUDIT_READ, NULL},
};
#define NSCOPES (sizeof scopes / sizeof scopes[0])

unsigned hive_scope_bit(const char *name) {
    for (size_t i = 0; i < NSCOPES; i++)
        if (strcmp(scopes[i].name, name) == 0) return scopes[i].bit;
    return 0;
}

unsigned hive_scope_for_service(const char *service) {
    for (size_t i = 0; i < NSCOPES; i++)
        if (scopes[i].service && strcmp(scopes[i].service, service) == 0) return scopes[i].bit;
    return 0;
}

const char *hive_scope_name(unsigned bit) {
    for (size_t i = 0; i < NSCOPES; i++)
        if (scopes[i].bit == bit) return scopes[i].name;
    return "?";
}

void hive_apikey_generate(char key_out[HIVE_APIKEY_LEN + 1],
                          char prefix_out[HIVE_APIKEY_PREFIX_LEN + 1]) {
    unsigned char p[HIVE_APIKEY_PREFIX_LEN / 2], s[HIVE_APIKEY_SECRET_LEN / 2];
    randombytes_buf(p, sizeof p);
    randombytes_buf(s, sizeof s);
    char secret[HIVE_APIKEY_SECRET_LEN + 1];
    sodium_bin2hex(prefix_out, HIVE_APIKEY_PREFIX_LEN + 1, p, sizeof p);
    sodium_bin2hex(secret, sizeof secret, s, sizeof s);
    snprintf(key_out, HIVE_APIKEY_LEN + 1, "hk_%s_%s", prefix_out, secret);
    sodium_memzero(s, sizeof s);
    sodium_memzero(secret, sizeof secret);
}

static int all_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int hive_apikey_parse(const char *key, char prefix_out[HIVE_APIKEY_PREFIX_LEN + 1]) {
    if (!key || strlen(key) != HIVE_APIKEY_LEN || strncmp(key, "hk_", 3) != 0 ||
        key[3 + HIVE_APIKEY_PREFIX_LEN] != '_' || !all_hex(key + 3, HIVE_APIKEY_PREFIX_LEN) ||
        !all_hex(key + 4 + HIVE_APIKEY_PREFIX_LEN, HIVE_APIKEY_SECRET_LEN))
        return HIVE_ERR_INVALID;
    memcpy(prefix_out, key + 3, HIVE_APIKEY_PREFIX_LEN);
    prefix_out[HIVE_APIKEY_PREFIX_LEN] = '\0';
    return 0;
}

void hive_apikey_hash(const unsigned char pepper[HIVE_PEPPER_BYTES], const char *key,
                      char hash_hex_out[HIVE_APIKEY_HASH_HEX + 1]) {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), pepper,
                       HIVE_PEPPER_BYTES);
    sodium_bin2hex(hash_hex_out, HIVE_APIKEY_HASH_HEX + 1, h, sizeof h);
}

int hive_pepper_load(const char *path, int create, unsigned char pepper[HIVE_PEPPER_BYTES],
                     char *err, size_t errcap) {
    char hex[2 * HIVE_PEPPER_BYTES + 2] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        unsigned char fresh[HIVE_PEPPER_BYTES];
        randombytes_buf(fresh, sizeof fresh);
        sodium_bin2hex(hex, sizeof hex, fresh, sizeof fresh);
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w < 0 || write(w, hex, 2 * HIVE_PEPPER_BYTES) != 2 * HIVE_PEPPER_BYTES ||
            fsync(w) || close(w) || rename(tmp, path)) {
            snprintf(err, errcap, "cannot create %s: %s", path, strerror(errno));
            if (w >= 0) close(w);
            return HIVE_ERR_IO;
        }
        memcpy(pepper, fresh, sizeof fresh);
        sodium_memzero(fresh, sizeof fresh);
        return 0;
    }
    if (fd < 0) {
        snprintf(err, errcap,
                 "cannot read the API key pepper %s: %s (HIVE_API_KEY_PEPPER_FILE; "
                 "`hivelog bootstrap` creates it)",
                 path, strerror(errno));
        return HIVE_ERR_IO;
    }
    ssize_t n = read(fd, hex, sizeof hex - 1);
    close(fd);
    while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r')) hex[--n] = '\0';
    size_t bin_len = 0;
    if (n != 2 * HIVE_PEPPER_BYTES ||
        sodium_hex2bin(pepper, HIVE_PEPPER_BYTES, hex, (size_t)n, NULL, &bin_len, NULL) ||
        bin_len != HIVE_PEPPER_BYTES) {
        snprintf(err, errcap, "%s must hold %d hex characters", path, 2 * HIVE_PEPPER_BYTES);
        return HIVE_ERR_INVALID;
    }
    return 0;
}
