/* Small helpers shared by subcommands: flag parsing with clear errors and
 * signal handling for a clean SIGTERM shutdown. */
#ifndef HIVE_CLI_UTIL_H
#define HIVE_CLI_UTIL_H

#include <signal.h>
#include <stdbool.h>

/* Set by SIGTERM/SIGINT once cli_install_signals() ran. */
extern volatile sig_atomic_t cli_stop;
void cli_install_signals(void);

/* True if argv[i] is --name or --name=value; *value gets the value, taken
 * from argv[i+1] (and *i advanced) in the first form. Prints an error and
 * exits with status 2 when the value is missing. */
bool cli_flag(int argc, char **argv, int *i, const char *name, const char **value);
/* True if argv[i] is exactly --name. */
bool cli_switch(char **argv, int i, const char *name);
/* Parses an integer flag value in [min, max] or exits with status 2. */
long cli_int(const char *flag, const char *value, long min, long max);
/* True when argv has -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
