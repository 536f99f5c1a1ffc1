/* Unit tests for core/hive_merkle: the audit log's hashing must be RFC 6962's
 * exactly, or no outside verifier (Go's tlog, transparency-dev/merkle, a
 * witness) agrees with a single checkpoint hivelog signs.
 *
 *  - the Certificate Transparency reference vectors (transparency-dev/merkle
 *    testonly/constants.go and proof/verify_test.go): empty root, the 8 leaf
 *    inputs, the root of every size 0..8, interior node hashes, and the
 *    published inclusion and consistency proofs;
 *  - for every tree size 1..N, every inclusion proof and every consistency
 *    proof from the stored tree equals a naive recursive recomputation
 *    straight from the RFC's definitions, verifies, and stops verifying when
 *    any element, the index, a size or a root is wrong;
 *  - the frontier (sealer state) gives the same roots as the full tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hive_merkle.h"

#define N_EXHAUSTIVE 70

static hive_hash hx(const char *hex) {
    hive_hash h;
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(h.b, sizeof h.b, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, 32);
    return h;
}

static void assert_hash(const hive_hash *got, const char *want_hex) {
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, got->b, 32);
    assert_string_equal(hex, want_hex);
}

/* CT reference data. */
static const char *const ct_leaves_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const ct_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
/* Level-0 (leaf) hashes of the 8 inputs. */
static const char *const ct_leaf_hashes[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};

static hive_merkle_tree *ct_tree(hive_hash *leaves) {
    hive_merkle_tree *t = hive_merkle_tree_new();
    assert_non_null(t);
    for (int i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t len = 0;
        sodium_hex2bin(data, sizeof data, ct_leaves_hex[i], strlen(ct_leaves_hex[i]), NULL, &len, NULL);
        hive_merkle_leaf_hash(data, len, &leaves[i]);
        assert_int_equal(hive_merkle_tree_append(t, &leaves[i]), 0);
    }
    return t;
}

