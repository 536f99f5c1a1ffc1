/* Flag parsing and signal helpers (see cli_util.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

volatile sig_atomic_t cli_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    cli_stop = 1;
}

void cli_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cli_flag(int argc, char **argv, int *i, const char *name, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0) return false;
    if (a[2 + n] == '=') {
        *value = a + 3 + n;
        return true;
    }
    if (a[2 + n] != '\0') return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hivelog: --%s needs a value\n", name);
        exit(2);
    }
    *value = argv[++*i];
    return true;
}

bool cli_switch(char **argv, int i, const char *name) {
    return strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0;
}

long cli_int(const char *flag, const char *value, long min, long max) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || !end || *end || v < min || v > max) {
        fprintf(stderr, "hivelog: --%s must be an integer in [%ld, %ld], got '%s'\n", flag, min,
                max, value);
        exit(2);
    }
    return v;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    return false;
}
