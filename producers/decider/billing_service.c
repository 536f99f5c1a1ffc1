/* Billing rules. The aggregate is the tenant's billing account, so invoice
 * numbers come from one counter with no gaps (a rejected invoice consumes
 * no number), and money is integer minor units checked for overflow. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decider_service.h"
#include "hive_codec.h"
#include "service_util.h"

#define EV(n) "hivelog.event.billing." n

enum { SUB_ACTIVE = 1, SUB_CANCELLED = 2 };
enum { INV_ISSUED = 1, INV_PAID = 2, INV_VOID = 3 };

typedef struct {
    int64_t next_invoice_number; /* 0 means 1: states start zeroed */
    svc_str *subscriptions;      /* id -> SUB_* */
    svc_str *invoices;           /* id -> INV_* ; aux = currency, amount kept in totals */
    svc_str *totals;             /* invoice id -> total_cents */
} billing_state;

static void free_state(void *p) {
    billing_state *st = p;
    svc_set_free(&st->subscriptions);
    svc_set_free(&st->invoices);
    svc_set_free(&st->totals);
}

static const char *str(avro_value_t *rec, const char *field) {
    const char *s = NULL;
    if (hive_avro_get_string(rec, field, &s)) hive_avro_get_opt_string(rec, field, &s);
    return s ? s : "";
}

/* The same day-of-month one interval later, clamped to the month's end
 * (Jan 31 + 1 month = Feb 28/29), in UTC. */
static int64_t add_interval(int64_t us, int years, int months) {
    time_t secs = (time_t)(us / 1000000);
    int64_t frac = us % 1000000;
    struct tm tm;
    gmtime_r(&secs, &tm);
    int mday = tm.tm_mday;
    tm.tm_year += years;
    tm.tm_mon += months;
    tm.tm_mday = 1;
    time_t first = timegm(&tm);
    gmtime_r(&first, &tm);
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int last = dm[tm.tm_mon] + (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100) || y % 400 == 0));
    tm.tm_mday = mday < last ? mday : last;
    return (int64_t)timegm(&tm) * 1000000 + frac;
}

static void issue(billing_state *st, avro_value_t *p, decider_emit *em) {
    const char *id = str(p, "invoice_id"), *currency = str(p, "currency"), *sub = NULL;
    if (svc_set_find(st->invoices, id)) {
        decider_emit_rejectf(em, 409, "invoice_exists", "invoice %s already exists", id);
        return;
    }
    hive_avro_get_opt_string(p, "subscription_id", &sub);
    if (sub && !svc_set_find(st->subscriptions, sub)) {
        decider_emit_rejectf(em, 422, "unknown_subscription", "subscription %s does not exist", sub);
        return;
    }
    avro_value_t lines, line;
    size_t n = 0;
    avro_value_get_by_name(p, "lines", &lines, NULL);
    avro_value_get_size(&lines, &n);
    if (n == 0) {
        decider_emit_reject(em, 422, "no_lines", "an invoice needs at least one line");
        return;
    }
    int64_t subtotal = 0, tax = 0, total, claimed;
    int no_claim = 1;
    hive_avro_get_long(p, "tax_cents", &tax);
    for (size_t i = 0; i < n; i++) {
        int64_t qty, unit, amount;
        const char *lc = NULL;
        avro_value_get_by_index(&lines, i, &line, NULL);
        hive_avro_get_long(&line, "quantity", &qty);
        hive_avro_get_long(&line, "unit_amount_cents", &unit);
        hive_avro_get_opt_string(&line, "currency", &lc);
        if (lc && strcmp(lc, currency) != 0) {
            decider_emit_rejectf(em, 422, "currency_mismatch",
                                 "line %zu is in %s but the invoice is in %s; one currency per invoice",
                                 i + 1, lc, currency);
            return;
        }
        if (qty < 0 || unit < 0 || __builtin_mul_overflow(qty, unit, &amount) ||
            __builtin_add_overflow(subtotal, amount, &subtotal)) {
            decider_emit_rejectf(em, 422, "amount_out_of_range", "line %zu's amount is out of range", i + 1);
            return;
        }
    }
    if (tax < 0 || __builtin_add_overflow(subtotal, tax, &total)) {
        decider_emit_reject(em, 422, "amount_out_of_range", "the invoice total is out of range");
        return;
    }
    hive_avro_get_opt_long(p, "total_cents", &claimed, &no_claim);
    if (!no_claim && claimed != total) {
        decider_emit_rejectf(em, 422, "total_mismatch",
                             "total_cents is %lld but lines + tax come to %lld",
                             (long long)claimed, (long long)total);
        return;
    }
    avro_value_t *ev = decider_emit_event(em, EV("InvoiceIssued")), out, el;
    if (!ev) return;
    svc_copy_fields(p, ev);
    hive_avro_set_long(ev, "invoice_number", st->next_invoice_number ? st->next_invoice_number : 1);
    hive_avro_set_long(ev, "subtotal_cents", subtotal);
    hive_avro_set_long(ev, "total_cents", total);
    avro_value_get_by_name(ev, "lines", &out, NULL);
    for (size_t i = 0; i < n; i++) {
        int64_t qty, unit;
        const char *desc;
        avro_value_get_by_index(&lines, i, &line, NULL);
        hive_avro_get_long(&line, "quantity", &qty);
        hive_avro_get_long(&line, "unit_amount_cents", &unit);
        hive_avro_get_string(&line, "description", &desc);
        avro_value_append(&out, &el, NULL);
        hive_avro_set_int(&el, "line_no", (int32_t)i + 1);
        hive_avro_set_string(&el, "description", desc);
        hive_avro_set_long(&el, "quantity", qty);
        hive_avro_set_long(&el, "unit_amount_cents", unit);
        hive_avro_set_long(&el, "amount_cents", qty * unit);
    }
}

