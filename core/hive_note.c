/* Signed notes and their keys (see hive_note.h). Parsing follows Go's
 * note.Open rule for rule, so a note this accepts, Go accepts, and the
 * other way round. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_err.h"
#include "hive_note.h"

#define ALG_ED25519 0x01
#define SIG_PREFIX "\xe2\x80\x94 " /* U+2014 em dash, space */
#define SIG_PREFIX_LEN 4
#define NOTE_MAX_BYTES (1 << 20)

static void set_err(char *err, size_t cap, const char *msg) {
    if (err && cap) snprintf(err, cap, "%s", msg);
}

/* Decodes one UTF-8 sequence; returns its length and the code point in *cp,
 * or 0 for an invalid sequence (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_next(const unsigned char *p, size_t avail, uint32_t *cp) {
    if (avail == 0) return 0;
    unsigned c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((c & 0xe0) == 0xc0) n = 2, v = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) n = 3, v = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) n = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

/* Go's unicode.IsSpace. */
static bool is_space(uint32_t c) {
    switch (c) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200a;
    }
}

bool hive_note_name_valid(const char *name, size_t len) {
    if (len == 0 || len > HIVE_NOTE_NAME_MAX) return false;
    const unsigned char *p = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (!n || is_space(cp) || cp == '+' || cp < 0x20) return false;
        i += n;
    }
    return true;
}

uint32_t hive_note_key_id(const char *name, const uint8_t public_key[32]) {
    crypto_hash_sha256_state st;
    uint8_t sum[32];
    static const uint8_t sep[2] = {'\n', ALG_ED25519};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, public_key, 32);
    crypto_hash_sha256_final(&st, sum);
    return (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 | (uint32_t)sum[2] << 8 | sum[3];
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int hive_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    /* libsodium's decoder alone also takes some bytes outside the alphabet
     * and non-zero unused bits: check the text first. */
    size_t pad = len >= 1 && s[len - 1] == '=' ? (len >= 2 && s[len - 2] == '=' ? 2 : 1) : 0;
    if (len % 4) return -1;
    for (size_t i = 0; i < len - pad; i++)
        if (b64_value((unsigned char)s[i]) < 0) return -1;
    if (pad && len) {
        int last = b64_value((unsigned char)s[len - pad - 1]);
        if (last & (pad == 1 ? 0x3 : 0xf)) return -1;
    }
    const char *end = NULL;
    if (sodium_base642bin(out, cap, s, len, NULL, out_len, &end, sodium_base64_VARIANT_ORIGINAL)) return -1;
    return end == s + len ? 0 : -1;
}

static int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    return len == 0 ? -1 : hive_b64_decode(s, len, out, cap, out_len);
}

static void b64_encode(const uint8_t *bin, size_t len, char *out, size_t cap) {
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

void hive_note_verifier_format(const hive_note_verifier *v, char *out, size_t cap) {
    uint8_t raw[33];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, v->public_key, 32);
    b64_encode(raw, sizeof raw, b64, sizeof b64);
    snprintf(out, cap, "%s+%08x+%s", v->name, v->id, b64);
}

int hive_note_keygen(const char *name, char *skey, size_t skey_cap, char *vkey, size_t vkey_cap) {
    if (!hive_note_name_valid(name, strlen(name))) return HIVE_ERR_INVALID;
    uint8_t seed[33], pk[32], sk[64];
    seed[0] = ALG_ED25519;
    randombytes_buf(seed + 1, 32);
    crypto_sign_seed_keypair(pk, sk, seed + 1);
    hive_note_verifier v;
    snprintf(v.name, sizeof v.name, "%s", name);
    memcpy(v.public_key, pk, 32);
    v.id = hive_note_key_id(name, pk);
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    b64_encode(seed, sizeof seed, b64, sizeof b64);
    int n = snprintf(skey, skey_cap, "PRIVATE+KEY+%s+%08x+%s", name, v.id, b64);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(b64, sizeof b64);
    if (n < 0 || (size_t)n >= skey_cap) return HIVE_ERR_INVALID;
    hive_note_verifier_format(&v, vkey, vkey_cap);
    return 0;
}

