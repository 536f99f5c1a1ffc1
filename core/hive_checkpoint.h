/* C2SP tlog-checkpoint note text (c2sp.org/tlog-checkpoint):
 *
 *   <origin>\n<tree size, decimal, no leading zeros>\n<base64 root hash>\n[<extension line>\n...]
 *
 * hivelog's origins name one topic-partition: "<prefix>/<topic>/<partition>",
 * e.g. "hivelog.example/hive.presence.events/0"; the prefix defaults to the
 * signing key's name. */
#ifndef HIVE_CHECKPOINT_H
#define HIVE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "hive_codec.h"
#include "hive_merkle.h"

#define HIVE_ORIGIN_MAX 512

typedef struct {
    char origin[HIVE_ORIGIN_MAX];
    uint64_t size;
    hive_hash root;
    int extension_lines; /* opaque, counted only */
} hive_checkpoint;

/* Parses a checkpoint text (the signed part of the note). 0 or
 * HIVE_ERR_INVALID with the reason in err. */
int hive_checkpoint_parse(const char *text, size_t len, hive_checkpoint *out, char *err, size_t errcap);
/* Writes the three mandatory lines into out (replacing its contents). */
int hive_checkpoint_format(const char *origin, uint64_t size, const hive_hash *root, hive_buf *out);
/* "<prefix>/<topic>/<partition>" into out. */
void hive_checkpoint_origin(const char *prefix, const char *topic, int partition, char *out, size_t cap);

#endif
