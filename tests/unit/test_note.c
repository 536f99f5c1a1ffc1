/* Unit tests for core/hive_note (C2SP signed notes, Go sumdb/note keys) and
 * core/hive_checkpoint (C2SP tlog-checkpoint text). An auditor checks
 * hivelog's checkpoints with whatever note verifier they trust, so:
 *  - the key texts and the signed note of Go's package documentation
 *    (golang.org/x/mod/sumdb/note) are reproduced byte for byte (Ed25519 is
 *    deterministic), and Go's doubly-signed example verifies;
 *  - a changed text, a wrong key with the same name, a key with the same
 *    name and a forged key id, and every malformed shape are refused with
 *    the right status;
 *  - checkpoint texts parse strictly (the C2SP example; leading zeros,
 *    bad base64, empty extension lines refused) and round-trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hive_checkpoint.h"
#include "hive_err.h"
#include "hive_note.h"

static const char go_skey[] = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char go_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char go_signed[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char go_enoch_line[] =
    "\xe2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

static hive_note_status open_str(const char *msg, const hive_note_verifier *v) {
    size_t tl = 0;
    char why[256];
    return hive_note_open(msg, strlen(msg), v, &tl, why, sizeof why);
}

static void test_go_vectors(void **state) {
    (void)state;
    hive_note_signer s;
    hive_note_verifier v;
    char err[128], text[HIVE_NOTE_KEY_TEXT_MAX];
    assert_int_equal(hive_note_signer_parse(&s, go_skey, err, sizeof err), 0);
    assert_int_equal(hive_note_verifier_parse(&v, go_vkey, err, sizeof err), 0);
    assert_string_equal(s.v.name, "PeterNeumann");
    assert_int_equal(s.v.id, 0xc74f20a3);
    assert_memory_equal(s.v.public_key, v.public_key, 32);
    hive_note_verifier_format(&v, text, sizeof text);
    assert_string_equal(text, go_vkey);

    hive_buf out = {0};
    assert_int_equal(hive_note_sign(&s, go_text, strlen(go_text), &out), 0);
    assert_int_equal(out.len, strlen(go_signed));
    assert_memory_equal(out.data, go_signed, out.len);

    size_t tl = 0;
    char why[256];
    assert_int_equal(hive_note_open(go_signed, strlen(go_signed), &v, &tl, why, sizeof why), HIVE_NOTE_VERIFIED);
    assert_int_equal(tl, strlen(go_text));
    /* Go's doubly-signed example: the unknown EnochRoot signature is ignored. */
    char doubly[1024];
    snprintf(doubly, sizeof doubly, "%s%s", go_signed, go_enoch_line);
    assert_int_equal(open_str(doubly, &v), HIVE_NOTE_VERIFIED);
    hive_buf_free(&out);
    hive_note_signer_clear(&s);
}

static void test_forgeries(void **state) {
    (void)state;
    hive_note_verifier v;
    char err[128], msg[1024], why[256];
    assert_int_equal(hive_note_verifier_parse(&v, go_vkey, err, sizeof err), 0);

    /* One changed byte of the text. */
    snprintf(msg, sizeof msg, "%s", go_signed);
    msg[3] ^= 1;
    assert_int_equal(open_str(msg, &v), HIVE_NOTE_BAD_SIGNATURE);

    /* Re-signed correctly, but with another key of the same name. */
    char skey[HIVE_NOTE_KEY_TEXT_MAX], vkey[HIVE_NOTE_KEY_TEXT_MAX];
    hive_note_signer other;
    assert_int_equal(hive_note_keygen("PeterNeumann", skey, sizeof skey, vkey, sizeof vkey), 0);
    assert_int_equal(hive_note_signer_parse(&other, skey, err, sizeof err), 0);
    hive_buf out = {0};
    assert_int_equal(hive_note_sign(&other, go_text, strlen(go_text), &out), 0);
    size_t tl;
    assert_int_equal(hive_note_open(out.data, out.len, &v, &tl, why, sizeof why), HIVE_NOTE_NO_KNOWN_SIGNATURE);
    assert_non_null(strstr(why, "PeterNeumann+"));

    /* The same, with the trusted key's id forged into the signature. */
    other.v.id = v.id;
    assert_int_equal(hive_note_sign(&other, go_text, strlen(go_text), &out), 0);
    assert_int_equal(hive_note_open(out.data, out.len, &v, &tl, why, sizeof why), HIVE_NOTE_BAD_SIGNATURE);

    /* A failing signature by the trusted key rejects the note even when a
     * later line by the same key would verify (Go's rule). */
    char twice[2048];
    const char *good_line = strstr(go_signed, "\xe2\x80\x94");
    snprintf(twice, sizeof twice, "%.*s%s", (int)out.len, out.data, good_line);
    assert_int_equal(open_str(twice, &v), HIVE_NOTE_BAD_SIGNATURE);
    hive_buf_free(&out);
    hive_note_signer_clear(&other);
}