/* Splits "<name>+<8 hex>+<base64>" (the base64 may itself hold '+'). */
static int split_key(const char *text, size_t len, char *name, uint32_t *id, uint8_t *key,
                     size_t *key_len, char *err, size_t errcap) {
    const char *p1 = memchr(text, '+', len);
    if (!p1) goto malformed;
    const char *p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - text));
    if (!p2 || p2 - p1 - 1 != 8) goto malformed;
    size_t nlen = (size_t)(p1 - text);
    if (!hive_note_name_valid(text, nlen)) {
        set_err(err, errcap, "key name is empty or holds a space or '+'");
        return HIVE_ERR_INVALID;
    }
    memcpy(name, text, nlen);
    name[nlen] = '\0';
    uint32_t v = 0;
    for (int i = 1; i <= 8; i++) {
        char c = p1[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) goto malformed;
        v = v << 4 | (uint32_t)d;
    }
    *id = v;
    if (b64_decode(p2 + 1, len - (size_t)(p2 + 1 - text), key, 33, key_len) || *key_len != 33) {
        set_err(err, errcap, "key data is not base64 of 33 bytes");
        return HIVE_ERR_INVALID;
    }
    if (key[0] != ALG_ED25519) {
        set_err(err, errcap, "unknown key algorithm (only Ed25519, 0x01)");
        return HIVE_ERR_INVALID;
    }
    return 0;
malformed:
    set_err(err, errcap, "not a key of the form <name>+<8 hex digits>+<base64>");
    return HIVE_ERR_INVALID;
}

static void trim(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\n' || **s == '\r' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\n' || (*s)[*len - 1] == '\r' ||
                    (*s)[*len - 1] == '\t'))
        (*len)--;
}

int hive_note_verifier_parse(hive_note_verifier *out, const char *text, char *err, size_t errcap) {
    size_t len = strlen(text), klen;
    uint8_t key[33];
    trim(&text, &len);
    memset(out, 0, sizeof *out);
    if (len > HIVE_NOTE_KEY_TEXT_MAX) {
        set_err(err, errcap, "verifier key too long");
        return HIVE_ERR_INVALID;
    }
    if (split_key(text, len, out->name, &out->id, key, &klen, err, errcap)) return HIVE_ERR_INVALID;
    memcpy(out->public_key, key + 1, 32);
    if (hive_note_key_id(out->name, out->public_key) != out->id) {
        set_err(err, errcap, "key id does not match the name and public key");
        return HIVE_ERR_INVALID;
    }
    return 0;
}

int hive_note_signer_parse(hive_note_signer *out, const char *text, char *err, size_t errcap) {
    size_t len = strlen(text), klen;
    uint8_t key[33];
    trim(&text, &len);
    memset(out, 0, sizeof *out);
    if (len < 12 || memcmp(text, "PRIVATE+KEY+", 12) != 0 || len > HIVE_NOTE_KEY_TEXT_MAX) {
        set_err(err, errcap, "not a signer key (PRIVATE+KEY+<name>+<id>+<base64>)");
        return HIVE_ERR_INVALID;
    }
    int rc = split_key(text + 12, len - 12, out->v.name, &out->v.id, key, &klen, err, errcap);
    if (!rc) {
        crypto_sign_seed_keypair(out->v.public_key, out->secret_key, key + 1);
        if (hive_note_key_id(out->v.name, out->v.public_key) != out->v.id) {
            set_err(err, errcap, "key id does not match the name and the key's public half");
            rc = HIVE_ERR_INVALID;
        }
    }
    sodium_memzero(key, sizeof key);
    if (rc) hive_note_signer_clear(out);
    return rc;
}

void hive_note_signer_clear(hive_note_signer *s) { sodium_memzero(s, sizeof *s); }

/* Valid UTF-8 with no control characters but '\n'. */
static bool clean_text(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (!n || (cp < 0x20 && cp != '\n')) return false;
        i += n;
    }
    return true;
}

int hive_note_sign(const hive_note_signer *s, const char *text, size_t len, hive_buf *out) {
    if (len == 0 || text[len - 1] != '\n' || (len >= 2 && text[len - 2] == '\n') ||
        !clean_text(text, len) || len > NOTE_MAX_BYTES)
        return HIVE_ERR_INVALID;
    uint8_t sig[4 + crypto_sign_BYTES];
    sig[0] = (uint8_t)(s->v.id >> 24);
    sig[1] = (uint8_t)(s->v.id >> 16);
    sig[2] = (uint8_t)(s->v.id >> 8);
    sig[3] = (uint8_t)s->v.id;
    crypto_sign_detached(sig + 4, NULL, (const uint8_t *)text, len, s->secret_key);
    char b64[sodium_base64_ENCODED_LEN(sizeof sig, sodium_base64_VARIANT_ORIGINAL)];
    b64_encode(sig, sizeof sig, b64, sizeof b64);
    size_t name_len = strlen(s->v.name), b64_len = strlen(b64);
    size_t total = len + 1 + SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;
    if (hive_buf_reserve(out, total + 1)) return HIVE_ERR_NOMEM;
    char *p = out->data;
    memcpy(p, text, len), p += len;
    *p++ = '\n';
    memcpy(p, SIG_PREFIX, SIG_PREFIX_LEN), p += SIG_PREFIX_LEN;
    memcpy(p, s->v.name, name_len), p += name_len;
    *p++ = ' ';
    memcpy(p, b64, b64_len), p += b64_len;
    *p++ = '\n';
    *p = '\0';
    out->len = total;
    return 0;
}

