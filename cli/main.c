/* hivelog: one binary, one subcommand per process role. The table below is
 * the whole command-line surface; each entry's help explains itself. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"broker", cmd_broker, "run the embedded Kafka-protocol broker (librdkafka mock cluster) on loopback"},
    {"api", cmd_api, "HTTP intake: POST /v1/commands -> the commands topic"},
    {"decide", cmd_decide, "decider: commands -> events + outcomes, one Kafka transaction per batch"},
    {"project", cmd_project, "projector: a service's events -> its PostgreSQL read model, exactly once"},
    {"replay", cmd_replay, "rebuild a service's read model as of a checkpoint, and diff it against another"},
    {"migrate", cmd_migrate, "create a service's database and apply its migrations"},
    {"bootstrap", cmd_bootstrap, "create the first tenant and its admin API key (printed once)"},
    {"post", cmd_post, "post one command or a JSONL file of commands to the api"},
    {"dlq", cmd_dlq, "list records consumers could not process, with the reason"},
    {"export", cmd_export, "event topics -> ClickHouse-ready files (JSONEachRow/RowBinary), exactly once"},
    {"clickhouse", cmd_clickhouse, "ClickHouse DDL generated from the event schemas (sql/clickhouse/)"},
    {"seal", cmd_seal, "sealer: sign Merkle checkpoints of every events topic-partition"},
    {"audit", cmd_audit, "keygen, dump, verify, prove, verify-proof: check the log is complete and untampered"},
    {"config", cmd_config, "print the effective configuration (secrets masked)"},
    {"schemas", cmd_schemas, "check that every schema version reads all earlier ones (BACKWARD_TRANSITIVE)"},
};

static void usage(FILE *out) {
    fprintf(out,
            "hivelog - event-sourced backbone for workforce and business operations\n\n"
            "usage: hivelog <command> [options]   (hivelog <command> --help for details)\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out,
            "\nconfiguration comes from HIVE_* environment variables (see `hivelog config`);\n"
            "flags override them. Logs are JSON lines on stderr.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hivelog: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
