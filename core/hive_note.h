/* C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys (libsodium),
 * in the key formats of Go's golang.org/x/mod/sumdb/note so keys and notes
 * interoperate with the Go tooling and C2SP witnesses:
 *
 *   verifier key  <name>+<key id, 8 hex>+<base64(0x01 || 32-byte public key)>
 *   signer key    PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 || 32-byte seed)>
 *   key id        first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key)
 *   signed note   <text ending in \n> \n — <name> <base64(key id || signature)>\n ...
 *
 * The signature covers the text including its final newline. A verifier
 * ignores signatures by other keys, rejects the note when a signature by
 * its key fails, and rejects it when no signature by its key is present. */
#ifndef HIVE_NOTE_H
#define HIVE_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hive_codec.h"

#define HIVE_NOTE_NAME_MAX 255
#define HIVE_NOTE_KEY_TEXT_MAX 400 /* longest signer or verifier key text */
#define HIVE_NOTE_MAX_SIGNATURES 100

typedef struct {
    char name[HIVE_NOTE_NAME_MAX + 1];
    uint32_t id;
    uint8_t public_key[32];
} hive_note_verifier;

typedef struct {
    hive_note_verifier v;
    uint8_t secret_key[64]; /* libsodium's seed || public key */
} hive_note_signer;

/* Strict standard base64 (RFC 4648 section 4): padded, only the alphabet,
 * unused bits zero, so each byte string has exactly one encoding. Decodes
 * into out (cap bytes); 0, or -1 when s is not such base64 or too long. */
int hive_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* A name is non-empty UTF-8 with no Unicode space and no '+'. */
bool hive_note_name_valid(const char *name, size_t len);
uint32_t hive_note_key_id(const char *name, const uint8_t public_key[32]);

/* A new random key called name: signer and verifier key texts (each at
 * most HIVE_NOTE_KEY_TEXT_MAX bytes with the NUL). 0 or HIVE_ERR_INVALID. */
int hive_note_keygen(const char *name, char *skey, size_t skey_cap, char *vkey, size_t vkey_cap);
/* Parse key texts (surrounding whitespace ignored); 0 or HIVE_ERR_INVALID
 * with the reason in err. The key id must match the name and key. */
int hive_note_signer_parse(hive_note_signer *out, const char *text, char *err, size_t errcap);
int hive_note_verifier_parse(hive_note_verifier *out, const char *text, char *err, size_t errcap);
/* The verifier key text of v. */
void hive_note_verifier_format(const hive_note_verifier *v, char *out, size_t cap);
/* Wipes a signer's secret. */
void hive_note_signer_clear(hive_note_signer *s);

/* Appends text (must end in '\n', no blank line at its end, no control
 * characters but '\n') and one signature line by s to out (replacing its
 * contents). 0 or HIVE_ERR_INVALID / HIVE_ERR_NOMEM. */
int hive_note_sign(const hive_note_signer *s, const char *text, size_t len, hive_buf *out);

typedef enum {
    HIVE_NOTE_VERIFIED = 0,
    HIVE_NOTE_MALFORMED,            /* not a signed note (syntax, UTF-8, control bytes, size) */
    HIVE_NOTE_BAD_SIGNATURE,        /* a signature by the verifier's key does not verify */
    HIVE_NOTE_NO_KNOWN_SIGNATURE    /* well formed, but not signed by the verifier's key */
} hive_note_status;

/* Human-readable name of a status. */
const char *hive_note_status_str(hive_note_status st);

/* Parses msg and checks its signatures against v. On HIVE_NOTE_VERIFIED
 * (and HIVE_NOTE_NO_KNOWN_SIGNATURE) *text_len is the length of the signed
 * text at the start of msg. why (if given) describes any other status,
 * e.g. the key names and ids that did sign. */
hive_note_status hive_note_open(const char *msg, size_t len, const hive_note_verifier *v,
                                size_t *text_len, char *why, size_t whycap);

#endif