static void decide(void *state, const hive_command_type *type, avro_value_t *p, decider_emit *em) {
    billing_state *st = state;
    const char *t = type->type;
    avro_value_t *ev;
    if (strcmp(t, "subscription.start") == 0) {
        const char *id = str(p, "subscription_id");
        if (svc_set_find(st->subscriptions, id)) {
            decider_emit_rejectf(em, 409, "subscription_exists", "subscription %s already exists", id);
        } else if ((ev = decider_emit_event(em, EV("SubscriptionStarted")))) {
            int64_t start;
            const char *interval = svc_enum(p, "billing_interval");
            svc_copy_fields(p, ev);
            hive_avro_get_long(p, "period_start", &start);
            int yearly = interval && strcmp(interval, "year") == 0;
            hive_avro_set_long(ev, "period_end", add_interval(start, yearly, !yearly));
        }
    } else if (strcmp(t, "subscription.change") == 0 || strcmp(t, "subscription.cancel") == 0) {
        const char *id = str(p, "subscription_id");
        svc_str *s = svc_set_find(st->subscriptions, id);
        int change = strcmp(t, "subscription.change") == 0;
        if (!s)
            decider_emit_rejectf(em, 422, "unknown_subscription", "subscription %s does not exist", id);
        else if (s->value != SUB_ACTIVE)
            decider_emit_rejectf(em, 409, "subscription_not_active", "subscription %s is cancelled", id);
        else if (change && svc_is_null(p, "plan_id") && svc_is_null(p, "amount_cents"))
            decider_emit_reject(em, 422, "nothing_to_change", "give plan_id or amount_cents");
        else if ((ev = decider_emit_event(em, change ? EV("SubscriptionChanged") : EV("SubscriptionCancelled"))))
            svc_copy_fields(p, ev);
    } else if (strcmp(t, "invoice.issue") == 0) {
        issue(st, p, em);
    } else if (strcmp(t, "invoice.mark_paid") == 0 || strcmp(t, "invoice.void") == 0) {
        const char *id = str(p, "invoice_id");
        svc_str *inv = svc_set_find(st->invoices, id);
        int pay = t[8] == 'm';
        if (!inv) {
            decider_emit_rejectf(em, 422, "unknown_invoice", "invoice %s does not exist", id);
        } else if (inv->value != INV_ISSUED) {
            decider_emit_rejectf(em, 409, "invoice_not_issued", "invoice %s is %s; only an issued invoice can be %s",
                                 id, inv->value == INV_PAID ? "paid" : "void", pay ? "paid" : "voided");
        } else if ((ev = decider_emit_event(em, pay ? EV("InvoicePaid") : EV("InvoiceVoided")))) {
            svc_copy_fields(p, ev);
            if (pay) {
                svc_str *tot = svc_set_find(st->totals, id);
                hive_avro_set_long(ev, "amount_cents", tot ? tot->value : 0);
                hive_avro_set_string(ev, "currency", inv->aux);
            }
        }
    } else {
        decider_emit_rejectf(em, 422, "unsupported_command", "no billing rule for %s", t);
    }
}

static void evolve(void *state, const hive_schema *schema, avro_value_t *ev) {
    billing_state *st = state;
    const char *n = schema->full_name + strlen(EV(""));
    if (strcmp(n, "SubscriptionStarted") == 0) {
        svc_str *s = svc_set_add(&st->subscriptions, str(ev, "subscription_id"));
        if (s) s->value = SUB_ACTIVE;
    } else if (strcmp(n, "SubscriptionCancelled") == 0) {
        svc_str *s = svc_set_find(st->subscriptions, str(ev, "subscription_id"));
        if (s) s->value = SUB_CANCELLED;
    } else if (strcmp(n, "InvoiceIssued") == 0) {
        int64_t number = 0, total = 0;
        hive_avro_get_long(ev, "invoice_number", &number);
        hive_avro_get_long(ev, "total_cents", &total);
        svc_str *inv = svc_set_add(&st->invoices, str(ev, "invoice_id"));
        svc_str *tot = svc_set_add(&st->totals, str(ev, "invoice_id"));
        if (inv) {
            inv->value = INV_ISSUED;
            snprintf(inv->aux, sizeof inv->aux, "%s", str(ev, "currency"));
        }
        if (tot) tot->value = (long)total;
        st->next_invoice_number = number + 1;
    } else if (strcmp(n, "InvoicePaid") == 0 || strcmp(n, "InvoiceVoided") == 0) {
        svc_str *inv = svc_set_find(st->invoices, str(ev, "invoice_id"));
        if (inv) inv->value = n[7] == 'P' ? INV_PAID : INV_VOID;
    }
}

const decider_service billing_decider_service = {
    .service = "billing",
    .state_size = sizeof(billing_state),
    .free_state = free_state,
    .decide = decide,
    .evolve = evolve,
};
