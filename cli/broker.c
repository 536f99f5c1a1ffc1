/* `hivelog broker`: librdkafka's mock cluster as the embedded, in-memory
 * Kafka-protocol broker for development and tests. It is not durable: when
 * it stops, the log is gone. Topics are created up front with the
 * configured partition count so every process agrees on it. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_catalog.h"
#include "hive_config.h"
#include "hive_log.h"
#include "registry_server.h"

/* Writes DIR/name atomically (readers poll for the file). */
static int write_file(const char *run_dir, const char *name, const char *addr) {
    char tmp[1100], path[1100];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", run_dir, name);
    snprintf(path, sizeof path, "%s/%s", run_dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", addr) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "hivelog broker: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_broker(int argc, char **argv) {
    const char *run_dir = NULL, *v, *registry_listen = "127.0.0.1:0";
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "run-dir", &v)) run_dir = v;
        else if (cli_flag(argc, argv, &i, "partitions", &v))
            cfg.partitions = (int)cli_int("partitions", v, 1, 1024);
        else if (cli_flag(argc, argv, &i, "registry-listen", &v)) registry_listen = v;
        else if (cli_switch(argv, i, "no-registry")) registry_listen = NULL;
        else if (cli_wants_help(argc, argv)) {
            printf("usage: hivelog broker [--run-dir DIR] [--partitions N]\n"
                   "                      [--registry-listen HOST:PORT | --no-registry]\n\n"
                   "Runs librdkafka's mock cluster (one broker) on 127.0.0.1 with a random port\n"
                   "and creates the hivelog topics (<prefix>.commands, .outcomes, .dlq,\n"
                   ".audit.checkpoints and one .<service>.events per service) with N partitions\n"
                   "(default HIVE_PARTITIONS=%d). Prints 'broker listening on HOST:PORT' and, with\n"
                   "--run-dir, writes HOST:PORT to DIR/broker.addr once ready; point other\n"
                   "processes at it with HIVE_BROKERS. In-memory only: stopping it loses the log,\n"
                   "and each partition keeps at most 5 MiB (librdkafka's mock cluster drops older\n"
                   "records beyond that; hivelog processes stop rather than skip them): use more\n"
                   "partitions for bigger runs.\n"
                   "It also serves a Confluent-compatible schema registry (in memory, like the\n"
                   "log; default 127.0.0.1 on a random port), prints 'schema registry listening\n"
                   "on URL' and writes URL to DIR/registry.url before broker.addr; point\n"
                   "processes at it with HIVE_SCHEMA_REGISTRY_URL, and kcat -r or ClickHouse's\n"
                   "format_avro_schema_registry_url too.\n"
                   "Stops on SIGTERM/SIGINT, or when its parent exits if HIVE_EXIT_WITH_PARENT=1.\n",
                   cfg.partitions);
            return 0;
        } else {
            fprintf(stderr, "hivelog broker: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    hive_log_init("broker");
    hive_config_apply_parent_death(&cfg);
    cli_install_signals();

    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "hivelog broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "hivelog broker: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    const char *suffixes[] = {"commands", "outcomes", "dlq", "audit.checkpoints"};
    char topic[256];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        hive_config_topic(&cfg, suffixes[i], topic, sizeof topic);
        rd_kafka_mock_topic_create(mc, topic, cfg.partitions, 1);
    }
    for (int s = 0; s < hive_catalog_service_count(); s++) {
        char suffix[96];
        snprintf(suffix, sizeof suffix, "%s.events", hive_catalog_service_at(s));
        hive_config_topic(&cfg, suffix, topic, sizeof topic);
        rd_kafka_mock_topic_create(mc, topic, cfg.partitions, 1);
    }
    registry_server *sr = NULL;
    if (registry_listen) {
        char err[512];
        if (registry_server_start(&sr, registry_listen, err, sizeof err)) {
            fprintf(stderr, "hivelog broker: schema registry: %s\n", err);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
        printf("schema registry listening on %s\n", registry_server_url(sr));
    }
    const char *addr = rd_kafka_mock_cluster_bootstraps(mc);
    printf("broker listening on %s\n", addr);
    fflush(stdout);
    if (run_dir && ((sr && write_file(run_dir, "registry.url", registry_server_url(sr))) ||
                    write_file(run_dir, "broker.addr", addr))) {
        registry_server_stop(sr);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    hive_info("broker ready", "\"bootstrap\":\"%s\",\"partitions\":%d,\"schema_registry\":\"%s\"",
              addr, cfg.partitions, sr ? registry_server_url(sr) : "");
    while (!cli_stop) usleep(100 * 1000);
    hive_info("broker stopping; the in-memory log and schema registry are discarded", NULL);
    registry_server_stop(sr);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