static void test_malformed(void **state) {
    (void)state;
    hive_note_verifier v;
    char err[128];
    assert_int_equal(hive_note_verifier_parse(&v, go_vkey, err, sizeof err), 0);
    static const char *const bad[] = {
        "",
        "no blank line\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n",
        "text\n\n-- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n\xe2\x80\x94 PeterNeumann\n",
        "text\n\n\xe2\x80\x94  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n\xe2\x80\x94 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
        "text\n\n\xe2\x80\x94 PeterNeumann AAAA\n",
        "text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        "tab\there\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "bad utf8 \xc0\xaf\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "surrogate \xed\xa0\x80\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n\xe2\x80\x94 Peter\xc2\xa0Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t tl;
        char why[256] = "";
        hive_note_status st = hive_note_open(bad[i], strlen(bad[i]), &v, &tl, why, sizeof why);
        if (st != HIVE_NOTE_MALFORMED) fail_msg("case %zu: status %s, want malformed", i, hive_note_status_str(st));
        assert_true(why[0] != '\0');
    }
    /* A NUL byte inside is a control character. */
    char nul[] = "te\0xt\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    size_t tl;
    assert_int_equal(hive_note_open(nul, sizeof nul - 1, &v, &tl, NULL, 0), HIVE_NOTE_MALFORMED);
}

static void test_many_signatures(void **state) {
    (void)state;
    hive_note_verifier v;
    char err[128];
    assert_int_equal(hive_note_verifier_parse(&v, go_vkey, err, sizeof err), 0);
    size_t line = strlen(go_enoch_line), cap = strlen(go_signed) + 101 * line + 1;
    char *msg = malloc(cap);
    memcpy(msg, go_signed, strlen(go_signed));
    size_t n = strlen(go_signed);
    for (int i = 0; i < 99; i++, n += line) memcpy(msg + n, go_enoch_line, line);
    msg[n] = '\0';
    assert_int_equal(open_str(msg, &v), HIVE_NOTE_VERIFIED); /* exactly 100 */
    memcpy(msg + n, go_enoch_line, line);
    msg[n + line] = '\0';
    assert_int_equal(open_str(msg, &v), HIVE_NOTE_MALFORMED); /* 101 */
    free(msg);
}

