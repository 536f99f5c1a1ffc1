/* Entry points of the hivelog subcommands; cli/main.c dispatches to them
 * from one table. Each returns the process exit status. */
#ifndef HIVE_COMMANDS_H
#define HIVE_COMMANDS_H

int cmd_broker(int argc, char **argv);
int cmd_api(int argc, char **argv);
int cmd_decide(int argc, char **argv);
int cmd_project(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_post(int argc, char **argv);
int cmd_bootstrap(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_schemas(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_clickhouse(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
