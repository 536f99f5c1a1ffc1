/* Merkle trees of RFC 6962 / RFC 9162 (SHA-256, libsodium): each audited
 * topic-partition is such a log, leaf i being the record value of the event
 * with meta.seq = i. Leaf hash = SHA-256(0x00 || bytes), node hash =
 * SHA-256(0x01 || left || right); the tree of n leaves splits at the largest
 * power of two below n.
 *
 * Two shapes of the same tree:
 *  - hive_merkle_frontier: the right edge only (one hash per set bit of the
 *    size, at most 64), enough to append and to compute the current root.
 *    The sealer keeps this, and it fits in a small state file.
 *  - hive_merkle_tree: every complete subtree hash (about 2 hashes per
 *    leaf), so the root of any earlier size, inclusion proofs and
 *    consistency proofs cost O(log n). The verifier and the prover build it.
 * Plus the RFC 9162 proof verifiers, which need no tree at all. */
#ifndef HIVE_MERKLE_H
#define HIVE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define HIVE_HASH_LEN 32
#define HIVE_MERKLE_MAX_PROOF 64 /* hashes in any proof of a tree below 2^63 leaves */

typedef struct {
    uint8_t b[HIVE_HASH_LEN];
} hive_hash;

/* SHA-256(0x00 || data). */
void hive_merkle_leaf_hash(const void *data, size_t len, hive_hash *out);
/* SHA-256(0x01 || left || right). out may alias left or right. */
void hive_merkle_node_hash(const hive_hash *left, const hive_hash *right, hive_hash *out);
/* Root of the empty tree: SHA-256 of nothing. */
void hive_merkle_empty_root(hive_hash *out);

/* ---- right edge of a tree ---- */
typedef struct {
    uint64_t size;
    int count;                   /* hashes in use: popcount(size) */
    hive_hash nodes[64];         /* complete subtrees, largest (leftmost) first */
} hive_merkle_frontier;

void hive_merkle_frontier_init(hive_merkle_frontier *f);
void hive_merkle_frontier_append(hive_merkle_frontier *f, const hive_hash *leaf);
void hive_merkle_frontier_root(const hive_merkle_frontier *f, hive_hash *out);
/* Rebuilds a frontier from its hashes (as stored): HIVE_ERR_INVALID when
 * count does not match popcount(size). */
int hive_merkle_frontier_set(hive_merkle_frontier *f, uint64_t size, const hive_hash *nodes, int count);

/* ---- every complete subtree ---- */
typedef struct hive_merkle_tree hive_merkle_tree;

/* NULL when out of memory. The caller frees with hive_merkle_tree_destroy. */
hive_merkle_tree *hive_merkle_tree_new(void);
void hive_merkle_tree_destroy(hive_merkle_tree *t);
/* Appends a leaf hash; 0 or HIVE_ERR_NOMEM (the tree is then unchanged). */
int hive_merkle_tree_append(hive_merkle_tree *t, const hive_hash *leaf);
uint64_t hive_merkle_tree_size(const hive_merkle_tree *t);
/* Borrowed leaf hash i (< size). */
const hive_hash *hive_merkle_tree_leaf(const hive_merkle_tree *t, uint64_t i);
/* Root of the first size leaves; HIVE_ERR_INVALID when size > tree size. */
int hive_merkle_tree_root(const hive_merkle_tree *t, uint64_t size, hive_hash *out);
/* Audit path of leaf index in the tree of the first size leaves (RFC 6962
 * PATH), leaf-side first, into out[HIVE_MERKLE_MAX_PROOF]; *n = its length. */
int hive_merkle_tree_inclusion(const hive_merkle_tree *t, uint64_t index, uint64_t size,
                               hive_hash *out, int *n);
/* Consistency proof from size1 to size2 (RFC 6962 PROOF), 0 < size1 <= size2. */
int hive_merkle_tree_consistency(const hive_merkle_tree *t, uint64_t size1, uint64_t size2,
                                 hive_hash *out, int *n);

/* ---- verifiers (RFC 9162 2.1.3.2 and 2.1.4.2) ---- */
/* 0 when path proves leaf is entry index of the tree of size with this root,
 * else HIVE_ERR_INVALID. */
int hive_merkle_verify_inclusion(uint64_t index, uint64_t size, const hive_hash *leaf,
                                 const hive_hash *path, int n, const hive_hash *root);
/* 0 when path proves the tree (size1, root1) is a prefix of (size2, root2). */
int hive_merkle_verify_consistency(uint64_t size1, uint64_t size2, const hive_hash *root1,
                                   const hive_hash *root2, const hive_hash *path, int n);

#endif
