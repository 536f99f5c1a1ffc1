/* Checkpoint note texts (see hive_checkpoint.h). Parsing is strict about
 * the three mandatory lines, so one tree head has exactly one text and a
 * signature over it cannot be re-read as another. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hive_checkpoint.h"
#include "hive_err.h"
#include "hive_note.h"

static int fail(char *err, size_t cap, const char *msg) {
    if (err && cap) snprintf(err, cap, "%s", msg);
    return HIVE_ERR_INVALID;
}

/* Next line [*p, nl); returns its length or -1 when no newline is left. */
static long next_line(const char **p, const char *end, const char **line) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return -1;
    *line = *p;
    long n = (long)(nl - *p);
    *p = nl + 1;
    return n;
}

int hive_checkpoint_parse(const char *text, size_t len, hive_checkpoint *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len, *line;
    long n = next_line(&p, end, &line);
    if (n <= 0) return fail(err, errcap, "checkpoint: missing origin line");
    if ((size_t)n >= sizeof out->origin) return fail(err, errcap, "checkpoint: origin too long");
    memcpy(out->origin, line, (size_t)n);
    out->origin[n] = '\0';
    if (memchr(line, '\0', (size_t)n)) return fail(err, errcap, "checkpoint: NUL in origin");

    n = next_line(&p, end, &line);
    if (n <= 0 || n > 19) return fail(err, errcap, "checkpoint: missing or overlong tree size line");
    if (n > 1 && line[0] == '0') return fail(err, errcap, "checkpoint: tree size has a leading zero");
    uint64_t size = 0;
    for (long i = 0; i < n; i++) {
        if (line[i] < '0' || line[i] > '9') return fail(err, errcap, "checkpoint: tree size is not a decimal number");
        size = size * 10 + (uint64_t)(line[i] - '0');
    }
    if (size > (uint64_t)INT64_MAX) return fail(err, errcap, "checkpoint: tree size out of range");
    out->size = size;

    n = next_line(&p, end, &line);
    size_t root_len = 0;
    if (n != 44 || hive_b64_decode(line, (size_t)n, out->root.b, sizeof out->root.b, &root_len) ||
        root_len != HIVE_HASH_LEN)
        return fail(err, errcap, "checkpoint: root hash line is not base64 of 32 bytes");

    while (p < end) {
        n = next_line(&p, end, &line);
        if (n < 0) return fail(err, errcap, "checkpoint: last line lacks its newline");
        if (n == 0) return fail(err, errcap, "checkpoint: empty extension line");
        out->extension_lines++;
    }
    return 0;
}

int hive_checkpoint_format(const char *origin, uint64_t size, const hive_hash *root, hive_buf *out) {
    char b64[sodium_base64_ENCODED_LEN(HIVE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, root->b, HIVE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
    size_t need = strlen(origin) + 64 + sizeof b64;
    if (hive_buf_reserve(out, need)) return HIVE_ERR_NOMEM;
    int n = snprintf(out->data, out->cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
    if (n < 0 || (size_t)n >= out->cap) return HIVE_ERR_INVALID;
    out->len = (size_t)n;
    return 0;
}

void hive_checkpoint_origin(const char *prefix, const char *topic, int partition, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s/%d", prefix, topic, partition);
}