static void test_reference_roots(void **state) {
    (void)state;
    hive_hash leaves[8], root;
    hive_merkle_empty_root(&root);
    assert_hash(&root, ct_roots[0]);
    hive_merkle_tree *t = ct_tree(leaves);
    for (int i = 0; i < 8; i++) assert_hash(&leaves[i], ct_leaf_hashes[i]);
    hive_merkle_frontier f;
    hive_merkle_frontier_init(&f);
    for (uint64_t n = 0; n <= 8; n++) {
        assert_int_equal(hive_merkle_tree_root(t, n, &root), 0);
        assert_hash(&root, ct_roots[n]);
        hive_merkle_frontier_root(&f, &root);
        assert_hash(&root, ct_roots[n]);
        if (n < 8) hive_merkle_frontier_append(&f, &leaves[n]);
    }
    assert_int_not_equal(hive_merkle_tree_root(t, 9, &root), 0);
    /* Interior nodes of the reference tree: H(leaf0, leaf1) and H(leaf6, leaf7). */
    hive_hash node;
    hive_merkle_node_hash(&leaves[0], &leaves[1], &node);
    assert_hash(&node, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
    hive_merkle_node_hash(&leaves[6], &leaves[7], &node);
    assert_hash(&node, "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
    hive_merkle_tree_destroy(t);
}

typedef struct {
    uint64_t a, b; /* inclusion: leaf index (0-based), size; consistency: size1, size2 */
    int n;
    const char *proof[3];
} vector;

static void test_reference_proofs(void **state) {
    (void)state;
    hive_hash leaves[8], out[HIVE_MERKLE_MAX_PROOF], r1, r2;
    hive_merkle_tree *t = ct_tree(leaves);
    static const vector incl[] = {
        {0, 1, 0, {NULL}},
        {0, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {5, 8, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
        {1, 5, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    };
    for (size_t v = 0; v < sizeof incl / sizeof incl[0]; v++) {
        int n = -1;
        assert_int_equal(hive_merkle_tree_inclusion(t, incl[v].a, incl[v].b, out, &n), 0);
        assert_int_equal(n, incl[v].n);
        for (int i = 0; i < n; i++) assert_hash(&out[i], incl[v].proof[i]);
        hive_hash root = hx(ct_roots[incl[v].b]);
        assert_int_equal(hive_merkle_verify_inclusion(incl[v].a, incl[v].b, &leaves[incl[v].a], out, n, &root), 0);
    }
    static const vector cons[] = {
        {1, 1, 0, {NULL}},
        {1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
        {6, 7, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    };
    for (size_t v = 0; v < sizeof cons / sizeof cons[0]; v++) {
        int n = -1;
        assert_int_equal(hive_merkle_tree_consistency(t, cons[v].a, cons[v].b, out, &n), 0);
        assert_int_equal(n, cons[v].n);
        for (int i = 0; i < n; i++) assert_hash(&out[i], cons[v].proof[i]);
        r1 = hx(ct_roots[cons[v].a]);
        r2 = hx(ct_roots[cons[v].b]);
        assert_int_equal(hive_merkle_verify_consistency(cons[v].a, cons[v].b, &r1, &r2, out, n), 0);
    }
    hive_merkle_tree_destroy(t);
}

/* The edge cases of transparency-dev/merkle's TestVerifyConsistency. */
static void test_consistency_edges(void **state) {
    (void)state;
    hive_hash a, b, empty, some = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    memset(&a, 1, sizeof a);
    memset(&b, 2, sizeof b);
    hive_merkle_empty_root(&empty);
    assert_int_not_equal(hive_merkle_verify_consistency(0, 0, &a, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(1, 1, &a, &b, NULL, 0), 0);
    assert_int_equal(hive_merkle_verify_consistency(0, 0, &a, &a, NULL, 0), 0);
    assert_int_equal(hive_merkle_verify_consistency(0, 1, &a, &b, NULL, 0), 0);
    assert_int_equal(hive_merkle_verify_consistency(1, 1, &b, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(1, 0, &a, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(2, 1, &a, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(1, 2, &a, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(0, 0, &empty, &b, NULL, 0), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(0, 0, &empty, &empty, &empty, 1), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(0, 1, &empty, &empty, &empty, 1), 0);
    assert_int_not_equal(hive_merkle_verify_consistency(1, 1, &empty, &empty, &empty, 1), 0);
    /* Inclusion: no proof can place a leaf outside the tree. */
    assert_int_not_equal(hive_merkle_verify_inclusion(0, 0, &some, NULL, 0, &empty), 0);
    assert_int_not_equal(hive_merkle_verify_inclusion(1, 0, &some, NULL, 0, &empty), 0);
    assert_int_not_equal(hive_merkle_verify_inclusion(2, 1, &some, NULL, 0, &some), 0);
    assert_int_equal(hive_merkle_verify_inclusion(0, 1, &some, NULL, 0, &some), 0);
    assert_int_not_equal(hive_merkle_verify_inclusion(0, 1, &some, NULL, 0, &empty), 0);
}

/* ---- naive RFC 6962 recursion over a leaf-hash array (the reference) ---- */

static uint64_t naive_split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
}

static void naive_mth(const hive_hash *d, uint64_t n, hive_hash *out) {
    if (n == 1) {
        *out = d[0];
        return;
    }
    uint64_t k = naive_split(n);
    hive_hash l, r;
    naive_mth(d, k, &l);
    naive_mth(d + k, n - k, &r);
    hive_merkle_node_hash(&l, &r, out);
}

static void naive_path(uint64_t m, const hive_hash *d, uint64_t n, hive_hash *out, int *len) {
    if (n <= 1) return;
    uint64_t k = naive_split(n);
    if (m < k) {
        naive_path(m, d, k, out, len);
        naive_mth(d + k, n - k, &out[(*len)++]);
    } else {
        naive_path(m - k, d + k, n - k, out, len);
        naive_mth(d, k, &out[(*len)++]);
    }
}

static void naive_subproof(uint64_t m, const hive_hash *d, uint64_t n, int b, hive_hash *out, int *len) {
    if (m == n) {
        if (!b) naive_mth(d, n, &out[(*len)++]);
        return;
    }
    uint64_t k = naive_split(n);
    if (m <= k) {
        naive_subproof(m, d, k, b, out, len);
        naive_mth(d + k, n - k, &out[(*len)++]);
    } else {
        naive_subproof(m - k, d + k, n - k, 0, out, len);
        naive_mth(d, k, &out[(*len)++]);
    }
}

static void flip(hive_hash *h) { h->b[7] ^= 0x10; }

static void test_exhaustive(void **state) {
    (void)state;
    hive_hash leaves[N_EXHAUSTIVE], roots[N_EXHAUSTIVE + 1];
    hive_merkle_tree *t = hive_merkle_tree_new();
    hive_merkle_frontier f;
    hive_merkle_frontier_init(&f);
    for (int i = 0; i < N_EXHAUSTIVE; i++) {
        uint8_t data[3] = {(uint8_t)i, (uint8_t)(i * 7), 0x5a};
        hive_merkle_leaf_hash(data, sizeof data, &leaves[i]);
        assert_int_equal(hive_merkle_tree_append(t, &leaves[i]), 0);
        hive_merkle_frontier_append(&f, &leaves[i]);
        assert_memory_equal(hive_merkle_tree_leaf(t, (uint64_t)i), &leaves[i], 32);
        /* The frontier survives a store/load round trip (the sealer's state file). */
        hive_merkle_frontier g;
        assert_int_equal(hive_merkle_frontier_set(&g, f.size, f.nodes, f.count), 0);
        hive_hash a, b;
        hive_merkle_frontier_root(&f, &a);
        hive_merkle_frontier_root(&g, &b);
        assert_memory_equal(&a, &b, 32);
        assert_int_not_equal(hive_merkle_frontier_set(&g, f.size * 2 + 1, f.nodes, f.count), 0);
    }
    assert_int_equal(hive_merkle_tree_size(t), N_EXHAUSTIVE);
    hive_merkle_empty_root(&roots[0]);
    hive_merkle_frontier_init(&f);
    for (uint64_t n = 1; n <= N_EXHAUSTIVE; n++) {
        hive_hash got, fr;
        naive_mth(leaves, n, &roots[n]);
        assert_int_equal(hive_merkle_tree_root(t, n, &got), 0);
        assert_memory_equal(&got, &roots[n], 32);
        hive_merkle_frontier_append(&f, &leaves[n - 1]);
        hive_merkle_frontier_root(&f, &fr);
        assert_memory_equal(&fr, &roots[n], 32);
    }
    hive_hash p[HIVE_MERKLE_MAX_PROOF], q[HIVE_MERKLE_MAX_PROOF];
    for (uint64_t n = 1; n <= N_EXHAUSTIVE; n++) {
        for (uint64_t i = 0; i < n; i++) {
            int np = 0, nq = 0;
            assert_int_equal(hive_merkle_tree_inclusion(t, i, n, p, &np), 0);
            naive_path(i, leaves, n, q, &nq);
            assert_int_equal(np, nq);
            assert_memory_equal(p, q, (size_t)np * sizeof *p);
            assert_int_equal(hive_merkle_verify_inclusion(i, n, &leaves[i], p, np, &roots[n]), 0);
            /* Anything else is refused. */
            if (n > 1) {
                assert_int_not_equal(hive_merkle_verify_inclusion((i + 1) % n, n, &leaves[i], p, np, &roots[n]), 0);
                assert_int_not_equal(hive_merkle_verify_inclusion(i, n, &leaves[(i + 1) % n], p, np, &roots[n]), 0);
            }
            assert_int_not_equal(hive_merkle_verify_inclusion(i, n * 2, &leaves[i], p, np, &roots[n]), 0);
            assert_int_not_equal(hive_merkle_verify_inclusion(i, n, &leaves[i], p, np, &roots[n > 1 ? n - 1 : 0]), 0);
            for (int k = 0; k < np; k++) {
                flip(&p[k]);
                assert_int_not_equal(hive_merkle_verify_inclusion(i, n, &leaves[i], p, np, &roots[n]), 0);
                flip(&p[k]);
            }
            if (np > 0) assert_int_not_equal(hive_merkle_verify_inclusion(i, n, &leaves[i], p, np - 1, &roots[n]), 0);
            p[np] = roots[n];
            assert_int_not_equal(hive_merkle_verify_inclusion(i, n, &leaves[i], p, np + 1, &roots[n]), 0);
        }
        for (uint64_t m = 1; m <= n; m++) {
            int np = 0, nq = 0;
            assert_int_equal(hive_merkle_tree_consistency(t, m, n, p, &np), 0);
            naive_subproof(m, leaves, n, 1, q, &nq);
            assert_int_equal(np, nq);
            assert_memory_equal(p, q, (size_t)np * sizeof *p);
            assert_int_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n], p, np), 0);
            if (m == n) continue;
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[n], &roots[m], p, np), 0);
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m - 1], &roots[n], p, np), 0);
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n - 1], p, np), 0);
            if (m > 1) assert_int_not_equal(hive_merkle_verify_consistency(m - 1, n, &roots[m], &roots[n], p, np), 0);
            assert_int_not_equal(hive_merkle_verify_consistency(m, n * 2, &roots[m], &roots[n], p, np), 0);
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n], p, 0), 0);
            for (int k = 0; k < np; k++) {
                flip(&p[k]);
                assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n], p, np), 0);
                flip(&p[k]);
            }
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n], p, np - 1), 0);
            p[np] = roots[n];
            assert_int_not_equal(hive_merkle_verify_consistency(m, n, &roots[m], &roots[n], p, np + 1), 0);
        }
    }
    int np;
    assert_int_not_equal(hive_merkle_tree_inclusion(t, N_EXHAUSTIVE, N_EXHAUSTIVE, p, &np), 0);
    assert_int_not_equal(hive_merkle_tree_consistency(t, 0, 5, p, &np), 0);
    assert_int_not_equal(hive_merkle_tree_consistency(t, 6, 5, p, &np), 0);
    assert_int_not_equal(hive_merkle_tree_consistency(t, 5, N_EXHAUSTIVE + 1, p, &np), 0);
    hive_merkle_tree_destroy(t);
}

