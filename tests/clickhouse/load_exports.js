#!/usr/bin/env node
// Loads hivelog exports into the ClickHouse engine shipped by chdb, using the
// committed DDL in sql/clickhouse/, and prints what ClickHouse then holds as
// one JSON object on stdout. Driven by tests/integration/test_clickhouse.py.
//
// usage: node load_exports.js CONFIG.json
//   CONFIG: {"ddl_dir", "work_dir", "loads": [{"name", "dir", "format"}],
//            "avro": [{"path", "event_type", "topic"}], "registry_url"}
//
// For each load: a fresh `hive` database from 01_tables.sql, every data file
// of the export inserted with `INSERT INTO hive.<table> FROM INFILE '<glob>'
// FORMAT <format>` (ClickHouse checks RowBinaryWithNamesAndTypes headers
// against the table), then per table count() and an order-independent hash
// of all rows, and the per-tenant figures the test compares with PostgreSQL.
//
// Kafka path, without a broker: 02_kafka.sql is executed as written (Kafka
// engine tables with AvroConfluent and their materialized views are created,
// listed in system.tables, then dropped); then the same statements with each
// Kafka table replaced by a Null table that has the Kafka engine's virtual
// columns as ordinary ones, fed with the topic's raw Confluent wire records
// (file(..., 'AvroConfluent') against a local schema registry) and the
// hive-event-type header, so the materialized views' column mapping is
// checked on real records. Exits non-zero on any ClickHouse error.
'use strict';

const fs = require('fs');
const path = require('path');
const { Session } = require('chdb');

const VIRTUALS = [
  ['_topic', 'LowCardinality(String)'], ['_key', 'String'], ['_offset', 'UInt64'],
  ['_partition', 'UInt64'], ['_timestamp', 'Nullable(DateTime)'],
  ['_headers.name', 'Array(String)'], ['_headers.value', 'Array(String)'],
  ['_raw_message', 'String'], ['_error', 'String'],
];

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const session = new Session(path.join(cfg.work_dir, 'chdb'));

function q(sql, format = 'JSONEachRow') {
  try {
    return session.query(sql, format);
  } catch (e) {
    throw new Error(`ClickHouse refused: ${String(e.message || e).slice(0, 2000)}\n--- statement:\n${sql.slice(0, 1500)}`);
  }
}

