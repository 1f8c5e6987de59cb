/*
 * conn_fetch.c -- fetching with kfk_conn: kfk_conn_read_batch() sends one
 * Fetch for the conn's partition, and kfk_fetch iterates the record
 * batches of the answer (or of one partition of the Reader's
 * multi-partition fetches, kfk_fetch_view) message by message, skipping
 * control and aborted records and decompressing as it goes.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "protocol/records.h"

/* ---- fetch --------------------------------------------------------------- */

struct kfk_fetch {
    kfk_conn *kc;
    kfk_resp rs;
    const uint8_t *p, *end; /* record sets not yet opened */
    int64_t hwm;
    int64_t min_offset; /* records before it are skipped */
    int64_t pos;        /* offset after the last record or batch read */
    char *topic;
    int32_t partition;
    kfk_err err;
    int mode; /* 0: between entries, 2: v2 batch, 1: legacy */
    kfk_record_iter it;
    kfk_msgset_iter *mit;
    kfk_header *hdrs;
    size_t hdrs_cap;
};

/* Move the read position past next-1 (the conn's too, if any). */
static void
fetch_advance(kfk_fetch *f, int64_t next)
{
    if (next > f->pos) f->pos = next;
    if (f->kc && next > f->kc->offset) f->kc->offset = next;
}

/* Max bytes one compressed batch may inflate to. */
#define FETCH_MAX_INFLATE (256u * 1024 * 1024)

kfk_err
kfk_conn_read_batch(kfk_conn *kc, const kfk_fetch_config *cfg, kfk_fetch **fp)
{
    kc->errstr[0] = '\0';
    kfk_err err = kfk_conn_need_partition(kc);
    if (err) return err;
    int16_t v;
    err = kfk_conn_pick(kc, KFK_API_Fetch, &v);
    if (err) return err;
    if (kc->offset < 0) {
        int64_t o;
        err = kfk_conn_list_offset(kc, kc->offset, &o);
        if (err) return err;
        kc->offset = o;
    }
    kfk_fetch_config c = {0};
    if (cfg) c = *cfg;
    if (c.min_bytes <= 0) c.min_bytes = 1;
    if (c.max_bytes <= 0) c.max_bytes = 1024 * 1024;
    if (c.max_wait_ms < 0) c.max_wait_ms = 500;
    kfk_FetchRequest_FetchPartition fpart;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, &fpart);
    fpart.Partition = kc->partition;
    fpart.CurrentLeaderEpoch = -1;
    fpart.FetchOffset = kc->offset;
    fpart.LastFetchedEpoch = -1;
    fpart.LogStartOffset = -1;
    fpart.PartitionMaxBytes = c.max_bytes;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, &ft);
    ft.Topic = kfk_str_c(kc->topic);
    ft.Partitions = &fpart;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
    req.ReplicaId = -1;
    req.MaxWaitMs = c.max_wait_ms;
    req.MinBytes = c.min_bytes;
    req.MaxBytes = c.max_bytes;
    req.IsolationLevel = c.isolation_level;
    req.SessionId = 0;
    req.SessionEpoch = -1;
    req.Topics = &ft;
    req.Topics_count = 1;
    req.ForgottenTopicsData = NULL;
    req.ForgottenTopicsData_count = 0;
    req.RackId = kfk_str_c("");
    /* The socket must wait at least as long as the broker may. */
    int64_t deadline =
        kfk_mono_ms() + KFK_MAX(kc->timeout_ms, c.max_wait_ms + 1000);
    kfk_fetch *f = kfk_calloc(1, sizeof(*f));
    if (!f) return KFK_ERR__NOMEM;
    kfk_resp_init(&f->rs);
    kfk_FetchResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_Fetch, v, &req, deadline, &f->rs, &r);
    if (!err && r.ErrorCode)
        err = kfk_conn_fail(kc, (kfk_err)r.ErrorCode, "fetch: %s",
                            kfk_err2name((kfk_err)r.ErrorCode));
    const kfk_FetchResponse_PartitionData *pd = NULL;
    for (int32_t t = 0; !err && t < r.Responses_count; t++)
        for (int32_t p = 0; p < r.Responses[t].Partitions_count; p++)
            if (r.Responses[t].Partitions[p].PartitionIndex == kc->partition)
                pd = &r.Responses[t].Partitions[p];
    if (!err && !pd)
        err = kfk_conn_fail(kc, KFK_ERR__BAD_MSG,
                            "partition missing in Fetch response");
    if (!err && pd->ErrorCode)
        err = kfk_conn_fail(kc, (kfk_err)pd->ErrorCode,
                            "%s [%d] at offset %lld: %s", kc->topic,
                            kc->partition, (long long)kc->offset,
                            kfk_err2name((kfk_err)pd->ErrorCode));
    if (!err) {
        f->topic = kfk_strdup(kc->topic);
        if (!f->topic) err = KFK_ERR__NOMEM;
    }
    if (err) {
        kfk_resp_free(&f->rs);
        kfk_free(f);
        return err;
    }
    f->kc = kc;
    f->partition = kc->partition;
    f->hwm = pd->HighWatermark;
    f->min_offset = kc->offset;
    f->pos = kc->offset;
    if (pd->Records.len > 0) {
        f->p = pd->Records.p;
        f->end = pd->Records.p + pd->Records.len;
    }
    *fp = f;
    return KFK_ERR_NONE;
}

