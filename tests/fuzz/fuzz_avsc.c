/* libFuzzer target for hive_avsc_parse_text, the parser of schema JSON the
 * embedded schema registry takes from any client (POST /subjects/...) and
 * the one decoders run on schemas fetched from a registry, followed by what
 * the registry does with a parsed schema: the default check and the
 * compatibility checker. Beyond "no crash, no leak, no runaway recursion":
 * a schema that parses can always read its own data, and checking it
 * against hivelog's CheckedIn (both ways) terminates with an answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hive_avsc.h"
#include "hive_compat.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_avsc", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    hive_avsc *s = NULL;
    char err[600];
    int rc = hive_avsc_parse_text(&s, text, err, sizeof err);
    free(text);
    if (rc) {
        CHECK(s == NULL && err[0] != '\0');
        return 0;
    }
    hive_avsc_check_defaults(s, err, sizeof err);
    const hive_avsc_node *root = hive_avsc_root(s);
    CHECK(hive_compat_can_read(root, root, err, sizeof err) == 0);
    const hive_schema *ci = hive_registry_by_name(fuzz_registry(), "hivelog.event.presence.CheckedIn");
    CHECK(ci != NULL);
    hive_compat_can_read(root, hive_avsc_root(ci->model), err, sizeof err);
    hive_compat_can_read(hive_avsc_root(ci->model), root, err, sizeof err);
    hive_avsc_destroy(s);
    return 0;
}
