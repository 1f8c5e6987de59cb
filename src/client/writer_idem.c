/*
 * writer_idem.c -- the rules of the Writer's idempotence, apart from its
 * queues: whether a configuration gets idempotence (and which conflicts
 * are errors), what a Produce error means for an idempotent batch (retry,
 * retry after an epoch bump, fail, fail the writer), sequence arithmetic,
 * and the InitProducerId round trip.  writer.c applies them; keeping them
 * here lets writer_idem_test.c check every branch without a broker.
 *
 * The rules follow Kafka's Java producer (3.x ProducerConfig and the
 * non-transactional paths of TransactionManager and Sender), except that
 * an epoch bump goes through the broker (InitProducerId v3+ with the
 * current id and epoch, KIP-360; a new producer id before v3) after the
 * requests in flight have drained, as librdkafka does, instead of Java's
 * local bump.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"

/* Tell the caller why, in Java's words where Java has them. */
static void
say(char *errstr, size_t n, const char *msg)
{
    if (errstr && n) snprintf(errstr, n, "%s", msg);
}

kfk_err
kfk_idem_conf_check(const kfk_conf *c, bool *onp, char *errstr,
                    size_t errstr_size)
{
    *onp = false;
    if (!c->enable_idempotence) return KFK_ERR_NONE;
    bool explicit = kfk_conf_is_set(c, "enable.idempotence");
    const char *why = NULL;
    if (c->acks != KFK_ACKS_ALL)
        why = "must set acks to all in order to use the idempotent "
              "writer (enable.idempotence)";
    else if (c->max_in_flight > KFK_IDEM_MAX_IN_FLIGHT)
        why = "must set max.in.flight.requests.per.connection to at most 5 "
              "to use the idempotent writer (enable.idempotence)";
    else if (c->max_attempts < 2)
        why = "must set max.attempts above 1 to use the idempotent writer "
              "(enable.idempotence)";
    if (!why) {
        *onp = true;
        return KFK_ERR_NONE;
    }
    if (explicit) {
        say(errstr, errstr_size, why);
        return KFK_ERR__INVALID_ARG;
    }
    /* Left at its default: off, as Java does (its log line at info). */
    kfk_info("writer", "idempotence turned off: %s", why);
    return KFK_ERR_NONE;
}

int32_t
kfk_idem_seq_add(int32_t seq, int64_t n)
{
    /* Sequences wrap at INT32_MAX to 0, as the broker's do. */
    return (int32_t)(((int64_t)seq + n) % ((int64_t)INT32_MAX + 1));
}

bool
kfk_idem_seq_before(int32_t a, int32_t b)
{
    /* a comes before b if b is less than half the space ahead of it. */
    int64_t d =
        ((int64_t)b - a + ((int64_t)INT32_MAX + 1)) % ((int64_t)INT32_MAX + 1);
    return d > 0 && d < ((int64_t)1 << 30);
}

kfk_idem_action
kfk_idem_on_error(kfk_err err, int32_t base_seq, int32_t acked_seq,
                  bool retriable_left)
{
    switch (err) {
    case KFK_ERR_NONE:
    case KFK_ERR_DUPLICATE_SEQUENCE_NUMBER:
        /* Already written: Java completes the batch as a success. */
        return KFK_IDEM_DONE;
    case KFK_ERR_PRODUCER_FENCED:
    case KFK_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case KFK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case KFK_ERR_UNSUPPORTED_VERSION:
    case KFK_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
        /* TransactionManager.maybeTransitionToErrorState(): fatal. */
        return KFK_IDEM_FATAL;
    case KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
        if (!retriable_left) return KFK_IDEM_FAIL_BUMP;
        /* After the next one: an earlier batch failed and is resent
         * first, this one follows it (Java's canRetry(), first branch).
         * The next batch refused is a real gap; one before it can never
         * be written in this epoch (a broker that did not know the
         * producer took a later batch first, as Kafka 2.5+ does for a new
         * producer id): both bump the epoch and resend. */
        if (acked_seq >= 0 &&
            !kfk_idem_seq_before(acked_seq, base_seq)) /* at or behind */
            return KFK_IDEM_RETRY_BUMP;
        return base_seq == kfk_idem_seq_add(acked_seq, 1) ? KFK_IDEM_RETRY_BUMP
                                                          : KFK_IDEM_RETRY;
    case KFK_ERR_UNKNOWN_PRODUCER_ID:
        /* The broker lost our state (retention, a new leader without it):
         * Java's idempotent producer always bumps and retries. */
        return retriable_left ? KFK_IDEM_RETRY_BUMP : KFK_IDEM_FAIL_BUMP;
    case KFK_ERR_INVALID_PRODUCER_EPOCH:
        /* Not retriable (InvalidProducerEpochException); the batch fails
         * and, the sequence after it now having a gap, the epoch is
         * bumped (Sender.failBatch with adjustSequenceNumbers). */
        return KFK_IDEM_FAIL_BUMP;
    default:
        if (retriable_left && kfk_client_err_retriable(err))
            return KFK_IDEM_RETRY;
        /* A sent batch failed for good: the broker may or may not hold it,
         * and later sequences would leave a gap. */
        return KFK_IDEM_FAIL_BUMP;
    }
}

kfk_err
kfk_idem_init_pid(kfk_conn *kc, int timeout_ms, int64_t *pidp, int16_t *epochp,
                  int16_t *vp)
{
    int16_t v = kfk_conn_version(kc, KFK_API_InitProducerId, -1);
    int16_t pv = kfk_conn_version(kc, KFK_API_Produce, -1);
    if (vp) *vp = v;
    if (v < 0 || pv < 3) return KFK_ERR__UNSUPPORTED;
    kfk_InitProducerIdRequest req;
    kfk_msg_init(&kfk_InitProducerIdRequest_msg, v, &req);
    req.TransactionalId.p = NULL; /* Request: TransactionalId (null) */
    req.TransactionalId.len = -1;
    req.TransactionTimeoutMs = INT32_MAX; /* as Java's idempotent producer */
    /* KIP-360: v3+ bumps the epoch of the current id; before v3 a bump is
     * a new producer id. */
    bool bump = *pidp >= 0 && v >= 3;
    req.ProducerId = bump ? *pidp : -1;
    req.ProducerEpoch = bump ? *epochp : -1;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_InitProducerIdResponse r;
    kfk_err err = kfk_conn_roundtrip(kc, KFK_API_InitProducerId, v, &req,
                                     kfk_mono_ms() + timeout_ms, &rs, &r);
    if (!err) err = (kfk_err)r.ErrorCode; /* Response: ErrorCode */
    if (!err && r.ProducerId < 0) err = KFK_ERR__BAD_MSG;
    if (!err) {
        *pidp = r.ProducerId;
        *epochp = r.ProducerEpoch;
    }
    kfk_resp_free(&rs);
    return err;
}

bool
kfk_idem_init_retriable(kfk_err err)
{
    return err == KFK_ERR_CONCURRENT_TRANSACTIONS ||
           kfk_client_err_coordinator(err) || kfk_client_err_retriable(err);
}
