/*
 * client.h -- the private umbrella header of src/client (libkfk): the
 * configuration values, the conn internals every client part shares (a
 * generic request / response round trip over one broker connection, with
 * version negotiation: conn_transport.c), the cluster view the Writer and
 * the Reader keep (brokers, their connections and backoff, the error
 * classes, when to refresh metadata, the Metadata and FindCoordinator
 * round trips: cluster.c), the one builder and parser of each request sent
 * from more than one place (requests.c) and the consumer protocol
 * (group.c).
 *
 * Nothing here is installed; the public API is in include/kfk/.
 */
#ifndef KFK_CLIENT_H
#define KFK_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kfk/kfk.h"
#include "common/common.h"
#include "protocol/protocol.h"

#define KFK_CLIENT_SOFTWARE_NAME "kfk"
#define KFK_DEFAULT_PORT         9092
#define KFK_DEFAULT_TIMEOUT_MS   10000
/* Largest response frame we accept (Kafka's fetch.max.bytes is 50 MiB;
 * leave room for framing of many partitions). */
#define KFK_MAX_RESPONSE_SIZE (100 * 1024 * 1024)

/* ---- configuration values (conf.c) ------------------------------------ */

typedef enum {
    KFK_BUFFER_FULL_BLOCK = 0,
    KFK_BUFFER_FULL_FAIL = 1
} kfk_buffer_full_policy;

struct kfk_conf {
    char *bootstrap_servers;
    char *client_id;
    char *topic;
    int balancer; /* kfk_balancer_type */
    int acks;     /* kfk_acks */
    bool async;
    int max_attempts;
    int max_in_flight; /* Produce requests in flight per broker */
    bool enable_idempotence;
    int retry_backoff_ms;
    int retry_backoff_max_ms;
    bool allow_auto_topic_creation;
    int batch_size;
    int batch_bytes;
    int batch_timeout_ms;
    int compression;       /* kfk_compression */
    int compression_level; /* reserved: -1 codec default */
    int dial_timeout_ms;
    int read_timeout_ms;  /* metadata requests */
    int write_timeout_ms; /* produce requests */
    int delivery_timeout_ms;
    int buffer_max_messages;
    int64_t buffer_max_bytes;
    int buffer_full; /* kfk_buffer_full_policy */
    int buffer_full_timeout_ms;
    int metadata_max_age_ms;
    int close_timeout_ms;
    /* Reader (reader.c, group.c). */
    char *group_id;
    char *group_topics; /* comma-separated; empty: "topic" */
    int partition;
    int start_offset; /* KFK_OFFSET_FIRST or KFK_OFFSET_LAST */
    int min_bytes;
    int max_bytes;
    int max_wait_ms;
    int queue_capacity;
    int64_t queue_max_bytes;
    int heartbeat_interval_ms;
    int session_timeout_ms;
    int rebalance_timeout_ms;
    int commit_interval_ms;
    char *group_balancers; /* comma-separated protocol names */
    int isolation_level;
    int64_t retention_time_ms;
    int join_group_backoff_ms;
    /* Global order (writer.c, merge.c). */
    char *sequence_header; /* Writer: empty: no stamp */
    int64_t sequence_start;
    char *merge_partitions;       /* comma-separated; empty: all */
    int64_t merge_sequence_start; /* -1: the lowest seen */
    int merge_gap_timeout_ms;
    int merge_buffer_messages;
    /* Not settable by name. */
    kfk_reader_rebalance_cb *rebalance_cb;
    void *rebalance_opaque;
    kfk_writer_completion_cb *completion_cb;
    void *completion_opaque;
    kfk_balancer *balancer_obj;
    uint64_t set_mask[2]; /* bit i: props[i] set by kfk_conf_set() */
};

/* Was name (or an alias of it) set by kfk_conf_set(), rather than left at
 * its default?  (Java's "originals().containsKey()": idempotence.) */
bool kfk_conf_is_set(const kfk_conf *conf, const char *name);

/* ---- connection --------------------------------------------------------- */

/* Client-side caps on top of kfk_api_table: versions that would need
 * features libkfk does not have yet (Fetch v13+ and Metadata v10+ address
 * topics by id; Produce v12+ changes semantics). */