function rows(sql) {
  return String(q(sql)).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

// Splits a DDL file into statements: `;` at the end of a line, outside quotes.
function statements(text) {
  const out = [];
  let cur = '', quote = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    cur += ch;
    if (quote) {
      if (ch === '\\') { cur += text[++i]; continue; }
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '`') {
      quote = ch;
    } else if (ch === '-' && text[i + 1] === '-') {
      const nl = text.indexOf('\n', i);
      const end = nl < 0 ? text.length : nl;
      cur = cur.slice(0, -1);
      i = end - 1;
    } else if (ch === ';') {
      if (cur.trim() !== ';') out.push(cur.trim());
      cur = '';
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const ddl = (name) => fs.readFileSync(path.join(cfg.ddl_dir, name), 'utf8');

function eventTables() {
  return rows(`SELECT name FROM system.tables WHERE database = 'hive' AND engine = 'MergeTree'
               AND name NOT LIKE 'kafka%' ORDER BY name`)
    .map((r) => r.name);
}

function snapshot() {
  const tables = {};
  for (const t of eventTables().concat(['aggregates'])) {
    const [r] = rows(`SELECT count() AS rows, toString(sum(sipHash64(toString(tuple(*))))) AS hash FROM hive.${t}${t === 'aggregates' ? ' FINAL' : ''}`);
    tables[t] = { rows: Number(r.rows), hash: r.hash };
  }
  const perTenant = (sql) => Object.fromEntries(rows(sql).map((r) => [r.tenant, r]));
  return {
    tables,
    checked_in: perTenant('SELECT toString(tenant_id) AS tenant, count() AS n FROM hive.presence_checked_in GROUP BY tenant'),
    checked_out: perTenant(`SELECT toString(tenant_id) AS tenant, count() AS n,
        toString(sum(dateDiff('microsecond', checked_in_at, at))) AS duration_us
      FROM hive.presence_checked_out GROUP BY tenant`),
    schedules: perTenant(`SELECT toString(tenant_id) AS tenant, count() AS n, toString(sum(end_time - start_time)) AS scheduled_ms
      FROM (SELECT tenant_id, user_id, day_of_week,
                   argMax(start_time, aggregate_version) AS start_time, argMax(end_time, aggregate_version) AS end_time
            FROM hive.presence_schedule_set GROUP BY tenant_id, user_id, day_of_week)
      GROUP BY tenant`),
    aggregates: perTenant(`SELECT toString(tenant_id) AS tenant, count() AS n, toString(sum(aggregate_version)) AS versions
      FROM hive.aggregates FINAL WHERE aggregate_type = 'worker' GROUP BY tenant`),
    users: perTenant('SELECT toString(tenant_id) AS tenant, count() AS n FROM hive.identity_user_registered GROUP BY tenant'),
    tasks: perTenant('SELECT toString(tenant_id) AS tenant, count() AS n FROM hive.tasks_task_created GROUP BY tenant'),
    invoices: perTenant(`SELECT toString(tenant_id) AS tenant, count() AS n, toString(sum(total_cents)) AS total
      FROM hive.billing_invoice_issued GROUP BY tenant`),
    paid: perTenant(`SELECT toString(tenant_id) AS tenant, count() AS n, toString(sum(amount_cents)) AS total
      FROM hive.billing_invoice_paid GROUP BY tenant`),
  };
}

function freshDatabase() {
  q('DROP DATABASE IF EXISTS hive SYNC');
  for (const st of statements(ddl('01_tables.sql'))) q(st);
}

function loadExport(load) {
  freshDatabase();
  const ext = load.format === 'JSONEachRow' ? 'jsonl' : 'rowbinary';
  let files = 0;
  for (const t of eventTables()) {
    const dir = path.join(load.dir, t);
    if (!fs.existsSync(dir)) continue;
    files += fs.readdirSync(dir).reduce((n, d) => n + fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith(ext)).length, 0);
    q(`INSERT INTO hive.${t} FROM INFILE '${dir}/day=*/*.${ext}' FORMAT ${load.format}`);
  }
  return { files, ...snapshot() };
}

// The Kafka DDL as written: parsed, validated against the tables and created.
function kafkaAsWritten() {
  freshDatabase();
  const sts = statements(ddl('02_kafka.sql'));
  for (const st of sts) q(st);
  const created = rows(`SELECT name, engine FROM system.tables WHERE database = 'hive'
                         AND (engine IN ('Kafka', 'MaterializedView') OR name = 'kafka_errors') ORDER BY name`);
  const kafkaTables = created.filter((r) => r.engine === 'Kafka').map((r) => r.name);
  const views = created.filter((r) => r.engine === 'MaterializedView' && /_from_kafka$|^kafka_.*_errors$/.test(r.name)).map((r) => r.name);
  const settings = {};
  for (const t of kafkaTables) {
    const [r] = rows(`SELECT create_table_query FROM system.tables WHERE database = 'hive' AND name = '${t}'`);
    settings[t] = /kafka_format = 'AvroConfluent'/.test(r.create_table_query) &&
      /format_avro_schema_registry_url = '/.test(r.create_table_query);
  }
  for (const v of views) q(`DROP TABLE hive.${v} SYNC`);
  for (const t of kafkaTables) q(`DROP TABLE hive.${t} SYNC`);
  return { statements: sts.length, kafka_tables: kafkaTables, views, avro_confluent_settings: settings };
}

// The Kafka DDL with Null stand-ins, fed with the topic's real records.
function kafkaThroughStandIns() {
  freshDatabase();
  const standIns = {};
  for (let st of statements(ddl('02_kafka.sql'))) {
    const m = /^CREATE TABLE IF NOT EXISTS hive\.(\w+)\s*\(([\s\S]*)\)\s*ENGINE = Kafka[\s\S]*$/.exec(st);
    if (m) {
      const topic = /kafka_topic_list = '([^']+)'/.exec(st)[1];
      standIns[topic] = m[1];
      const virt = VIRTUALS.map(([n, t]) => `\`${n}\` ${t}`).join(',\n    ');
      st = `CREATE TABLE hive.${m[1]} (${m[2].trimEnd()},\n    ${virt}\n) ENGINE = Null`;
    }
    q(st);
  }
  let records = 0;
  for (const a of cfg.avro) {
    const table = standIns[a.topic];
    if (!table) throw new Error(`no Kafka table reads ${a.topic}`);
    const cols = rows(`SELECT name, type FROM system.columns WHERE database = 'hive' AND table = '${table}'
                       AND name NOT LIKE '\\_%' ORDER BY position`);
    const structure = cols.map((c) => `\`${c.name}\` ${c.type}`).join(', ').replace(/'/g, "\\'");
    const names = cols.map((c) => `\`${c.name}\``).join(', ');
    const [n] = rows(`SELECT count() AS n FROM file('${a.path}', 'AvroConfluent', '${structure}')
                      SETTINGS format_avro_schema_registry_url = '${cfg.registry_url}', input_format_avro_allow_missing_fields = 1`);
    records += Number(n.n);
    q(`INSERT INTO hive.${table} (${names}, _topic, \`_headers.name\`, \`_headers.value\`, _error)
       SELECT ${names}, '${a.topic}', ['hive-event-type'], ['${a.event_type}'], ''
       FROM file('${a.path}', 'AvroConfluent', '${structure}')
       SETTINGS format_avro_schema_registry_url = '${cfg.registry_url}', input_format_avro_allow_missing_fields = 1`);
  }
  const [errs] = rows('SELECT count() AS n FROM hive.kafka_errors');
  return { records, kafka_errors: Number(errs.n), ...snapshot() };
}

const out = { clickhouse_version: rows('SELECT version() AS v')[0].v, loads: {} };
for (const load of cfg.loads) out.loads[load.name] = loadExport(load);
out.kafka_ddl = kafkaAsWritten();
if (cfg.avro && cfg.avro.length) out.loads.avroconfluent = kafkaThroughStandIns();
session.close();
process.stdout.write(JSON.stringify(out) + '\n');
