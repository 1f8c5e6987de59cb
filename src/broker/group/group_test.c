/*
 * group_test.c -- unit tests of the group state machine's pure parts:
 * protocol selection by votes among the protocols every member supports,
 * and the subscription check OffsetDelete relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "broker/group/group_int.h"

/* A group of n members, member i supporting the space-separated protocol
 * names in prefs[i] (most preferred first). */
typedef struct fake {
    kfk_group g;
    kfk_gmember m[8];
    kfk_gproto p[8][8];
    char names[8][8][32];
} fake;

static void
make(fake *f, const char *const *prefs, int n)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < n; i++) {
        kfk_gmember *m = &f->m[i];
        m->g = &f->g;
        m->protos = f->p[i];
        char tmp[256];
        strcpy(tmp, prefs[i]);
        for (char *tok = strtok(tmp, " "); tok; tok = strtok(NULL, " ")) {
            strcpy(f->names[i][m->nprotos], tok);
            f->p[i][m->nprotos].name = f->names[i][m->nprotos];
            m->nprotos++;
        }
        m->next = i + 1 < n ? &f->m[i + 1] : NULL;
    }
    f->g.members = n ? &f->m[0] : NULL;
    f->g.nmembers = n;
}

static const char *
select_for(const char *const *prefs, int n)
{
    static fake f;
    make(&f, prefs, n);
    return kfk_group_select_protocol(&f.g);
}

static void
protocol_selection(void **st)
{
    (void)st;
    const char *one[] = {"range roundrobin"};
    assert_string_equal(select_for(one, 1), "range");

    /* Both supported by both; one vote each: the first vote wins. */
    const char *tie[] = {"range roundrobin", "roundrobin range"};
    assert_string_equal(select_for(tie, 2), "range");

    /* Majority. */
    const char *maj[] = {"range roundrobin", "roundrobin range",
                         "roundrobin range"};
    assert_string_equal(select_for(maj, 3), "roundrobin");

    /* Only candidates supported by all members count: the third member
     * knows only "sticky", so everyone votes for it. */
    const char *cand[] = {"range sticky", "roundrobin sticky range", "sticky"};
    assert_string_equal(select_for(cand, 3), "sticky");

    /* A member votes for its first candidate, not its first protocol. */
    const char *first[] = {"cooperative-sticky range", "range",
                           "range cooperative-sticky"};
    assert_string_equal(select_for(first, 3), "range");

    /* No common protocol, no members. */
    const char *none[] = {"range", "roundrobin"};
    assert_null(select_for(none, 2));
    assert_null(select_for(NULL, 0));
}

/* ConsumerProtocolSubscription v<ver> with the given topics. */
static void
subscription(kfk_buf *wb, int16_t ver, const char *const *topics, int n)
{
    kfk_buf_put_i16(wb, ver);
    kfk_buf_put_i32(wb, n);
    for (int i = 0; i < n; i++) {
        kfk_buf_put_i16(wb, (int16_t)strlen(topics[i]));
        kfk_buf_put(wb, topics[i], strlen(topics[i]));
    }
    kfk_buf_put_i32(wb, -1);               /* UserData */
    if (ver >= 1) kfk_buf_put_i32(wb, 0);  /* OwnedPartitions */
    if (ver >= 2) kfk_buf_put_i32(wb, 3);  /* GenerationId */
    if (ver >= 3) kfk_buf_put_i16(wb, -1); /* RackId */
}

static void
subscribed_topics(void **st)
{
    (void)st;
    fake f;
    const char *prefs[] = {"range", "range"};
    make(&f, prefs, 2);
    char ptype[] = "consumer", pname[] = "range";
    f.g.protocol_type = ptype;
    f.g.protocol_name = pname;
    kfk_buf a, b;
    kfk_buf_init(&a);
    kfk_buf_init(&b);
    const char *ta[] = {"orders"};
    const char *tb[] = {"payments", "refunds"};
    subscription(&a, 0, ta, 1);
    subscription(&b, 7, tb, 2); /* a newer version than we know */
    f.p[0][0].meta = a.p;
    f.p[0][0].meta_len = (int32_t)a.len;
    f.p[1][0].meta = b.p;
    f.p[1][0].meta_len = (int32_t)b.len;
    assert_true(kfk_group_subscribed(&f.g, kfk_str_c("orders")));
    assert_true(kfk_group_subscribed(&f.g, kfk_str_c("refunds")));
    assert_false(kfk_group_subscribed(&f.g, kfk_str_c("audit")));
    /* Not a consumer group: every topic counts as consumed. */
    char other[] = "connect";
    f.g.protocol_type = other;
    assert_true(kfk_group_subscribed(&f.g, kfk_str_c("audit")));
    /* Unparseable metadata: the same. */
    f.g.protocol_type = ptype;
    f.p[1][0].meta_len = 3;
    assert_true(kfk_group_subscribed(&f.g, kfk_str_c("audit")));
    kfk_buf_free(&a);
    kfk_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protocol_selection),
        cmocka_unit_test(subscribed_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
