/* Command type table (see hive_catalog.h). */
#include <string.h>

#include "hive_catalog.h"

static const hive_command_type commands[] = {
    {"presence.check_in", "presence", "hivelog.command.presence.CheckIn", "worker", "user_id"},
    {"presence.check_out", "presence", "hivelog.command.presence.CheckOut", "worker", "user_id"},
    {"schedule.set", "presence", "hivelog.command.presence.SetSchedule", "worker", "user_id"},
    {"tenant.create", "identity", "hivelog.command.identity.CreateTenant", "tenant", NULL},
    {"tenant.update", "identity", "hivelog.command.identity.UpdateTenant", "tenant", NULL},
    {"user.register", "identity", "hivelog.command.identity.RegisterUser", "tenant", NULL},
    {"user.update_profile", "identity", "hivelog.command.identity.UpdateUserProfile", "tenant", NULL},
    {"user.set_status", "identity", "hivelog.command.identity.SetUserStatus", "tenant", NULL},
    {"department.define", "identity", "hivelog.command.identity.DefineDepartment", "tenant", NULL},
    {"role.define", "identity", "hivelog.command.identity.DefineRole", "tenant", NULL},
    {"role.grant", "identity", "hivelog.command.identity.GrantRole", "tenant", NULL},
    {"role.revoke", "identity", "hivelog.command.identity.RevokeRole", "tenant", NULL},
    {"membership.add", "identity", "hivelog.command.identity.AddMembership", "tenant", NULL},
    {"membership.change_role", "identity", "hivelog.command.identity.ChangeMembershipRole", "tenant", NULL},
    {"membership.remove", "identity", "hivelog.command.identity.RemoveMembership", "tenant", NULL},
    {"api_key.issue", "identity", "hivelog.command.identity.IssueApiKey", "tenant", NULL},
    {"api_key.revoke", "identity", "hivelog.command.identity.RevokeApiKey", "tenant", NULL},
    {"project.create", "tasks", "hivelog.command.tasks.CreateProject", "project", "project_id"},
    {"task.create", "tasks", "hivelog.command.tasks.CreateTask", "project", "project_id"},
    {"task.update", "tasks", "hivelog.command.tasks.UpdateTask", "project", "project_id"},
    {"task.assign", "tasks", "hivelog.command.tasks.AssignTask", "project", "project_id"},
    {"task.unassign", "tasks", "hivelog.command.tasks.UnassignTask", "project", "project_id"},
    {"task.set_status", "tasks", "hivelog.command.tasks.SetTaskStatus", "project", "project_id"},
    {"participant.register", "tasks", "hivelog.command.tasks.RegisterParticipant", "roster", NULL},
    {"target.define", "tasks", "hivelog.command.tasks.DefineTarget", "roster", NULL},
    {"assignment.generate", "tasks", "hivelog.command.tasks.GenerateAssignment", "roster", NULL},
    {"assignment.change", "tasks", "hivelog.command.tasks.ChangeAssignment", "roster", NULL},
    {"subscription.start", "billing", "hivelog.command.billing.StartSubscription", "billing_account", NULL},
    {"subscription.change", "billing", "hivelog.command.billing.ChangeSubscription", "billing_account", NULL},
    {"subscription.cancel", "billing", "hivelog.command.billing.CancelSubscription", "billing_account", NULL},
    {"invoice.issue", "billing", "hivelog.command.billing.IssueInvoice", "billing_account", NULL},
    {"invoice.mark_paid", "billing", "hivelog.command.billing.MarkInvoicePaid", "billing_account", NULL},
    {"invoice.void", "billing", "hivelog.command.billing.VoidInvoice", "billing_account", NULL},
};

static const char *const services[] = {"identity", "presence", "tasks", "billing"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const hive_command_type *hive_catalog_command(const char *type) {
    for (int i = 0; i < COUNT(commands); i++)
        if (strcmp(commands[i].type, type) == 0) return &commands[i];
    return NULL;
}

const hive_command_type *hive_catalog_command_by_schema(const char *schema_name) {
    for (int i = 0; i < COUNT(commands); i++)
        if (strcmp(commands[i].schema_name, schema_name) == 0) return &commands[i];
    return NULL;
}

int hive_catalog_command_count(void) { return COUNT(commands); }
const hive_command_type *hive_catalog_command_at(int i) {
    return i >= 0 && i < COUNT(commands) ? &commands[i] : NULL;
}

int hive_catalog_service_count(void) { return COUNT(services); }
const char *hive_catalog_service_at(int i) {
    return i >= 0 && i < COUNT(services) ? services[i] : NULL;
}
