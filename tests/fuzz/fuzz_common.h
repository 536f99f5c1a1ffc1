/* Shared by the libFuzzer targets: loads the schema registry once per
 * process, from HIVE_SCHEMAS_DIR or else the source tree the target was
 * built from, and aborts loudly if it cannot (a fuzzer running without
 * schemas would only ever test the error path). */
#ifndef HIVE_FUZZ_COMMON_H
#define HIVE_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "hive_registry.h"

static inline hive_registry *fuzz_registry(void) {
    static hive_registry *reg;
    if (reg) return reg;
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    if (!dir || !*dir) dir = HIVE_SOURCE_DIR "/schemas";
    char err[512];
    if (hive_registry_load(&reg, dir, err, sizeof err)) {
        fprintf(stderr, "fuzz: cannot load schemas from %s: %s\n", dir, err);
        abort();
    }
    return reg; /* lives for the whole process, like in the services */
}

/* Aborts (so libFuzzer saves the input) when a property of the target fails. */
#define FUZZ_CHECK(target, cond)                                                  \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s: property failed: %s (line %d)\n", target, #cond,  \
                    __LINE__);                                                    \
            abort();                                                              \
        }                                                                         \
    } while (0)

#endif
