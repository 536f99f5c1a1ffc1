/* Tasks rules. Two kinds of aggregate share the service: a project (key
 * project_id) owns its tasks, so "task exists and is open" is local; the
 * tenant's roster (key tenant_id) owns participants, targets and generated
 * assignments, so matching sees every participant at once. Whether an
 * assignee is an active user of the tenant comes from the identity view. */
#include <stdlib.h>
#include <string.h>

#include "decider_service.h"
#include "hive_codec.h"
#include "hive_id.h"
#include "service_util.h"

#define EV(n) "hivelog.event.tasks." n

enum { TODO, IN_PROGRESS, REVIEW, DONE, CANCELLED };
static const char *const status_names[] = {"todo", "in_progress", "review", "done", "cancelled"};

typedef struct {
    char id[37];
    char **skills;
    size_t nskills;
    long load; /* places held in generated assignments, for fair skill matching */
    UT_hash_handle hh;
} participant;

typedef struct {
    char id[37];
    int required_count;
    char **skills;
    size_t nskills;
    UT_hash_handle hh;
} target;

typedef struct {
    char participant[37], target[37];
} detail;

typedef struct {
    char id[37];
    int skill_match;
    detail *details;
    size_t n;
    UT_hash_handle hh;
} assignment;

typedef struct {
    /* project aggregate */
    int project_created;
    svc_str *tasks;     /* task id -> status */
    svc_str *assignees; /* "<task>/<user>" -> aux = assignment id */
    /* roster aggregate */
    participant *participants;
    target *targets;
    assignment *assignments;
    char rr_last[37]; /* round robin resumes after this participant */
} tasks_state;

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void free_state(void *p) {
    tasks_state *st = p;
    svc_set_free(&st->tasks);
    svc_set_free(&st->assignees);
    participant *pa, *pt;
    HASH_ITER(hh, st->participants, pa, pt) {
        HASH_DEL(st->participants, pa);
        free_strings(pa->skills, pa->nskills);
        free(pa);
    }
    target *ta, *tt;
    HASH_ITER(hh, st->targets, ta, tt) {
        HASH_DEL(st->targets, ta);
        free_strings(ta->skills, ta->nskills);
        free(ta);
    }
    assignment *as, *at;
    HASH_ITER(hh, st->assignments, as, at) {
        HASH_DEL(st->assignments, as);
        free(as->details);
        free(as);
    }
}

static const char *str(avro_value_t *rec, const char *field) {
    const char *s = NULL;
    if (hive_avro_get_string(rec, field, &s)) hive_avro_get_opt_string(rec, field, &s);
    return s ? s : "";
}

static char **copy_strings(avro_value_t *rec, const char *field, size_t *n) {
    *n = svc_strings_count(rec, field);
    char **v = calloc(*n ? *n : 1, sizeof *v);
    for (size_t i = 0; v && i < *n; i++) v[i] = strdup(svc_strings_at(rec, field, i));
    return v;
}

static int has_skills(const participant *p, const target *t) {
    for (size_t i = 0; i < t->nskills; i++) {
        int found = 0;
        for (size_t j = 0; j < p->nskills && !found; j++) found = strcmp(t->skills[i], p->skills[j]) == 0;
        if (!found) return 0;
    }
    return 1;
}

static int status_index(const char *s) {
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, status_names[i]) == 0) return i;
    return -1;
}

/* ---- projects and tasks ---- */

static svc_str *need_open_task(tasks_state *st, const char *task, decider_emit *em) {
    svc_str *t = svc_set_find(st->tasks, task);
    if (!t) {
        decider_emit_rejectf(em, 422, "unknown_task", "task %s does not exist in this project", task);
        return NULL;
    }
    if (t->value == DONE || t->value == CANCELLED) {
        decider_emit_rejectf(em, 409, "task_closed", "task %s is %s; nothing changes after that", task,
                             status_names[t->value]);
        return NULL;
    }
    return t;
}

