/* Audit files: atomic writes, directory walks, log dump files (see audit_files.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_files.h"
#include "hive_err.h"

void audit_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

int audit_mkdirs(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return HIVE_ERR_IO;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST) return HIVE_ERR_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return HIVE_ERR_IO;
    return 0;
}

int audit_sync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return HIVE_ERR_IO;
    int rc = fsync(fd) ? HIVE_ERR_IO : 0;
    close(fd);
    return rc;
}

int audit_write_atomic(const char *path, const void *data, size_t len, int mode) {
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) return HIVE_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return HIVE_ERR_IO;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd)) goto fail;
    if (close(fd)) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path)) goto fail;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    return audit_sync_dir(slash ? dir : ".");
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return HIVE_ERR_IO;
}

int audit_read_file(const char *path, size_t max, hive_buf *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? HIVE_ERR_NOT_FOUND : HIVE_ERR_IO;
    out->len = 0;
    int rc = 0;
    for (;;) {
        if (hive_buf_reserve(out, out->len + 4097)) {
            rc = HIVE_ERR_NOMEM;
            break;
        }
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = HIVE_ERR_IO;
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        if (out->len > max) {
            rc = HIVE_ERR_IO;
            break;
        }
    }
    close(fd);
    if (!rc) out->data[out->len] = '\0';
    return rc;
}

void audit_partition_dir(const char *root, const char *topic, int partition, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s/%d", root, topic, partition);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parses "<decimal>.checkpoint" (no leading zeros but "0"). */
static int checkpoint_name(const char *name, uint64_t *size) {
    const char *dot = strchr(name, '.');
    if (!dot || dot == name || strcmp(dot, ".checkpoint") != 0 || dot - name > 19) return 0;
    if (name[0] == '0' && dot - name > 1) return 0;
    uint64_t v = 0;
    for (const char *p = name; p < dot; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *size = v;
    return 1;
}

int audit_list_checkpoints(const char *dir, uint64_t **sizes, int *n) {
    *sizes = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : HIVE_ERR_IO;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t size;
        if (!checkpoint_name(e->d_name, &size)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*sizes, (size_t)cap * sizeof *p);
            if (!p) {
                closedir(d);
                free(*sizes);
                *sizes = NULL;
                *n = 0;
                return HIVE_ERR_NOMEM;
            }
            *sizes = p;
        }
        (*sizes)[(*n)++] = size;
    }
    closedir(d);
    if (*n) qsort(*sizes, (size_t)*n, sizeof **sizes, cmp_u64);
    return 0;
}

