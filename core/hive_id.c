/* UUID and timestamp helpers (see hive_id.h). Time parsing is done here
 * rather than with strptime/timegm because those ignore offsets and depend on
 * the process's time zone. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hive_err.h"
#include "hive_id.h"

bool hive_uuid_valid(const char *s) {
    if (!s || strlen(s) != HIVE_UUID_LEN) return false;
    for (int i = 0; i < HIVE_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

void hive_uuid_normalize(const char *s, char out[HIVE_UUID_LEN + 1]) {
    for (int i = 0; i < HIVE_UUID_LEN; i++) out[i] = (char)tolower((unsigned char)s[i]);
    out[HIVE_UUID_LEN] = '\0';
}

static void format_uuid(unsigned char b[16], char out[HIVE_UUID_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void hive_uuid_random(char out[HIVE_UUID_LEN + 1]) {
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    format_uuid(b, out);
}

void hive_uuid_derive(const char *base, const char *label, char out[HIVE_UUID_LEN + 1]) {
    unsigned char b[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof b);
    crypto_generichash_update(&st, (const unsigned char *)base, strlen(base));
    crypto_generichash_update(&st, (const unsigned char *)"\0", 1);
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
    crypto_generichash_final(&st, b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x80);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    format_uuid(b, out);
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int hive_date_parse(const char *s, int32_t *out_days) {
    int Y, M, D;
    if (!s || strlen(s) != 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D))
        return HIVE_ERR_INVALID;
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M)) return HIVE_ERR_INVALID;
    *out_days = (int32_t)days_from_civil(Y, M, D);
    return 0;
}

void hive_date_format(int32_t days, char *out, size_t cap) {
    /* civil_from_days (Howard Hinnant), the inverse of days_from_civil. */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, cap, "%04lld-%02lld-%02lld", (long long)(y + (m <= 2)), (long long)m, (long long)d);
}

int hive_time_parse_rfc3339(const char *s, int64_t *out_us) {
    int Y, M, D, h, mi, sec;
    if (!s || strlen(s) < 20) return HIVE_ERR_INVALID;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return HIVE_ERR_INVALID;
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 ||
        sec > 60)
        return HIVE_ERR_INVALID;
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        int64_t scale = 100000;
        while (isdigit((unsigned char)*p)) {
            if (nd < 6) frac_us += (*p - '0') * scale;
            scale /= 10;
            nd++;
            p++;
        }
        if (nd == 0) return HIVE_ERR_INVALID;
    }
    int64_t off_s;
    if (*p == 'Z' || *p == 'z') {
        off_s = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return HIVE_ERR_INVALID;
        off_s = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return HIVE_ERR_INVALID; /* an offset is mandatory: local times are ambiguous */
    }
    if (*p) return HIVE_ERR_INVALID;
    if (sec == 60) sec = 59; /* leap second: clamp, as most databases do */
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out_us = t * 1000000 + frac_us;
    return 0;
}

void hive_time_format_rfc3339(int64_t us, char *out, size_t cap) {
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) { /* floor, without negating (INT64_MIN has no positive twin) */
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)frac);
}

int hive_time_parse_hhmm(const char *s, int32_t *out_ms) {
    int h, m;
    if (!s || strlen(s) != 5 || digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) ||
        h > 23 || m > 59)
        return HIVE_ERR_INVALID;
    *out_ms = (int32_t)((h * 60 + m) * 60000);
    return 0;
}

void hive_time_format_hhmm(int32_t ms, char *out, size_t cap) {
    int mins = ms / 60000;
    snprintf(out, cap, "%02d:%02d", (mins / 60) % 100, mins % 60);
}

int64_t hive_time_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hive_time_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
