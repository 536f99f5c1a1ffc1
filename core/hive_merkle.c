/* RFC 6962 Merkle trees and proofs (see hive_merkle.h). The tree keeps one
 * array of complete-subtree hashes per level; level L entry i covers leaves
 * [i * 2^L, (i + 1) * 2^L). Every range the RFC's recursion visits starts at
 * a multiple of a power of two at least as large as the range, so its hash
 * is a right fold over at most 64 stored entries. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hive_err.h"
#include "hive_merkle.h"

void hive_merkle_leaf_hash(const void *data, size_t len, hive_hash *out) {
    crypto_hash_sha256_state st;
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len) crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out->b);
}

void hive_merkle_node_hash(const hive_hash *left, const hive_hash *right, hive_hash *out) {
    uint8_t in[1 + 2 * HIVE_HASH_LEN];
    in[0] = 0x01;
    memcpy(in + 1, left->b, HIVE_HASH_LEN);
    memcpy(in + 1 + HIVE_HASH_LEN, right->b, HIVE_HASH_LEN);
    crypto_hash_sha256(out->b, in, sizeof in);
}

void hive_merkle_empty_root(hive_hash *out) { crypto_hash_sha256(out->b, NULL, 0); }

static int same(const hive_hash *a, const hive_hash *b) {
    return sodium_memcmp(a->b, b->b, HIVE_HASH_LEN) == 0;
}

/* Largest power of two strictly below n (n >= 2): the RFC's split point. */
static uint64_t split(uint64_t n) { return (uint64_t)1 << (63 - __builtin_clzll(n - 1)); }

/* ------------------------------------------------------------ frontier */

void hive_merkle_frontier_init(hive_merkle_frontier *f) { memset(f, 0, sizeof *f); }

void hive_merkle_frontier_append(hive_merkle_frontier *f, const hive_hash *leaf) {
    hive_hash h = *leaf;
    /* Each trailing one bit of the old size is a complete subtree that the
     * new leaf completes into one twice as large. */
    for (uint64_t s = f->size; s & 1; s >>= 1) hive_merkle_node_hash(&f->nodes[--f->count], &h, &h);
    f->nodes[f->count++] = h;
    f->size++;
}

void hive_merkle_frontier_root(const hive_merkle_frontier *f, hive_hash *out) {
    if (f->count == 0) {
        hive_merkle_empty_root(out);
        return;
    }
    hive_hash acc = f->nodes[f->count - 1];
    for (int i = f->count - 2; i >= 0; i--) hive_merkle_node_hash(&f->nodes[i], &acc, &acc);
    *out = acc;
}

int hive_merkle_frontier_set(hive_merkle_frontier *f, uint64_t size, const hive_hash *nodes, int count) {
    if (count != __builtin_popcountll(size) || count > 64) return HIVE_ERR_INVALID;
    f->size = size;
    f->count = count;
    if (count) memcpy(f->nodes, nodes, (size_t)count * sizeof *nodes);
    return 0;
}

/* ------------------------------------------------------------ full tree */

typedef struct {
    hive_hash *h;
    uint64_t n, cap;
} level;

struct hive_merkle_tree {
    uint64_t size;
    int levels;
    level lv[64];
};

hive_merkle_tree *hive_merkle_tree_new(void) { return calloc(1, sizeof(hive_merkle_tree)); }

void hive_merkle_tree_destroy(hive_merkle_tree *t) {
    if (!t) return;
    for (int i = 0; i < t->levels; i++) free(t->lv[i].h);
    free(t);
}

static int level_push(level *l, const hive_hash *h) {
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? l->cap * 2 : 1024;
        hive_hash *p = realloc(l->h, cap * sizeof *p);
        if (!p) return HIVE_ERR_NOMEM;
        l->h = p;
        l->cap = cap;
    }
    l->h[l->n++] = *h;
    return 0;
}

int hive_merkle_tree_append(hive_merkle_tree *t, const hive_hash *leaf) {
    /* Reserve first so a failed allocation leaves the tree as it was. */
    int need = 1;
    for (uint64_t s = t->size; s & 1; s >>= 1) need++;
    for (int i = 0; i < need; i++) {
        level *l = &t->lv[i];
        if (l->n == l->cap) {
            uint64_t cap = l->cap ? l->cap * 2 : 1024;
            hive_hash *p = realloc(l->h, cap * sizeof *p);
            if (!p) return HIVE_ERR_NOMEM;
            l->h = p;
            l->cap = cap;
        }
    }
    level_push(&t->lv[0], leaf);
    for (int i = 1; i < need; i++) {
        level *below = &t->lv[i - 1];
        hive_hash parent;
        hive_merkle_node_hash(&below->h[below->n - 2], &below->h[below->n - 1], &parent);
        level_push(&t->lv[i], &parent);
    }
    if (need > t->levels) t->levels = need;
    t->size++;
    return 0;
}

uint64_t hive_merkle_tree_size(const hive_merkle_tree *t) { return t->size; }

const hive_hash *hive_merkle_tree_leaf(const hive_merkle_tree *t, uint64_t i) {
    return i < t->size ? &t->lv[0].h[i] : NULL;
}