static int parse_partition(const char *s, const char *suffix, int *out) {
    size_t slen = strlen(suffix), len = strlen(s);
    if (len <= slen || strcmp(s + len - slen, suffix) != 0 || len - slen > 7) return 0;
    int v = 0;
    for (size_t i = 0; i < len - slen; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (len - slen > 1 && s[0] == '0') return 0;
    *out = v;
    return 1;
}

int audit_list_partitions(const char *root, int records_files, audit_part_fn fn, void *ctx) {
    DIR *d = opendir(root);
    if (!d) return errno == ENOENT ? 0 : HIVE_ERR_IO;
    struct dirent *t;
    int rc = 0;
    while (!rc && (t = readdir(d))) {
        if (t->d_name[0] == '.' || !strcmp(t->d_name, "log") || !strcmp(t->d_name, "checkpoints")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", root, t->d_name);
        struct stat st;
        if (stat(sub, &st) || !S_ISDIR(st.st_mode)) continue;
        DIR *pd = opendir(sub);
        if (!pd) continue;
        struct dirent *p;
        while (!rc && (p = readdir(pd))) {
            int part;
            if (!parse_partition(p->d_name, records_files ? ".records" : "", &part)) continue;
            if (!records_files) {
                char pp[PATH_MAX + 260];
                snprintf(pp, sizeof pp, "%s/%s", sub, p->d_name);
                if (stat(pp, &st) || !S_ISDIR(st.st_mode)) continue;
            }
            rc = fn(ctx, t->d_name, part);
        }
        closedir(pd);
    }
    closedir(d);
    return rc;
}

int audit_schemas_load(const char *dir, audit_schema **out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : HIVE_ERR_IO;
    struct dirent *e;
    int cap = 0, rc = 0;
    while (!rc && (e = readdir(d))) {
        int id;
        if (!parse_partition(e->d_name, ".avsc", &id) || id <= 0) continue;
        char path[PATH_MAX + 300];
        hive_buf buf = {0};
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((rc = audit_read_file(path, 4 << 20, &buf))) break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            audit_schema *p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) {
                hive_buf_free(&buf);
                rc = HIVE_ERR_NOMEM;
                break;
            }
            *out = p;
        }
        (*out)[*n].id = id;
        (*out)[(*n)++].text = buf.data; /* NUL-terminated by audit_read_file */
    }
    closedir(d);
    if (rc) {
        audit_schemas_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void audit_schemas_free(audit_schema *s, int n) {
    for (int i = 0; i < n; i++) free(s[i].text);
    free(s);
}

/* ------------------------------------------------------------ dump files */

int audit_dump_open(audit_dump_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? HIVE_ERR_NOT_FOUND : HIVE_ERR_IO;
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return HIVE_ERR_IO;
    }
    r->size = (size_t)st.st_size;
    if (r->size < AUDIT_DUMP_MAGIC_LEN) {
        close(fd);
        return HIVE_ERR_INVALID;
    }
    void *m = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return HIVE_ERR_IO;
    madvise(m, r->size, MADV_SEQUENTIAL);
    r->base = m;
    if (memcmp(r->base, AUDIT_DUMP_MAGIC, AUDIT_DUMP_MAGIC_LEN) != 0) {
        audit_dump_close(r);
        return HIVE_ERR_INVALID;
    }
    r->pos = AUDIT_DUMP_MAGIC_LEN;
    return 0;
}

void audit_dump_close(audit_dump_reader *r) {
    if (r->base) munmap((void *)r->base, r->size);
    memset(r, 0, sizeof *r);
}

static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int audit_dump_at(const audit_dump_reader *r, size_t at, int64_t *offset, const uint8_t **value, size_t *len) {
    if (at > r->size || r->size - at < 12) return HIVE_ERR_INVALID;
    *offset = (int64_t)be64(r->base + at);
    uint32_t n = be32(r->base + at + 8);
    if (n == AUDIT_DUMP_NULL) {
        *value = NULL;
        *len = 0;
        return 0;
    }
    if (r->size - at - 12 < n) return HIVE_ERR_INVALID;
    *value = r->base + at + 12;
    *len = n;
    return 0;
}

int audit_dump_next(audit_dump_reader *r, int64_t *offset, const uint8_t **value, size_t *len, size_t *at) {
    if (r->pos == r->size) return 0;
    if (audit_dump_at(r, r->pos, offset, value, len)) return HIVE_ERR_INVALID;
    *at = r->pos;
    r->pos += 12 + (*value ? *len : 0);
    return 1;
}

int audit_dump_write_header(FILE *f) {
    return fwrite(AUDIT_DUMP_MAGIC, 1, AUDIT_DUMP_MAGIC_LEN, f) == AUDIT_DUMP_MAGIC_LEN ? 0 : HIVE_ERR_IO;
}

int audit_dump_write_record(FILE *f, int64_t offset, const void *value, size_t len) {
    uint8_t h[12];
    uint64_t o = (uint64_t)offset;
    uint32_t n = value ? (uint32_t)len : AUDIT_DUMP_NULL;
    if (value && len >= AUDIT_DUMP_NULL) return HIVE_ERR_INVALID;
    for (int i = 0; i < 8; i++) h[i] = (uint8_t)(o >> (56 - 8 * i));
    for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(n >> (24 - 8 * i));
    if (fwrite(h, 1, sizeof h, f) != sizeof h) return HIVE_ERR_IO;
    if (value && len && fwrite(value, 1, len, f) != len) return HIVE_ERR_IO;
    return 0;
}