static void decide_project(tasks_state *st, const char *t, avro_value_t *p, decider_emit *em) {
    if (strcmp(t, "project.create") == 0) {
        if (st->project_created) {
            decider_emit_reject(em, 409, "project_exists", "the project already exists");
            return;
        }
        avro_value_t *ev = decider_emit_event(em, EV("ProjectCreated"));
        if (ev) svc_copy_fields(p, ev);
        return;
    }
    if (!st->project_created) {
        decider_emit_rejectf(em, 422, "unknown_project", "project %s does not exist", str(p, "project_id"));
        return;
    }
    const char *task = str(p, "task_id");
    avro_value_t *ev;
    if (strcmp(t, "task.create") == 0) {
        if (svc_set_find(st->tasks, task)) {
            decider_emit_rejectf(em, 409, "task_exists", "task %s already exists", task);
        } else if ((ev = decider_emit_event(em, EV("TaskCreated")))) {
            svc_copy_fields(p, ev);
        }
        return;
    }
    svc_str *tk = need_open_task(st, task, em);
    if (!tk) return;
    if (strcmp(t, "task.update") == 0) {
        if ((ev = decider_emit_event(em, EV("TaskUpdated")))) svc_copy_fields(p, ev);
    } else if (strcmp(t, "task.assign") == 0 || strcmp(t, "task.unassign") == 0) {
        const char *user = str(p, "user_id");
        char k[80];
        snprintf(k, sizeof k, "%s/%s", task, user);
        svc_str *cur = svc_set_find(st->assignees, k);
        if (t[5] == 'a') {
            hive_ref_state us = hive_idview_user(decider_emit_identity(em), decider_emit_tenant(em), user);
            if (us == HIVE_REF_UNKNOWN) {
                decider_emit_rejectf(em, 422, "unknown_user", "user %s is not a user of this tenant", user);
            } else if (us == HIVE_REF_INACTIVE) {
                decider_emit_rejectf(em, 409, "user_inactive", "user %s is not active", user);
            } else if (cur) {
                decider_emit_rejectf(em, 409, "already_assigned", "task %s is already assigned to %s", task, user);
            } else if ((ev = decider_emit_event(em, EV("TaskAssigned")))) {
                char id[HIVE_UUID_LEN + 1];
                hive_uuid_derive(decider_emit_command_id(em), "task_assignment", id);
                svc_copy_fields(p, ev);
                hive_avro_set_string(ev, "assignment_id", id);
            }
        } else if (!cur) {
            decider_emit_rejectf(em, 409, "not_assigned", "task %s is not assigned to %s", task, user);
        } else if ((ev = decider_emit_event(em, EV("TaskUnassigned")))) {
            svc_copy_fields(p, ev);
            hive_avro_set_string(ev, "assignment_id", cur->aux);
        }
    } else if (strcmp(t, "task.set_status") == 0) {
        int to = status_index(svc_enum(p, "status")), from = (int)tk->value;
        /* One step forward along the workflow, or cancel from any open state. */
        if (to != CANCELLED && to != from + 1) {
            decider_emit_rejectf(em, 409, "invalid_transition", "a task cannot move from %s to %s",
                                 status_names[from], to >= 0 ? status_names[to] : "?");
        } else if ((ev = decider_emit_event(em, EV("TaskStatusChanged")))) {
            svc_copy_fields(p, ev);
            svc_set_enum(ev, "from_status", status_names[from]);
            svc_set_enum(ev, "to_status", status_names[to]);
        }
    } else {
        decider_emit_rejectf(em, 422, "unsupported_command", "no tasks rule for %s", t);
    }
}

/* ---- roster: participants, targets, generated assignments ---- */

static int by_id(const void *a, const void *b) {
    return strcmp((*(participant *const *)a)->id, (*(participant *const *)b)->id);
}

