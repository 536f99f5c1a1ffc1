/* The `hivelog audit` subcommands (cli/audit.c dispatches to them). Each
 * takes argv from its own name on and returns the process exit status. */
#ifndef HIVE_AUDIT_CMDS_H
#define HIVE_AUDIT_CMDS_H

#include "hive_note.h"

int audit_cmd_dump(int argc, char **argv);
int audit_cmd_verify(int argc, char **argv);
int audit_cmd_prove(int argc, char **argv);
int audit_cmd_verify_proof(int argc, char **argv);

/* Reads a verifier key: the file at spec if one exists, else spec itself
 * as key text. 0, or 2 after printing why to stderr (prog names the caller). */
int audit_load_verifier(const char *prog, const char *spec, hive_note_verifier *out);

#endif
