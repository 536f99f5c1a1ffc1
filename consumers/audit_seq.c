/* Leaf sequencing of an events topic-partition (see audit_seq.h). */
#include <stdio.h>
#include <string.h>

#include "audit_seq.h"

void audit_seq_init(audit_seq *s) {
    s->next_seq = 0;
    s->rewrite_next = -1;
    s->rewrite_offset = -1;
    s->rewrite_seq = -1;
    s->last_offset = -1;
}

audit_step audit_seq_foreign(audit_seq *s, int64_t offset) {
    if (offset <= s->last_offset) return AUDIT_ERR_OFFSET;
    s->last_offset = offset;
    return AUDIT_LEAF;
}

audit_step audit_seq_event(audit_seq *s, int64_t offset, int64_t seq, const hive_hash *leaf,
                           audit_leaf_fn leaf_at, void *ctx, int64_t *index) {
    if (offset <= s->last_offset) return AUDIT_ERR_OFFSET;
    if (seq > s->next_seq) return AUDIT_ERR_GAP;
    if (seq == s->next_seq) {
        if (s->rewrite_next >= 0 && s->rewrite_next != s->next_seq) return AUDIT_ERR_REWRITE;
        s->rewrite_next = -1;
        s->rewrite_offset = -1;
        s->last_offset = offset;
        *index = s->next_seq++;
        return AUDIT_LEAF;
    }
    /* A lower seq: a re-write starts (at any earlier leaf) or continues. */
    if (seq < 0) return AUDIT_ERR_CHANGED;
    if (s->rewrite_next >= 0 && seq > s->rewrite_next) return AUDIT_ERR_REWRITE;
    hive_hash old;
    if (!leaf_at || leaf_at(ctx, seq, &old) || memcmp(old.b, leaf->b, HIVE_HASH_LEN) != 0)
        return AUDIT_ERR_CHANGED;
    if (s->rewrite_next < 0 || seq < s->rewrite_next) {
        s->rewrite_offset = offset;
        s->rewrite_seq = seq;
    }
    s->rewrite_next = seq + 1;
    if (s->rewrite_next == s->next_seq) {
        s->rewrite_next = -1; /* caught up: the run is complete */
        s->rewrite_offset = -1;
    }
    s->last_offset = offset;
    *index = seq;
    return AUDIT_DUPLICATE;
}

const char *audit_step_code(audit_step st) {
    switch (st) {
    case AUDIT_LEAF: return "leaf";
    case AUDIT_DUPLICATE: return "duplicate";
    case AUDIT_ERR_OFFSET: return "offset_not_increasing";
    case AUDIT_ERR_GAP: return "event_missing";
    case AUDIT_ERR_CHANGED: return "event_changed";
    case AUDIT_ERR_REWRITE: return "event_inserted";
    }
    return "unknown";
}

void audit_seq_describe(const audit_seq *s, audit_step st, int64_t offset, int64_t seq, char *out,
                        size_t cap) {
    switch (st) {
    case AUDIT_ERR_OFFSET:
        snprintf(out, cap, "record at offset %lld does not follow offset %lld", (long long)offset,
                 (long long)s->last_offset);
        break;
    case AUDIT_ERR_GAP:
        snprintf(out, cap, "event seq %lld is missing: the next record (offset %lld) has seq %lld",
                 (long long)s->next_seq, (long long)offset, (long long)seq);
        break;
    case AUDIT_ERR_CHANGED:
        snprintf(out, cap, "record at offset %lld has seq %lld, already taken by another event "
                 "(out of order, or a changed copy)", (long long)offset, (long long)seq);
        break;
    case AUDIT_ERR_REWRITE:
        snprintf(out, cap, "record at offset %lld repeats earlier event seq %lld, but the repetition "
                 "breaks off at offset %lld (seq %lld where seq %lld should follow): inserted",
                 (long long)s->rewrite_offset, (long long)s->rewrite_seq, (long long)offset,
                 (long long)seq, (long long)s->rewrite_next);
        break;
    default:
        snprintf(out, cap, "ok");
    }
}
