/* `hivelog audit <subcommand>`: the auditor's tools. keygen makes the
 * sealer's Ed25519 key; dump copies the log and its checkpoints to files;
 * verify checks such a copy against the checkpoints and a public key;
 * prove and verify-proof make and check one event's inclusion proof. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_cmds.h"
#include "audit_config.h"
#include "audit_files.h"
#include "cli_util.h"
#include "commands.h"
#include "hive_err.h"
#include "hive_note.h"

int audit_load_verifier(const char *prog, const char *spec, hive_note_verifier *out) {
    char err[200];
    hive_buf buf = {0};
    struct stat st;
    if (!spec || !*spec) {
        fprintf(stderr, "%s: no verifier key: --key FILE|TEXT or HIVE_AUDIT_PUBKEY\n", prog);
        return 2;
    }
    const char *text = spec;
    if (stat(spec, &st) == 0) {
        int rc = audit_read_file(spec, 4096, &buf);
        if (rc) {
            fprintf(stderr, "%s: cannot read %s: %s\n", prog, spec, hive_err_str(rc));
            return 2;
        }
        text = buf.data;
    }
    int rc = hive_note_verifier_parse(out, text, err, sizeof err);
    hive_buf_free(&buf);
    if (rc) {
        fprintf(stderr, "%s: %s is not a verifier key: %s\n", prog, spec, err);
        return 2;
    }
    return 0;
}

static int write_new(const char *path, const char *text, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "hivelog audit keygen: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok) {
        fprintf(stderr, "hivelog audit keygen: cannot write %s\n", path);
        unlink(path);
        return -1;
    }
    return 0;
}

static int keygen(int argc, char **argv) {
    const char *name = "hivelog.example", *out = NULL, *pub = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "name", &v)) name = v;
        else if (cli_flag(argc, argv, &i, "out", &v)) out = v;
        else if (cli_flag(argc, argv, &i, "pub", &v)) pub = v;
        else {
            fprintf(stderr, "hivelog audit keygen: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "hivelog audit keygen: --out FILE is required\n");
        return 2;
    }
    char skey[HIVE_NOTE_KEY_TEXT_MAX], vkey[HIVE_NOTE_KEY_TEXT_MAX], pubpath[4096];
    if (hive_note_keygen(name, skey, sizeof skey, vkey, sizeof vkey)) {
        fprintf(stderr, "hivelog audit keygen: key name '%s' must be non-empty UTF-8 without spaces or '+'\n", name);
        return 2;
    }
    if (!pub) {
        snprintf(pubpath, sizeof pubpath, "%s.pub", out);
        pub = pubpath;
    }
    int rc = write_new(out, skey, 0600);
    sodium_memzero(skey, sizeof skey);
    if (rc) return 1;
    if (write_new(pub, vkey, 0644)) {
        unlink(out);
        return 1;
    }
    printf("%s\n", vkey);
    fprintf(stderr, "signer key written to %s (keep it secret); verifier key to %s\n", out, pub);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: hivelog audit <subcommand> [options]   (hivelog audit <subcommand> --help)\n\n"
            "  keygen --name NAME --out FILE [--pub FILE]\n"
            "        new Ed25519 signer key (FILE, mode 0600, Go sumdb/note format\n"
            "        PRIVATE+KEY+<name>+<id>+<base64>) and its verifier key <name>+<id>+<base64>\n"
            "        (FILE.pub, and stdout). The name also prefixes checkpoint origins.\n"
            "  dump --out DIR      copy every events topic-partition and the checkpoints topic to DIR\n"
            "  verify --log DIR --key PUB [--checkpoints DIR] [--json] [--report FILE]\n"
            "        recompute leaves and roots, check signatures, consistency, seq and versions\n"
            "  prove --log DIR --checkpoints DIR (--event-id ID | --topic T --partition P --seq S) --out FILE\n"
            "        write an inclusion-proof bundle for one event\n"
            "  verify-proof BUNDLE --key PUB\n"
            "        check a bundle on its own: signature, inclusion, the event's seq\n\n"
            "Formats: see consumers/README.md (\"Audit\").\n");
}

int cmd_audit(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (sodium_init() < 0) return 1;
    const char *sub = argv[1];
    if (!strcmp(sub, "keygen")) {
        if (cli_wants_help(argc - 1, argv + 1)) {
            usage(stdout);
            return 0;
        }
        return keygen(argc - 1, argv + 1);
    }
    if (!strcmp(sub, "dump")) return audit_cmd_dump(argc - 1, argv + 1);
    if (!strcmp(sub, "verify")) return audit_cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "prove")) return audit_cmd_prove(argc - 1, argv + 1);
    if (!strcmp(sub, "verify-proof")) return audit_cmd_verify_proof(argc - 1, argv + 1);
    fprintf(stderr, "hivelog audit: unknown subcommand '%s'\n\n", sub);
    usage(stderr);
    return 2;
}