const char *hive_note_status_str(hive_note_status st) {
    switch (st) {
    case HIVE_NOTE_VERIFIED: return "verified";
    case HIVE_NOTE_MALFORMED: return "malformed note";
    case HIVE_NOTE_BAD_SIGNATURE: return "bad signature";
    case HIVE_NOTE_NO_KNOWN_SIGNATURE: return "not signed by the trusted key";
    }
    return "unknown";
}

static hive_note_status malformed(char *why, size_t cap, const char *msg) {
    set_err(why, cap, msg);
    return HIVE_NOTE_MALFORMED;
}

hive_note_status hive_note_open(const char *msg, size_t len, const hive_note_verifier *v,
                                size_t *text_len, char *why, size_t whycap) {
    if (why && whycap) why[0] = '\0';
    if (len > NOTE_MAX_BYTES) return malformed(why, whycap, "note larger than 1 MiB");
    if (!clean_text(msg, len))
        return malformed(why, whycap, "note is not UTF-8 or holds control characters");
    /* The text ends at the last blank line. */
    size_t split = 0;
    bool found = false;
    for (size_t i = len; i >= 2; i--)
        if (msg[i - 2] == '\n' && msg[i - 1] == '\n') {
            split = i - 2;
            found = true;
            break;
        }
    if (!found) return malformed(why, whycap, "no blank line before the signatures");
    size_t tlen = split + 1;
    const char *sigs = msg + split + 2, *end = msg + len;
    if (sigs == end || end[-1] != '\n') return malformed(why, whycap, "signature lines must end in a newline");
    if (text_len) *text_len = tlen;
    /* Syntax first, for every line: whether a note is well formed must not
     * depend on which key reads it. */
    int count = 0;
    for (const char *p = sigs; p < end; count++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t llen = (size_t)(nl - p);
        if (llen < SIG_PREFIX_LEN || memcmp(p, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
            return malformed(why, whycap, "a signature line does not start with an em dash and a space");
        const char *name = p + SIG_PREFIX_LEN;
        const char *sp = memchr(name, ' ', (size_t)(nl - name));
        /* Go splits at the first space: the name must be non-empty and valid,
         * the rest non-empty base64 of at least 5 bytes. */
        size_t nlen = sp ? (size_t)(sp - name) : (size_t)(nl - name);
        const char *b64 = sp ? sp + 1 : nl;
        size_t blen = (size_t)(nl - b64), rawlen = 0;
        uint8_t raw[4 + 8192]; /* room for post-quantum signatures by other keys */
        if (!hive_note_name_valid(name, nlen) || blen == 0 ||
            b64_decode(b64, blen, raw, sizeof raw, &rawlen) || rawlen < 5)
            return malformed(why, whycap, "a signature line has a bad key name or signature encoding");
        if (count >= HIVE_NOTE_MAX_SIGNATURES) return malformed(why, whycap, "more than 100 signatures");
        p = nl + 1;
    }
    int verified = 0;
    char others[512] = "";
    size_t olen = 0;
    for (const char *p = sigs; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *name = p + SIG_PREFIX_LEN;
        const char *sp = memchr(name, ' ', (size_t)(nl - name));
        size_t nlen = (size_t)(sp - name), rawlen = 0;
        uint8_t raw[4 + 8192];
        b64_decode(sp + 1, (size_t)(nl - sp - 1), raw, sizeof raw, &rawlen);
        p = nl + 1;
        uint32_t id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        if (v && id == v->id && nlen == strlen(v->name) && memcmp(name, v->name, nlen) == 0) {
            if (verified) continue; /* repeated signatures by one key: the first decides */
            if (rawlen != 4 + crypto_sign_BYTES ||
                crypto_sign_verify_detached(raw + 4, (const uint8_t *)msg, tlen, v->public_key)) {
                if (why && whycap)
                    snprintf(why, whycap, "the signature by %s+%08x does not verify", v->name, v->id);
                return HIVE_NOTE_BAD_SIGNATURE;
            }
            verified = 1;
        } else if (olen + nlen + 16 < sizeof others) {
            olen += (size_t)snprintf(others + olen, sizeof others - olen, "%s%.*s+%08x", olen ? ", " : "",
                                     (int)nlen, name, id);
        }
    }
    if (verified) return HIVE_NOTE_VERIFIED;
    if (why && whycap)
        snprintf(why, whycap, "no signature by %s+%08x (signed by: %s)", v ? v->name : "?",
                 v ? v->id : 0, others[0] ? others : "nobody");
    return HIVE_NOTE_NO_KNOWN_SIGNATURE;
}