/* MTH(D[lo:hi]) for 0 <= lo < hi <= size, lo aligned as the RFC recursion
 * guarantees: the binary digits of hi - lo, largest first, are complete
 * stored subtrees; fold them from the right. */
static void range_hash(const hive_merkle_tree *t, uint64_t lo, uint64_t hi, hive_hash *out) {
    const hive_hash *pieces[64];
    int n = 0;
    uint64_t pos = lo, len = hi - lo;
    for (int b = 63; b >= 0; b--) {
        if (!(len & ((uint64_t)1 << b))) continue;
        pieces[n++] = &t->lv[b].h[pos >> b];
        pos += (uint64_t)1 << b;
    }
    hive_hash acc = *pieces[n - 1];
    for (int i = n - 2; i >= 0; i--) hive_merkle_node_hash(pieces[i], &acc, &acc);
    *out = acc;
}

int hive_merkle_tree_root(const hive_merkle_tree *t, uint64_t size, hive_hash *out) {
    if (size > t->size) return HIVE_ERR_INVALID;
    if (size == 0) hive_merkle_empty_root(out);
    else range_hash(t, 0, size, out);
    return 0;
}

/* RFC 6962 2.1.1 PATH(m, D[lo:hi]), m absolute. */
static void path(const hive_merkle_tree *t, uint64_t m, uint64_t lo, uint64_t hi, hive_hash *out, int *n) {
    if (hi - lo <= 1) return;
    uint64_t k = split(hi - lo);
    if (m < lo + k) {
        path(t, m, lo, lo + k, out, n);
        range_hash(t, lo + k, hi, &out[(*n)++]);
    } else {
        path(t, m, lo + k, hi, out, n);
        range_hash(t, lo, lo + k, &out[(*n)++]);
    }
}

int hive_merkle_tree_inclusion(const hive_merkle_tree *t, uint64_t index, uint64_t size,
                               hive_hash *out, int *n) {
    *n = 0;
    if (size > t->size || index >= size) return HIVE_ERR_INVALID;
    path(t, index, 0, size, out, n);
    return 0;
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[lo:hi], b), m relative to lo. */
static void subproof(const hive_merkle_tree *t, uint64_t m, uint64_t lo, uint64_t hi, int b,
                     hive_hash *out, int *n) {
    if (m == hi - lo) {
        if (!b) range_hash(t, lo, hi, &out[(*n)++]);
        return;
    }
    uint64_t k = split(hi - lo);
    if (m <= k) {
        subproof(t, m, lo, lo + k, b, out, n);
        range_hash(t, lo + k, hi, &out[(*n)++]);
    } else {
        subproof(t, m - k, lo + k, hi, 0, out, n);
        range_hash(t, lo, lo + k, &out[(*n)++]);
    }
}

int hive_merkle_tree_consistency(const hive_merkle_tree *t, uint64_t size1, uint64_t size2,
                                 hive_hash *out, int *n) {
    *n = 0;
    if (size1 == 0 || size1 > size2 || size2 > t->size) return HIVE_ERR_INVALID;
    subproof(t, size1, 0, size2, 1, out, n);
    return 0;
}

/* ------------------------------------------------------------ verifiers */

int hive_merkle_verify_inclusion(uint64_t index, uint64_t size, const hive_hash *leaf,
                                 const hive_hash *proof, int n, const hive_hash *root) {
    if (index >= size || n < 0 || n > HIVE_MERKLE_MAX_PROOF) return HIVE_ERR_INVALID;
    uint64_t fn = index, sn = size - 1;
    hive_hash r = *leaf;
    for (int i = 0; i < n; i++) {
        if (sn == 0) return HIVE_ERR_INVALID;
        if ((fn & 1) || fn == sn) {
            hive_merkle_node_hash(&proof[i], &r, &r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            hive_merkle_node_hash(&r, &proof[i], &r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && same(&r, root) ? 0 : HIVE_ERR_INVALID;
}

int hive_merkle_verify_consistency(uint64_t size1, uint64_t size2, const hive_hash *root1,
                                   const hive_hash *root2, const hive_hash *proof, int n) {
    if (size1 > size2 || n < 0 || n > HIVE_MERKLE_MAX_PROOF) return HIVE_ERR_INVALID;
    if (size1 == size2) return n == 0 && same(root1, root2) ? 0 : HIVE_ERR_INVALID;
    if (size1 == 0) return n == 0 ? 0 : HIVE_ERR_INVALID;
    if (n == 0) return HIVE_ERR_INVALID;
    hive_hash p[HIVE_MERKLE_MAX_PROOF + 1];
    int np = 0;
    if ((size1 & (size1 - 1)) == 0) p[np++] = *root1; /* a complete first tree is its own node */
    memcpy(&p[np], proof, (size_t)n * sizeof *proof);
    np += n;
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    hive_hash fr = p[0], sr = p[0];
    for (int i = 1; i < np; i++) {
        if (sn == 0) return HIVE_ERR_INVALID;
        if ((fn & 1) || fn == sn) {
            hive_merkle_node_hash(&p[i], &fr, &fr);
            hive_merkle_node_hash(&p[i], &sr, &sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            hive_merkle_node_hash(&sr, &p[i], &sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && same(&fr, root1) && same(&sr, root2) ? 0 : HIVE_ERR_INVALID;
}
