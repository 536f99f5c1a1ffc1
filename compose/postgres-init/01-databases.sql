-- One database per hivelog service (ARCHITECTURE.md "Projectors").
-- Run once by the postgres image's entrypoint, as POSTGRES_USER (hivelog),
-- when the data volume is empty. hivelog also creates its database if
-- missing and applies the migrations itself (`hivelog project presence`,
-- `hivelog migrate <service>`); creating them here makes the set explicit.
-- Only hive_presence is used by this release; the others are for the
-- identity, tasks, billing and audit services that follow.
CREATE DATABASE hive_presence;
CREATE DATABASE hive_identity;
CREATE DATABASE hive_tasks;
CREATE DATABASE hive_billing;
CREATE DATABASE hive_audit;