/* A large tree exercises the level arrays' growth and deep proofs. */
static void test_large(void **state) {
    (void)state;
    const uint64_t n = 100003;
    hive_merkle_tree *t = hive_merkle_tree_new();
    hive_merkle_frontier f;
    hive_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++) {
        hive_hash h;
        hive_merkle_leaf_hash(&i, sizeof i, &h);
        assert_int_equal(hive_merkle_tree_append(t, &h), 0);
        hive_merkle_frontier_append(&f, &h);
    }
    hive_hash a, b, p[HIVE_MERKLE_MAX_PROOF];
    hive_merkle_frontier_root(&f, &a);
    assert_int_equal(hive_merkle_tree_root(t, n, &b), 0);
    assert_memory_equal(&a, &b, 32);
    const uint64_t idx[] = {0, 1, 65535, 65536, 99999, n - 1};
    for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
        int np;
        assert_int_equal(hive_merkle_tree_inclusion(t, idx[k], n, p, &np), 0);
        assert_int_equal(hive_merkle_verify_inclusion(idx[k], n, hive_merkle_tree_leaf(t, idx[k]), p, np, &b), 0);
        hive_hash r1;
        uint64_t m = idx[k] + 1;
        assert_int_equal(hive_merkle_tree_root(t, m, &r1), 0);
        assert_int_equal(hive_merkle_tree_consistency(t, m, n, p, &np), 0);
        assert_int_equal(hive_merkle_verify_consistency(m, n, &r1, &b, p, np), 0);
    }
    hive_merkle_tree_destroy(t);
    hive_merkle_tree_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_roots),
        cmocka_unit_test(test_reference_proofs),
        cmocka_unit_test(test_consistency_edges),
        cmocka_unit_test(test_exhaustive),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