int16_t kfk_client_max_version(int16_t api_key);

struct kfk_conn {
    int fd;
    char *host;
    int port;
    char *client_id;
    int32_t broker_id;
    int32_t corr;
    int32_t noack_corr; /* last request sent with acks=0 */
    int timeout_ms;
    /* Negotiated: usable version range per key (lo > hi: unsupported). */
    int16_t v_lo[KFK_API_KEY_MAX + 1];
    int16_t v_hi[KFK_API_KEY_MAX + 1];
    char errstr[512];
    /* State of the kafka-go style partition API. */
    char *topic;
    int32_t partition;
    int64_t offset;
    int16_t acks;
    int8_t codec;
};

/* A decoded response: the frame owns the bytes strings point to, the
 * arena owns the arrays. */
typedef struct kfk_resp {
    uint8_t *frame;
    size_t len;
    kfk_arena ar;
} kfk_resp;

void kfk_resp_init(kfk_resp *rs);
void kfk_resp_free(kfk_resp *rs);

/* Open a socket to host:port and negotiate versions; deadline is on the
 * monotonic ms clock. */
kfk_err kfk_conn_open(const char *host, int port, const char *client_id,
                      int64_t deadline, kfk_conn **kcp, char *errstr,
                      size_t errstr_size);

/* Record a failure on the conn (sticky errstr); returns err. */
kfk_err kfk_conn_fail(kfk_conn *kc, kfk_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Close the socket (after an I/O failure), keeping the struct. */
void kfk_conn_disconnect(kfk_conn *kc);
bool kfk_conn_connected(const kfk_conn *kc);
/* Monotonic deadline for a call starting now with the conn's timeout. */
int64_t kfk_conn_deadline(const kfk_conn *kc);

/* The CLOCK_MONOTONIC time ms_from_now ahead, for pthread_cond_timedwait
 * on a condition variable set to that clock. */
struct timespec kfk_client_abstime(int64_t ms_from_now);

/* The version to use for api_key: highest both sides support, capped at
 * max (-1: no cap); -1 if there is none. */
int16_t kfk_conn_version(const kfk_conn *kc, int16_t api_key, int16_t max);

/* kfk_conn_version() with no cap, or a sticky failure on the conn
 * (KFK_ERR__TRANSPORT not connected, KFK_ERR__UNSUPPORTED no version). */
kfk_err kfk_conn_pick(kfk_conn *kc, int16_t api_key, int16_t *vp);
/* KFK_ERR__STATE (sticky) unless the conn has a topic/partition set. */
kfk_err kfk_conn_need_partition(kfk_conn *kc);
/* ListOffsets of the conn's partition at ts (KFK_OFFSET_FIRST/LAST or a
 * time in ms). */
kfk_err kfk_conn_list_offset(kfk_conn *kc, int64_t ts, int64_t *offsetp);

/* Encode header + body of a request at version v and send it, framed.
 * *corrp gets the correlation id. */
kfk_err kfk_conn_send(kfk_conn *kc, int16_t api_key, int16_t v, const void *req,
                      int64_t deadline, int32_t *corrp);
/* Read one framed response, check its correlation id and decode the body
 * of api_key/v into out (of the response struct type) in rs. */
kfk_err kfk_conn_recv(kfk_conn *kc, int16_t api_key, int16_t v, int32_t corr,
                      int64_t deadline, kfk_resp *rs, void *out);
/* Send then receive. */
kfk_err kfk_conn_roundtrip(kfk_conn *kc, int16_t api_key, int16_t v,
                           const void *req, int64_t deadline, kfk_resp *rs,
                           void *out);

/* Split "host:port" (port default 9092).  host is allocated. */
kfk_err kfk_parse_hostport(const char *s, size_t n, char **hostp, int *portp);

/* Build the record batch (or legacy message set for Produce < v3) of msgs
 * for a Produce request of version v. */
kfk_err kfk_client_build_records(const kfk_message *msgs, size_t n,
                                 kfk_compression codec, int16_t produce_v,
                                 int64_t now_ms, kfk_buf *out);

/* kfk_client_build_records() of an idempotent batch (record batch v2
 * only): producer id, epoch and the first record's sequence number. */
kfk_err kfk_client_build_records_idem(const kfk_message *msgs, size_t n,
                                      kfk_compression codec, int16_t produce_v,
                                      int64_t now_ms, int64_t producer_id,
                                      int16_t epoch, int32_t base_sequence,
                                      kfk_buf *out);
/* Metadata request for topics (n may be 0: all topics when all is true). */
kfk_err kfk_conn_metadata(kfk_conn *kc, const char *const *topics, size_t n,
                          bool allow_auto_create, int64_t deadline,
                          kfk_resp *rs, kfk_MetadataResponse *md, int16_t *vp);

/* A kfk_fetch over the records of one partition of a Fetch response the
 * caller owns (the Reader's multi-partition fetches); recs must outlive
 * it.  Records before min_offset are skipped. */
kfk_err kfk_fetch_view(const char *topic, int32_t partition, int64_t hwm,
                       const uint8_t *recs, size_t len, int64_t min_offset,
                       kfk_fetch **fp);
/* The offset after the last record (or skipped batch) read: where the
 * next fetch of the partition starts. */
int64_t kfk_fetch_position(const kfk_fetch *f);

/* ---- the Writer's idempotence rules (writer_idem.c) --------------------- */

/* Kafka's broker keeps the last 5 batches of a producer per partition. */
#define KFK_IDEM_MAX_IN_FLIGHT 5

/* *onp: the writer is idempotent.  enable.idempotence set explicitly with
 * acks != all, max.in.flight > 5 or max.attempts 1 is an error (errstr);
 * left at its default it is turned off then, with an info line. */
kfk_err kfk_idem_conf_check(const kfk_conf *c, bool *onp, char *errstr,
                            size_t errstr_size);
/* seq + n, wrapping at INT32_MAX to 0. */
int32_t kfk_idem_seq_add(int32_t seq, int64_t n);
/* a is before b (modulo the wrap). */
bool kfk_idem_seq_before(int32_t a, int32_t b);

/* What to do with an idempotent batch after an answer (or failure). */
typedef enum {
    KFK_IDEM_DONE,       /* written (DUPLICATE_SEQUENCE_NUMBER included) */
    KFK_IDEM_RETRY,      /* resend it, same sequence, in order */
    KFK_IDEM_RETRY_BUMP, /* bump the epoch (sequences restart), resend */
    KFK_IDEM_FAIL_BUMP,  /* fail it, then bump the epoch */
    KFK_IDEM_FATAL       /* fail the writer: every message from now on */
} kfk_idem_action;
/* err for the batch starting at base_seq, the partition's last acked
 * sequence acked_seq (-1: none); retriable_left: attempts remain. */
kfk_idem_action kfk_idem_on_error(kfk_err err, int32_t base_seq,
                                  int32_t acked_seq, bool retriable_left);
/* InitProducerId on kc: a new producer id (*pidp < 0), or the current
 * id's epoch bumped (v3+; a new id before v3).  *vp: the version used
 * (-1 none).  KFK_ERR__UNSUPPORTED: the broker has no InitProducerId, or
 * no Produce v3+ (record batches v2). */
kfk_err kfk_idem_init_pid(kfk_conn *kc, int timeout_ms, int64_t *pidp,
                          int16_t *epochp, int16_t *vp);
/* An InitProducerId error worth asking again after a backoff. */
bool kfk_idem_init_retriable(kfk_err err);

/* ---- consumer groups (group.c, assignor.c) ------------------------------ */

/* One member as the group leader's assignor sees it. */
typedef struct kfk_grp_member {
    char *id;
    char **topics; /* subscription */
    size_t ntopics;
    kfk_topic_partition *owned; /* its previous assignment (sticky) */
    size_t nowned;
    int32_t generation; /* generation of owned, -1 unknown */
    /* OUT */
    kfk_topic_partition *assigned;
    size_t nassigned, cap;
} kfk_grp_member;

/* Partition count of a subscribed topic (0: unknown topic). */
typedef struct kfk_grp_topic {
    const char *topic;
    int32_t partitions;
} kfk_grp_topic;

/* The assignors offered: "range", "roundrobin", "sticky",
 * "cooperative-sticky". */
bool kfk_assignor_known(const char *name);
/* Does the assignor follow the cooperative protocol (KIP-429)? */
bool kfk_assignor_cooperative(const char *name);
/* Fill members[i].assigned (topic pointers borrow from topics[]). */
kfk_err kfk_assignor_run(const char *name, kfk_grp_member *members, size_t n,
                         const kfk_grp_topic *topics, size_t ntopics);
void kfk_grp_member_clear(kfk_grp_member *m);

/* The embedded consumer protocol: int16 version + struct. */
kfk_err kfk_grp_encode_subscription(char *const *topics, size_t ntopics,
                                    const kfk_topic_partition *owned,
                                    size_t nowned, int32_t generation,
                                    kfk_buf *out);
/* Decode a member's metadata into m (topics, owned partitions). */
kfk_err kfk_grp_decode_subscription(const uint8_t *p, size_t len,
                                    kfk_grp_member *m);
kfk_err kfk_grp_encode_assignment(const kfk_topic_partition *parts, size_t n,
                                  kfk_buf *out);
/* *partsp: topics are allocated (kfk_topic_partitions_free). */
kfk_err kfk_grp_decode_assignment(const uint8_t *p, size_t len,
                                  kfk_topic_partition **partsp, size_t *countp);

/* ---- the cluster view (cluster.c) --------------------------------------- */

/* The client's one table of error classes.  Retriable: worth another try
 * (the wire codes Kafka marks retriable plus transport failures). */
bool kfk_client_err_retriable(kfk_err err);
/* The metadata is stale: a leader moved, a broker went away. */
bool kfk_client_err_refresh_metadata(kfk_err err);
/* The group coordinator moved, is not elected yet or is still loading:
 * find it again and repeat the request. */
bool kfk_client_err_coordinator(kfk_err err);

/* Backoff before attempt number attempt (1, 2, ...): quadratic from
 * retry.backoff.ms, capped at retry.backoff.max.ms. */
int64_t kfk_cluster_backoff_ms(const kfk_conf *c, int attempt);
/* Dial the first reachable broker of a comma separated host:port list.
 * KFK_ERR__INVALID_ARG when the list names no broker; stops early on
 * out of memory or once deadline has passed. */
kfk_err kfk_cluster_dial_bootstrap(const char *addrs, const char *client_id,
                                   int64_t deadline, kfk_conn **kcp,
                                   char *errstr, size_t errstr_size);

/* The brokers known (id -> host:port) and one connection to each, with
 * its backoff.  The Writer and the Reader each keep one, on their I/O
 * thread (no lock).  An owner that needs more per broker allocates nodes
 * of node_size bytes with a kfk_node as their first member. */
typedef struct kfk_node {
    struct kfk_node *next;
    int32_t id;
    char *host;
    int port;
    kfk_conn *kc;
    uint32_t gen; /* bumped whenever kc is closed or replaced */
    int64_t retry_at;
    int fails;
} kfk_node;

typedef struct kfk_cluster {
    const kfk_conf *conf;
    size_t node_size;
    const char *who; /* debug log tag */
    kfk_node *nodes;
    uint64_t reconnects; /* connections opened to brokers */
} kfk_cluster;

void kfk_cluster_init(kfk_cluster *cl, const kfk_conf *conf, size_t node_size,
                      const char *who);
/* Close and free every node (owners free their own extras first). */
void kfk_cluster_clear(kfk_cluster *cl);
kfk_node *kfk_cluster_node(const kfk_cluster *cl, int32_t id);
/* Learn broker id at host:port (from Metadata).  A new node is zeroed
 * past the kfk_node; one that moved has its connection closed and
 * *movedp set.  NULL: out of memory. */
kfk_node *kfk_cluster_learn(kfk_cluster *cl, int32_t id, kfk_str host,
                            int32_t port, bool *movedp);
/* kfk_cluster_learn() every broker of a Metadata answer; moved (may be
 * NULL) is called for each node whose address changed. */
void kfk_cluster_learn_brokers(kfk_cluster *cl, const kfk_MetadataResponse *md,
                               void (*moved)(void *opaque, kfk_node *n),
                               void *opaque);
/* Close the node's connection (gen bumps: answers pending on it are
 * lost). */
void kfk_node_close(kfk_node *n);
/* Close after a failure and back off before the next connect. */
void kfk_node_down(kfk_cluster *cl, kfk_node *n);
/* Connected, or its backoff has passed. */
bool kfk_node_usable(const kfk_node *n, int64_t now);
/* A live n->kc, connecting if the backoff allows (KFK_ERR__TRANSPORT if
 * not yet); timeout_ms > 0 sets the conn's request timeout. */
kfk_err kfk_cluster_connect(kfk_cluster *cl, kfk_node *n, int64_t now,
                            int timeout_ms);
/* Make *mcp a live connection to any broker: the bootstrap servers first,
 * then every node known. */
kfk_err kfk_cluster_meta_conn(kfk_cluster *cl, kfk_conn **mcp, char *errstr,
                              size_t errstr_size);

/* A round trip as its caller makes it: kfk_cluster_rt_plain (blocking),
 * or the Reader's, which close interrupts.  opaque is the caller's. */
typedef kfk_err kfk_cluster_rt_fn(void *opaque, kfk_conn *kc, int16_t api,
                                  int16_t v, const void *req, int timeout_ms,
                                  kfk_resp *rs, void *out);
kfk_err kfk_cluster_rt_plain(void *opaque, kfk_conn *kc, int16_t api, int16_t v,
                             const void *req, int timeout_ms, kfk_resp *rs,
                             void *out);

/* When to ask for metadata again, one per thing that needs it (a Writer
 * topic, the Reader's assignment): stale after an error of the class
 * kfk_client_err_refresh_metadata(), old after metadata.max.age.ms, not
 * before the retry backoff has passed. */
typedef struct kfk_md_state {
    bool stale;
    int fails;
    int64_t good_at;  /* last answer */
    int64_t retry_at; /* not before */
} kfk_md_state;
/* Stale or older than max_age_ms (< 0: age does not count), and the
 * backoff has passed. */
bool kfk_md_due(const kfk_md_state *s, int64_t now, int64_t max_age_ms);
/* The request failed, or did not give what was wanted: back off. */
void kfk_md_failed(const kfk_cluster *cl, kfk_md_state *s, int64_t now);
/* An answer; leaderless: some partition has no leader yet (stays stale,
 * asked again after the first backoff step). */
void kfk_md_answered(const kfk_cluster *cl, kfk_md_state *s, int64_t now,
                     bool leaderless);
/* Mark s stale if err says the metadata is; true if it did. */
bool kfk_md_check(kfk_md_state *s, kfk_err err);

/* One Metadata round trip of topics on *mcp (kfk_cluster_meta_conn()),
 * through rt; brokers are learnt (moved as in kfk_cluster_learn_brokers,
 * with opaque).  *sentp: a request went out (for the caller's metrics).
 * On failure *mcp is closed and errstr says why.  *md stays valid until
 * kfk_resp_free(rs). */
kfk_err kfk_cluster_metadata(kfk_cluster *cl, kfk_conn **mcp,
                             const char *const *topics, size_t n,
                             bool auto_create, kfk_cluster_rt_fn *rt,
                             void *opaque, kfk_resp *rs,
                             kfk_MetadataResponse *md,
                             void (*moved)(void *opaque, kfk_node *n),
                             bool *sentp, char *errstr, size_t errstr_size);
/* The answer's entry for topic name, or NULL. */
const kfk_MetadataResponse_MetadataResponseTopic *
kfk_md_topic(const kfk_MetadataResponse *md, const char *name);
/* The partition's leader, -1 if none or not a known broker. */
int32_t kfk_md_leader(const kfk_cluster *cl,
                      const kfk_MetadataResponse_MetadataResponsePartition *mp);

/* FindCoordinator of group on kc through rt.  Returns the round trip's
 * error; otherwise *co is the answer (host borrowed from rs until
 * kfk_resp_free), co->err KFK_ERR__BAD_MSG if it names no coordinator.
 * Retrying is the caller's (kfk_client_err_coordinator()). */
struct kfk_coordinator;
kfk_err kfk_cluster_find_coordinator(kfk_conn *kc, const char *group,
                                     kfk_cluster_rt_fn *rt, void *opaque,
                                     int timeout_ms, kfk_resp *rs,
                                     struct kfk_coordinator *co);

/* ---- request builders and parsers (requests.c) -------------------------- */

/* Each builder fills a generated request struct for version v from a flat
 * list of kfk_partition_offset (include/kfk/admin.h), grouped by topic;
 * the arrays come from ar, strings are borrowed from the caller.  Each
 * parser copies the per-partition results back into the same list
 * (KFK_ERR__NOT_FOUND: the broker did not answer for that partition).
 * Sending is the caller's: a plain round trip or the Reader's
 * interruptible one. */

/* Metadata of topics (n == 0: every topic, in the shape v needs). */
kfk_err kfk_req_metadata(kfk_arena *ar, int16_t v, const char *const *topics,
                         size_t n, bool allow_auto_create,
                         kfk_MetadataRequest *req);

/* The distinct topics of parts, in first-seen order (array from ar). */
kfk_err kfk_req_topic_names(kfk_arena *ar, const kfk_partition_offset *parts,
                            size_t n, const char ***namesp, size_t *ntp);

/* ListOffsets of parts[i].timestamp (KFK_OFFSET_FIRST/LAST or a time). */
kfk_err kfk_req_list_offsets(kfk_arena *ar, int16_t v,
                             const kfk_partition_offset *parts, size_t n,
                             int8_t isolation_level, int32_t timeout_ms,
                             kfk_ListOffsetsRequest *req);
/* parts[i].offset (-1: none) and parts[i].err. */
void kfk_req_list_offsets_parse(int16_t v, const kfk_ListOffsetsResponse *r,
                                kfk_partition_offset *parts, size_t n);

/* OffsetFetch of group for parts (n == 0: every partition, v2+). */
kfk_err kfk_req_offset_fetch(kfk_arena *ar, int16_t v, const char *group,
                             const kfk_partition_offset *parts, size_t n,
                             bool require_stable, kfk_OffsetFetchRequest *req);
/* The group-level error of the answer (none before v2). */
kfk_err kfk_req_offset_fetch_error(int16_t v, const kfk_OffsetFetchResponse *r);
/* Calls fn for every partition of the answer (any shape); stops at, and
 * returns, fn's first error. */
typedef kfk_err kfk_req_offset_fn(void *opaque, kfk_str topic,
                                  int32_t partition, int64_t offset,
                                  kfk_err err);
kfk_err kfk_req_offset_fetch_each(int16_t v, const kfk_OffsetFetchResponse *r,
                                  kfk_req_offset_fn *fn, void *opaque);

/* OffsetCommit of parts[i].offset; retention_ms -1: the broker's. */
kfk_err kfk_req_offset_commit(kfk_arena *ar, int16_t v, const char *group,
                              int32_t generation, const char *member_id,
                              int64_t retention_ms,
                              const kfk_partition_offset *parts, size_t n,
                              kfk_OffsetCommitRequest *req);
/* parts[i].err. */
void kfk_req_offset_commit_parse(const kfk_OffsetCommitResponse *r,
                                 kfk_partition_offset *parts, size_t n);

/* FindCoordinator of *key (key_type 0 group, 1 transaction); *key must
 * outlive the request. */
void kfk_req_find_coordinator(int16_t v, int8_t key_type, const kfk_str *key,
                              kfk_FindCoordinatorRequest *req);
typedef struct kfk_coordinator {
    int32_t node;
    kfk_str host; /* borrowed from the response */
    int32_t port;
    kfk_err err;
    kfk_str msg;
} kfk_coordinator;
/* KFK_ERR__BAD_MSG when a v4+ answer holds no coordinator. */
kfk_err kfk_req_find_coordinator_parse(int16_t v,
                                       const kfk_FindCoordinatorResponse *r,
                                       kfk_coordinator *out);

/* ---- reader, for the merging reader (merge.c) ---------------------------- */

/* fn(opaque) is called on the reader's background thread, under the
 * reader's lock, whenever messages, an error or offsets become available
 * to the application: it must only note it (e.g. signal a condition
 * variable) and never call into the reader. */
void kfk_reader_set_wakeup(kfk_reader *kr, void (*fn)(void *), void *opaque);

#endif