static void
close_entry(kfk_fetch *f)
{
    if (f->mode == 2) kfk_record_iter_free(&f->it);
    if (f->mode == 1) kfk_msgset_iter_destroy(f->mit);
    f->mit = NULL;
    f->mode = 0;
}

/* Open the next record set entry (one v2 batch or one legacy message,
 * possibly a compressed wrapper).  0: no more. */
static int
open_entry(kfk_fetch *f)
{
    for (;;) {
        size_t left = (size_t)(f->end - f->p);
        if (!f->p || left < KFK_BATCH_LOG_OVERHEAD + 5) return 0;
        int32_t len = (int32_t)kfk_be32(f->p + KFK_BATCH_OFF_LENGTH);
        if (len < 0) {
            f->err = KFK_ERR_CORRUPT_MESSAGE;
            return 0;
        }
        size_t size = (size_t)len + KFK_BATCH_LOG_OVERHEAD;
        if (size > left)
            return 0; /* a fetch may end in the middle of an entry */
        const uint8_t *e = f->p;
        f->p += size;
        int magic = kfk_records_magic(e, size);
        if (magic == 2) {
            kfk_batch b;
            size_t bsz;
            kfk_err err = kfk_batch_parse(e, size, true, &b, &bsz);
            if (err) {
                f->err = err;
                return 0;
            }
            if (b.Attributes & KFK_ATTR_CONTROL) {
                /* Transaction markers are not messages; step over. */
                fetch_advance(f, b.BaseOffset + b.LastOffsetDelta + 1);
                continue;
            }
            err = kfk_record_iter_init(&f->it, &b, FETCH_MAX_INFLATE);
            if (err) {
                f->err = err;
                return 0;
            }
            f->mode = 2;
            return 1;
        }
        if (magic == 0 || magic == 1) {
            kfk_err err =
                kfk_msgset_iter_new(e, size, FETCH_MAX_INFLATE, &f->mit);
            if (err) {
                f->err = err;
                return 0;
            }
            f->mode = 1;
            return 1;
        }
        f->err = KFK_ERR__UNSUPPORTED;
        return 0;
    }
}