static int by_load_then_id(const void *a, const void *b) {
    const participant *x = *(participant *const *)a, *y = *(participant *const *)b;
    if (x->load != y->load) return x->load < y->load ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int used(participant **picked, size_t n, const participant *p) {
    for (size_t i = 0; i < n; i++)
        if (picked[i] == p) return 1;
    return 0;
}

static void generate(tasks_state *st, avro_value_t *p, decider_emit *em) {
    const char *id = str(p, "assignment_id");
    const char *strategy = svc_enum(p, "strategy");
    int skill = strategy && strcmp(strategy, "skill_match") == 0;
    assignment *dup = NULL;
    HASH_FIND_STR(st->assignments, id, dup);
    if (dup) {
        decider_emit_rejectf(em, 409, "assignment_exists", "assignment %s already exists", id);
        return;
    }
    size_t nt = svc_strings_count(p, "target_ids"), np = HASH_COUNT(st->participants);
    if (nt == 0) {
        decider_emit_reject(em, 422, "no_targets", "target_ids must name at least one target");
        return;
    }
    target **targets = calloc(nt, sizeof *targets);
    participant **all = calloc(np ? np : 1, sizeof *all), **picked = NULL;
    size_t npicked = 0, total = 0;
    int *pos = NULL, ok = 0;
    if (!targets || !all) goto done;
    for (size_t i = 0; i < nt; i++) {
        const char *tid = svc_strings_at(p, "target_ids", i);
        HASH_FIND_STR(st->targets, tid, targets[i]);
        if (!targets[i]) {
            decider_emit_rejectf(em, 422, "unknown_target", "target %s does not exist", tid);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (targets[j] == targets[i]) {
                decider_emit_rejectf(em, 422, "duplicate_target", "target %s is listed twice", tid);
                goto done;
            }
        total += (size_t)targets[i]->required_count;
    }
    size_t k = 0;
    for (participant *pa = st->participants; pa; pa = pa->hh.next) all[k++] = pa;
    qsort(all, np, sizeof *all, skill ? by_load_then_id : by_id);
    picked = calloc(total ? total : 1, sizeof *picked);
    pos = calloc(total ? total : 1, sizeof *pos);
    if (!picked || !pos) goto done;
    /* Round robin starts after the participant the previous round ended on. */
    size_t start = 0;
    if (!skill)
        while (start < np && strcmp(all[start]->id, st->rr_last) <= 0) start++;
    for (size_t i = 0; i < nt; i++) {
        for (int slot = 0; slot < targets[i]->required_count; slot++) {
            participant *choice = NULL;
            for (size_t c = 0; c < np && !choice; c++) {
                participant *cand = all[skill ? c : (start + c) % np];
                if (used(picked, npicked, cand)) continue;
                if (skill && !has_skills(cand, targets[i])) continue;
                choice = cand;
            }
            if (!choice) {
                decider_emit_rejectf(em, 422, "insufficient_participants",
                                     "target %s needs %d participants%s; only %d could be placed",
                                     targets[i]->id, targets[i]->required_count,
                                     skill ? " with its required skills" : "", slot);
                goto done;
            }
            if (!skill)
                for (size_t c = 0; c < np; c++)
                    if (all[c] == choice) start = c + 1;
            pos[npicked] = slot + 1;
            picked[npicked++] = choice;
        }
    }
    avro_value_t *ev = decider_emit_event(em, EV("AssignmentGenerated")), arr, el;
    if (!ev) goto done;
    svc_copy_fields(p, ev);
    avro_value_get_by_name(ev, "details", &arr, NULL);
    size_t d = 0;
    for (size_t i = 0; i < nt; i++)
        for (int slot = 0; slot < targets[i]->required_count; slot++, d++) {
            avro_value_append(&arr, &el, NULL);
            hive_avro_set_string(&el, "participant_id", picked[d]->id);
            hive_avro_set_string(&el, "target_id", targets[i]->id);
            hive_avro_set_int(&el, "position", pos[d]);
        }
    ok = 1;
done:
    (void)ok;
    free(targets);
    free(all);
    free(picked);
    free(pos);
}

static void change_assignment(tasks_state *st, avro_value_t *p, decider_emit *em) {
    const char *id = str(p, "assignment_id"), *tid = str(p, "target_id");
    const char *who = str(p, "participant_id"), *repl = str(p, "replacement_id");
    assignment *a = NULL;
    participant *r = NULL;
    target *t = NULL;
    HASH_FIND_STR(st->assignments, id, a);
    HASH_FIND_STR(st->participants, repl, r);
    HASH_FIND_STR(st->targets, tid, t);
    if (!a) {
        decider_emit_rejectf(em, 422, "unknown_assignment", "assignment %s does not exist", id);
        return;
    }
    int placed = 0, repl_busy = 0;
    for (size_t i = 0; i < a->n; i++) {
        placed |= strcmp(a->details[i].participant, who) == 0 && strcmp(a->details[i].target, tid) == 0;
        repl_busy |= strcmp(a->details[i].participant, repl) == 0;
    }
    if (!placed)
        decider_emit_rejectf(em, 422, "not_in_assignment", "participant %s is not on target %s in this assignment", who, tid);
    else if (!r)
        decider_emit_rejectf(em, 422, "unknown_participant", "participant %s does not exist", repl);
    else if (repl_busy)
        decider_emit_rejectf(em, 409, "double_booked", "participant %s already has a place in this assignment", repl);
    else if (a->skill_match && t && !has_skills(r, t))
        decider_emit_rejectf(em, 422, "missing_skills", "participant %s lacks the skills target %s requires", repl, tid);
    else {
        avro_value_t *ev = decider_emit_event(em, EV("AssignmentChanged"));
        if (ev) svc_copy_fields(p, ev);
    }
}

static void decide_roster(tasks_state *st, const char *t, avro_value_t *p, decider_emit *em) {
    avro_value_t *ev;
    if (strcmp(t, "participant.register") == 0) {
        const char *user = NULL;
        hive_avro_get_opt_string(p, "user_id", &user);
        if (user && hive_idview_user(decider_emit_identity(em), decider_emit_tenant(em), user) == HIVE_REF_UNKNOWN)
            decider_emit_rejectf(em, 422, "unknown_user", "user %s is not a user of this tenant", user);
        else if ((ev = decider_emit_event(em, EV("ParticipantRegistered"))))
            svc_copy_fields(p, ev);
    } else if (strcmp(t, "target.define") == 0) {
        if ((ev = decider_emit_event(em, EV("TargetDefined")))) svc_copy_fields(p, ev);
    } else if (strcmp(t, "assignment.generate") == 0) {
        generate(st, p, em);
    } else if (strcmp(t, "assignment.change") == 0) {
        change_assignment(st, p, em);
    } else {
        decider_emit_rejectf(em, 422, "unsupported_command", "no tasks rule for %s", t);
    }
}

static void decide(void *state, const hive_command_type *type, avro_value_t *p, decider_emit *em) {
    if (strcmp(type->aggregate_type, "roster") == 0) decide_roster(state, type->type, p, em);
    else decide_project(state, type->type, p, em);
}

static void evolve(void *state, const hive_schema *schema, avro_value_t *ev) {
    tasks_state *st = state;
    const char *n = schema->full_name + strlen(EV(""));
    if (strcmp(n, "ProjectCreated") == 0) {
        st->project_created = 1;
    } else if (strcmp(n, "TaskCreated") == 0) {
        svc_set_add(&st->tasks, str(ev, "task_id"));
    } else if (strcmp(n, "TaskStatusChanged") == 0) {
        svc_str *t = svc_set_find(st->tasks, str(ev, "task_id"));
        if (t) t->value = status_index(svc_enum(ev, "to_status"));
    } else if (strcmp(n, "TaskAssigned") == 0 || strcmp(n, "TaskUnassigned") == 0) {
        char k[80];
        snprintf(k, sizeof k, "%s/%s", str(ev, "task_id"), str(ev, "user_id"));
        if (n[4] == 'A') {
            svc_str *a = svc_set_add(&st->assignees, k);
            if (a) snprintf(a->aux, sizeof a->aux, "%s", str(ev, "assignment_id"));
        } else {
            svc_set_remove(&st->assignees, k);
        }
    } else if (strcmp(n, "ParticipantRegistered") == 0) {
        const char *id = str(ev, "participant_id");
        participant *pa = NULL;
        HASH_FIND_STR(st->participants, id, pa);
        if (!pa) {
            if (!(pa = calloc(1, sizeof *pa))) return;
            snprintf(pa->id, sizeof pa->id, "%s", id);
            HASH_ADD_STR(st->participants, id, pa);
        }
        free_strings(pa->skills, pa->nskills);
        pa->skills = copy_strings(ev, "skills", &pa->nskills);
    } else if (strcmp(n, "TargetDefined") == 0) {
        const char *id = str(ev, "target_id");
        target *t = NULL;
        HASH_FIND_STR(st->targets, id, t);
        if (!t) {
            if (!(t = calloc(1, sizeof *t))) return;
            snprintf(t->id, sizeof t->id, "%s", id);
            HASH_ADD_STR(st->targets, id, t);
        }
        hive_avro_get_int(ev, "required_count", &t->required_count);
        free_strings(t->skills, t->nskills);
        t->skills = copy_strings(ev, "required_skills", &t->nskills);
    } else if (strcmp(n, "AssignmentGenerated") == 0) {
        assignment *a = calloc(1, sizeof *a);
        avro_value_t arr, el;
        if (!a || avro_value_get_by_name(ev, "details", &arr, NULL)) {
            free(a);
            return;
        }
        snprintf(a->id, sizeof a->id, "%s", str(ev, "assignment_id"));
        const char *strategy = svc_enum(ev, "strategy");
        a->skill_match = strategy && strcmp(strategy, "skill_match") == 0;
        avro_value_get_size(&arr, &a->n);
        a->details = calloc(a->n ? a->n : 1, sizeof *a->details);
        for (size_t i = 0; a->details && i < a->n; i++) {
            avro_value_get_by_index(&arr, i, &el, NULL);
            snprintf(a->details[i].participant, 37, "%s", str(&el, "participant_id"));
            snprintf(a->details[i].target, 37, "%s", str(&el, "target_id"));
            participant *pa = NULL;
            HASH_FIND_STR(st->participants, a->details[i].participant, pa);
            if (pa) pa->load++;
            if (!a->skill_match) snprintf(st->rr_last, sizeof st->rr_last, "%s", a->details[i].participant);
        }
        HASH_ADD_STR(st->assignments, id, a);
    } else if (strcmp(n, "AssignmentChanged") == 0) {
        assignment *a = NULL;
        HASH_FIND_STR(st->assignments, str(ev, "assignment_id"), a);
        for (size_t i = 0; a && i < a->n; i++)
            if (strcmp(a->details[i].participant, str(ev, "participant_id")) == 0 &&
                strcmp(a->details[i].target, str(ev, "target_id")) == 0) {
                /* the place moves, and with it the load skill matching balances */
                participant *was = NULL, *now = NULL;
                HASH_FIND_STR(st->participants, a->details[i].participant, was);
                HASH_FIND_STR(st->participants, str(ev, "replacement_id"), now);
                if (was) was->load--;
                if (now) now->load++;
                snprintf(a->details[i].participant, 37, "%s", str(ev, "replacement_id"));
            }
    }
}

const decider_service tasks_decider_service = {
    .service = "tasks",
    .state_size = sizeof(tasks_state),
    .free_state = free_state,
    .decide = decide,
    .evolve = evolve,
};