static void test_keys(void **state) {
    (void)state;
    char skey[HIVE_NOTE_KEY_TEXT_MAX], vkey[HIVE_NOTE_KEY_TEXT_MAX], err[128], again[HIVE_NOTE_KEY_TEXT_MAX];
    assert_int_equal(hive_note_keygen("hivelog.example", skey, sizeof skey, vkey, sizeof vkey), 0);
    assert_int_equal(strncmp(skey, "PRIVATE+KEY+hivelog.example+", 28), 0);
    hive_note_signer s;
    hive_note_verifier v;
    assert_int_equal(hive_note_signer_parse(&s, skey, err, sizeof err), 0);
    assert_int_equal(hive_note_verifier_parse(&v, vkey, err, sizeof err), 0);
    assert_int_equal(s.v.id, v.id);
    hive_note_verifier_format(&s.v, again, sizeof again);
    assert_string_equal(again, vkey);
    /* Whitespace around a key read from a file is fine. */
    char padded[HIVE_NOTE_KEY_TEXT_MAX + 4];
    snprintf(padded, sizeof padded, " %s\n", vkey);
    assert_int_equal(hive_note_verifier_parse(&v, padded, err, sizeof err), 0);

    assert_int_not_equal(hive_note_keygen("", skey, sizeof skey, vkey, sizeof vkey), 0);
    assert_int_not_equal(hive_note_keygen("a+b", skey, sizeof skey, vkey, sizeof vkey), 0);
    assert_int_not_equal(hive_note_keygen("a b", skey, sizeof skey, vkey, sizeof vkey), 0);
    static const char *const bad_v[] = {
        "", "PeterNeumann", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpcMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWARpc2QcU",
    };
    for (size_t i = 0; i < sizeof bad_v / sizeof bad_v[0]; i++)
        if (hive_note_verifier_parse(&v, bad_v[i], err, sizeof err) == 0) fail_msg("accepted %s", bad_v[i]);
    assert_int_not_equal(hive_note_signer_parse(&s, go_vkey, err, sizeof err), 0);
    assert_int_not_equal(hive_note_signer_parse(&s, "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", err, sizeof err), 0);
    /* A signer refuses texts a verifier would not accept as a note text. */
    assert_int_equal(hive_note_signer_parse(&s, go_skey, err, sizeof err), 0);
    hive_buf out = {0};
    assert_int_not_equal(hive_note_sign(&s, "no newline", 10, &out), 0);
    assert_int_not_equal(hive_note_sign(&s, "blank\n\n", 7, &out), 0);
    assert_int_not_equal(hive_note_sign(&s, "ctl\x01\n", 5, &out), 0);
    hive_buf_free(&out);
    hive_note_signer_clear(&s);
}

static void test_checkpoint_text(void **state) {
    (void)state;
    hive_checkpoint cp;
    char err[128];
    const char *ex = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_int_equal(hive_checkpoint_parse(ex, strlen(ex), &cp, err, sizeof err), 0);
    assert_string_equal(cp.origin, "example.com/behind-the-sofa");
    assert_int_equal(cp.size, 20852163);
    assert_int_equal(cp.extension_lines, 0);
    hive_buf out = {0};
    assert_int_equal(hive_checkpoint_format(cp.origin, cp.size, &cp.root, &out), 0);
    assert_int_equal(out.len, strlen(ex));
    assert_memory_equal(out.data, ex, out.len);
    const char *ext = "o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextra one\nextra two\n";
    assert_int_equal(hive_checkpoint_parse(ext, strlen(ext), &cp, err, sizeof err), 0);
    assert_int_equal(cp.size, 0);
    assert_int_equal(cp.extension_lines, 2);
    static const char *const bad[] = {
        "",
        "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n99999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next",
        "o\n1\n",
        "o\n7\nXD0cCdwlQ+WpK6edqNylV03TRsh\xe2\x80\x94PtVt8cVrkiNbo=\n", /* libsodium alone took this */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hive_checkpoint_parse(bad[i], strlen(bad[i]), &cp, err, sizeof err) == 0)
            fail_msg("accepted checkpoint case %zu", i);
    char origin[HIVE_ORIGIN_MAX];
    hive_checkpoint_origin("hivelog.example", "hive.presence.events", 3, origin, sizeof origin);
    assert_string_equal(origin, "hivelog.example/hive.presence.events/3");
    hive_buf_free(&out);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_vectors),
        cmocka_unit_test(test_forgeries),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_many_signatures),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_checkpoint_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