static int
fill_headers(kfk_fetch *f, const kfk_record *r, kfk_message *m)
{
    m->headers = NULL;
    m->header_count = 0;
    if (r->header_count <= 0) return 1;
    if ((size_t)r->header_count > f->hdrs_cap) {
        kfk_header *nh =
            kfk_realloc(f->hdrs, (size_t)r->header_count * sizeof(*nh));
        if (!nh) {
            f->err = KFK_ERR__NOMEM;
            return 0;
        }
        f->hdrs = nh;
        f->hdrs_cap = (size_t)r->header_count;
    }
    kfk_rbuf hb;
    kfk_rbuf_init(&hb, r->headers, r->headers_len);
    int32_t i = 0;
    kfk_record_hdr h;
    /* Header keys are not NUL-terminated on the wire; the key pointer is
     * only usable with the length, so copy keys into the frame-lifetime
     * arena as C strings. */
    while (i < r->header_count && kfk_record_header_next(&hb, &h) == 1) {
        char *k = kfk_arena_alloc(&f->rs.ar, (size_t)KFK_MAX(h.key_len, 0) + 1);
        if (!k) {
            f->err = KFK_ERR__NOMEM;
            return 0;
        }
        if (h.key_len > 0) memcpy(k, h.key, (size_t)h.key_len);
        f->hdrs[i].key = k;
        f->hdrs[i].value = h.value_len >= 0 ? h.value : NULL;
        f->hdrs[i].value_len = h.value_len;
        i++;
    }
    m->headers = f->hdrs;
    m->header_count = i;
    return 1;
}

int
kfk_fetch_next(kfk_fetch *f, kfk_message *m)
{
    if (!f || f->err) return 0;
    for (;;) {
        if (!f->mode && !open_entry(f)) return 0;
        kfk_record r;
        int got = f->mode == 2 ? kfk_record_iter_next(&f->it, &r)
                               : kfk_msgset_iter_next(f->mit, &r);
        if (got != 1) {
            kfk_err err =
                f->mode == 2 ? f->it.err : kfk_msgset_iter_err(f->mit);
            if (f->mode == 2 && !err) {
                /* Compacted batches: the position moves past the batch
                 * even if its last records were removed. */
                fetch_advance(f, f->it.batch.BaseOffset +
                                     f->it.batch.LastOffsetDelta + 1);
            }
            close_entry(f);
            if (err) {
                f->err = err;
                return 0;
            }
            continue;
        }
        if (r.offset < f->min_offset)
            continue; /* compressed sets start before the fetch offset */
        memset(m, 0, sizeof(*m));
        m->topic = f->topic;
        m->partition = f->partition;
        m->offset = r.offset;
        m->high_water_mark = f->hwm;
        m->key = r.key_len >= 0 ? r.key : NULL;
        m->key_len = KFK_MAX(r.key_len, 0);
        m->value = r.value_len >= 0 ? r.value : NULL;
        m->value_len = KFK_MAX(r.value_len, 0);
        m->timestamp = r.timestamp;
        if (!fill_headers(f, &r, m)) return 0;
        f->pos = r.offset + 1;
        if (f->kc) f->kc->offset = r.offset + 1;
        return 1;
    }
}

kfk_err
kfk_fetch_view(const char *topic, int32_t partition, int64_t hwm,
               const uint8_t *recs, size_t len, int64_t min_offset,
               kfk_fetch **fp)
{
    kfk_fetch *f = kfk_calloc(1, sizeof(*f));
    if (!f) return KFK_ERR__NOMEM;
    kfk_resp_init(&f->rs); /* no frame: only the arena for header keys */
    f->topic = kfk_strdup(topic);
    if (!f->topic) {
        kfk_free(f);
        return KFK_ERR__NOMEM;
    }
    f->partition = partition;
    f->hwm = hwm;
    f->min_offset = min_offset;
    f->pos = min_offset;
    if (recs && len) {
        f->p = recs;
        f->end = recs + len;
    }
    *fp = f;
    return KFK_ERR_NONE;
}

int64_t
kfk_fetch_position(const kfk_fetch *f)
{
    return f->pos;
}

kfk_err
kfk_fetch_err(const kfk_fetch *f)
{
    return f ? f->err : KFK_ERR__INVALID_ARG;
}

int64_t
kfk_fetch_high_water_mark(const kfk_fetch *f)
{
    return f ? f->hwm : -1;
}

void
kfk_fetch_destroy(kfk_fetch *f)
{
    if (!f) return;
    close_entry(f);
    kfk_resp_free(&f->rs);
    kfk_free(f->hdrs);
    kfk_free(f->topic);
    kfk_free(f);
}
