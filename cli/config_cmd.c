/* `hivelog config`: the effective configuration, secrets masked. */
#include <stdio.h>

#include "audit_config.h"
#include "cli_util.h"
#include "commands.h"
#include "hive_config.h"

int cmd_config(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: hivelog config\n\nPrints every HIVE_* setting this process would use\n"
               "(defaults overridden by the environment); passwords are masked.\n");
        return 0;
    }
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    hive_config_print(&cfg, stdout);
    audit_config ac;
    if (audit_config_load(&ac)) return 2;
    audit_config_print(&ac, stdout);
    return 0;
}
