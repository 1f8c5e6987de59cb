/*
 * group_int.h -- internals of the group coordinator shared by its files:
 * groups, members and committed offsets in memory (group.c, the classic
 * state machine), the __consumer_offsets record formats (group_records.c,
 * pure functions) and their storage in the partition logs
 * (offsets_store.c).
 *
 * Everything here belongs to the event-loop thread.  A group lives in a
 * hash table of kfk_groups keyed by its id.  A member's JoinGroup or
 * SyncGroup that must wait is parked: the request points to the member
 * (rq->park) and the member to the request, and whichever goes first
 * unhooks the other (the request through rq->park_free when its connection
 * closes, the member by answering before it is freed).
 */
#ifndef KFK_BROKER_GROUP_INT_H
#define KFK_BROKER_GROUP_INT_H

#include "broker/broker.h"
#include "broker/group/group.h"
#include "protocol/records.h"

/* Kafka's ClassicGroupState. */
typedef enum kfk_gstate {
    KFK_GS_EMPTY = 0,
    KFK_GS_PREPARING_REBALANCE,
    KFK_GS_COMPLETING_REBALANCE,
    KFK_GS_STABLE,
    KFK_GS_DEAD
} kfk_gstate;

/* "Empty", "PreparingRebalance", ... as DescribeGroups and ListGroups
 * show them. */
const char *kfk_gstate_name(kfk_gstate s);

/* A new member that has not joined yet may wait this long (Kafka's
 * NewMemberJoinTimeoutMs). */
#define KFK_NEW_MEMBER_JOIN_TIMEOUT_MS 300000

typedef struct kfk_group kfk_group;
typedef struct kfk_groups kfk_groups;

/* One protocol a member supports (JoinGroup Protocols). */
typedef struct kfk_gproto {
    char *name;
    uint8_t *meta;
    int32_t meta_len;
} kfk_gproto;

typedef struct kfk_gmember {
    kfk_group *g;
    char *id;
    char *instance_id; /* group.instance.id, NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    kfk_gproto *protos; /* in the member's order of preference */
    int nprotos;
    uint8_t *assignment; /* from the leader's SyncGroup */
    int32_t assignment_len;
    bool awaiting_join; /* a JoinGroup is waiting for the rebalance */
    kfk_req *join_rq;   /* it, while its connection is open */
    bool awaiting_sync;
    kfk_req *sync_rq;
    bool is_new;            /* never completed a rebalance */
    bool pending_sync;      /* joined this generation, no SyncGroup yet */
    kfk_ev_timer *hb_timer; /* session (or new-member) expiry */
    struct kfk_gmember *next;
} kfk_gmember;

/* A member id handed out with MEMBER_ID_REQUIRED, not joined yet. */
typedef struct kfk_gpending {
    kfk_group *g;
    char *id;
    kfk_ev_timer *timer;
    struct kfk_gpending *next;
} kfk_gpending;

/* A committed offset. */
typedef struct kfk_goffset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    /* The committed metadata: metadata_len bytes, any byte values (NULs
     * too), kept as (pointer, length) from OffsetCommit through
     * __consumer_offsets to OffsetFetch; NUL-terminated only for safety. */
    char *metadata;
    int32_t metadata_len;
    int64_t commit_ts;
    int64_t expire_ts; /* -1: none (OffsetCommit v2-4 RetentionTimeMs) */
    struct kfk_goffset *hnext;
} kfk_goffset;

struct kfk_group {
    kfk_groups *gs;
    char *id;
    kfk_gstate state;
    int64_t state_ts; /* wall clock of the last state change */
    int32_t generation;
    char *protocol_type; /* NULL: none (offsets-only group) */
    char *protocol_name; /* NULL: none */
    kfk_gmember *leader;
    kfk_gmember *members; /* in join order */
    int nmembers;
    kfk_gpending *pending;
    int npending;
    /* PreparingRebalance: the join timer.  With join_initial it is the
     * initial delay of a group that was Empty, extended while new members
     * keep coming (up to the rebalance timeout); otherwise the rebalance
     * timeout. */
    kfk_ev_timer *join_timer;
    bool join_initial;
    bool new_member_added;
    int32_t initial_delay_cur;
    int32_t initial_remaining;
    /* CompletingRebalance/Stable: members that must send SyncGroup in
     * time. */
    kfk_ev_timer *sync_timer;
    int32_t sync_generation;
    bool has_meta; /* a GroupMetadata record exists */
    /* The leader's assignment waiting for the ISR (SyncGroup), and the
     * generation it belongs to. */
    struct kfk_gwait *store_wait;
    int32_t store_generation;
    /* Committed offsets, hashed by topic and partition. */
    kfk_goffset **obuckets;
    size_t nobuckets;
    size_t noffsets;
    int32_t partition; /* of __consumer_offsets */
    kfk_group *hnext;
};

struct kfk_groups {
    kfk_broker *b;
    kfk_group **buckets;
    size_t nbuckets;
    size_t ngroups;
    int32_t npartitions; /* of __consumer_offsets */
    kfk_ev_timer *expire_timer;
    bool creating; /* cluster: __consumer_offsets being written to etcd */
};

/* ---- group.c: registry and state machine ------------------------------ */

kfk_groups *kfk_groups_of(kfk_req *rq);
kfk_group *kfk_group_find(kfk_groups *gs, kfk_str id);
kfk_group *kfk_group_create(kfk_groups *gs, kfk_str id);
/* Unlink and free a group, answering whatever is parked on it with
 * COORDINATOR_NOT_AVAILABLE (it is Dead). */
void kfk_group_destroy(kfk_group *g);
/* The same, answering parked requests with err (NOT_COORDINATOR when
 * this broker gives the group's partition up). */
void kfk_group_destroy_err(kfk_group *g, int16_t err);
/* Is this broker the coordinator of group id?  KFK_ERR_NONE (always on
 * a single node, and for a null id: the caller refuses it),
 * COORDINATOR_NOT_AVAILABLE (no groups, or in a cluster
 * __consumer_offsets does not exist yet: its creation is started),
 * NOT_COORDINATOR (another broker leads the group's partition, or none
 * does).  Every group API asks before it looks the group up. */
int16_t kfk_group_check_coordinator(kfk_groups *gs, kfk_str id);
/* The coordinator of group id in a cluster: its node id in *nodep, or
 * COORDINATOR_NOT_AVAILABLE (no topic yet, its creation started; or the
 * partition has no leader).  On a single node, this broker. */
int16_t kfk_group_coordinator_of(kfk_groups *gs, kfk_str id, int32_t *nodep);
/* Is g's partition led here (ListGroups, expiry)?  Always on a single
 * node. */
bool kfk_group_led_here(kfk_group *g);
void kfk_group_transition(kfk_group *g, kfk_gstate s);
kfk_gmember *kfk_group_member(kfk_group *g, kfk_str id);
/* Kafka's isStaticMemberFenced: instance is known under another member
 * id. */
bool kfk_group_static_fenced(kfk_group *g, kfk_str instance, kfk_str member_id);
/* Restart m's session timer (heartbeat, offset commit). */
void kfk_group_touch_member(kfk_gmember *m);
/* The metadata m sent for protocol name, NULL if none. */
const kfk_gproto *kfk_group_member_proto(const kfk_gmember *m,
                                         const char *name);
/* Topics the members subscribe to, when the protocol type is "consumer"
 * and every member's subscription of the chosen protocol parses; false if
 * unknown (then every topic counts as subscribed). */
bool kfk_group_subscribed(kfk_group *g, kfk_str topic);
/* Kafka's protocol selection: candidates are the protocols every member
 * supports, each member votes for its most preferred candidate, most votes
 * wins (ties: the candidate voted for first, in join order).  NULL if
 * there is no member or no common protocol. */
const char *kfk_group_select_protocol(const kfk_group *g);
/* Restore members from a loaded GroupMetadata record (no timers yet). */
void kfk_group_free_members(kfk_group *g);
kfk_gmember *kfk_group_add_loaded_member(kfk_group *g, kfk_str id,
                                         kfk_str instance, kfk_str client,
                                         kfk_str host, int32_t rebalance_ms,
                                         int32_t session_ms, kfk_bytes sub,
                                         kfk_bytes assignment);
/* After loading: start the session timers of restored members. */
void kfk_group_start_loaded(kfk_group *g);
void kfk_groups_foreach(kfk_groups *gs, void (*fn)(kfk_group *g, void *arg),
                        void *arg);

/* Handlers in group.c (the ones that drive the state machine). */
void kfk_handle_JoinGroup(kfk_req *rq);
void kfk_handle_SyncGroup(kfk_req *rq);
void kfk_handle_Heartbeat(kfk_req *rq);
void kfk_handle_LeaveGroup(kfk_req *rq);

/* ---- offsets in memory (group.c) --------------------------------------- */

kfk_goffset *kfk_goffset_get(kfk_group *g, kfk_str topic, int32_t partition);
kfk_goffset *kfk_goffset_put(kfk_group *g, kfk_str topic, int32_t partition,
                             int64_t offset, int32_t leader_epoch,
                             kfk_str metadata, int64_t commit_ts,
                             int64_t expire_ts);
void kfk_goffset_del(kfk_group *g, kfk_str topic, int32_t partition);
/* The committed metadata of o, all of its bytes. */
static inline kfk_str
kfk_goffset_metadata(const kfk_goffset *o)
{
    return kfk_str_n(o->metadata ? o->metadata : "", (size_t)o->metadata_len);
}
/* All offsets of g sorted by topic then partition (caller frees the
 * array). */
kfk_goffset **kfk_goffsets_sorted(kfk_group *g, size_t *np);

/* __consumer_offsets, created on first use (NULL if that failed); sets
 * gs->npartitions from it. */
kfk_topic *kfk_groups_offsets_topic(kfk_groups *gs);

/* ---- group_records.c: __consumer_offsets formats (pure) ---------------- */

/* Java's String.hashCode over the UTF-16 code units of a UTF-8 string
 * (invalid bytes count as U+FFFD). */
int32_t kfk_java_string_hash(const char *s, size_t len);
/* The __consumer_offsets partition of a group: Utils.abs(hashCode) % n,
 * where Utils.abs maps INT32_MIN to 0. */
int32_t kfk_group_partition_for(const char *id, size_t len, int32_t n);

/* Key versions. */
#define KFK_GKEY_OFFSET_V0 0
#define KFK_GKEY_OFFSET_V1 1
#define KFK_GKEY_GROUP     2

/* OffsetCommitKey v1: group, topic, partition. */
void kfk_grec_offset_key(kfk_buf *wb, kfk_str group, kfk_str topic,
                         int32_t partition);
/* OffsetCommitValue v3 (offset, leader epoch, metadata, commit timestamp),
 * or v1 (with an expire timestamp) when expire_ts >= 0. */
void kfk_grec_offset_value(kfk_buf *wb, int64_t offset, int32_t leader_epoch,
                           kfk_str metadata, int64_t commit_ts,
                           int64_t expire_ts);
/* GroupMetadataKey v2: group. */
void kfk_grec_group_key(kfk_buf *wb, kfk_str group);

typedef struct kfk_grec_member {
    kfk_str member_id;
    kfk_str instance_id; /* null before v3 */
    kfk_str client_id;
    kfk_str client_host;
    int32_t rebalance_ms; /* v1+, else the session timeout */
    int32_t session_ms;
    kfk_bytes subscription;
    kfk_bytes assignment;
} kfk_grec_member;

typedef struct kfk_grec_group {
    kfk_str protocol_type;
    int32_t generation;
    kfk_str protocol; /* nullable */
    kfk_str leader;   /* nullable */
    int64_t state_ts; /* v2+, else -1 */
    kfk_grec_member *members;
    int32_t nmembers;
} kfk_grec_group;

/* GroupMetadataValue v3. */
void kfk_grec_group_value(kfk_buf *wb, const kfk_grec_group *gv);

typedef struct kfk_grec_key {
    int16_t version;
    kfk_str group;
    kfk_str topic; /* offset keys */
    int32_t partition;
} kfk_grec_key;

typedef struct kfk_grec_offset {
    int16_t version;
    int64_t offset;
    int32_t leader_epoch; /* -1 before v3 */
    kfk_str metadata;
    int64_t commit_ts;
    int64_t expire_ts; /* v1 only, else -1 */
} kfk_grec_offset;

/* Parsers; strings point into the input.  KFK_ERR__BAD_MSG if malformed,
 * KFK_ERR__UNSUPPORTED for a key or value version this broker does not
 * know (such records are skipped on load). */
kfk_err kfk_grec_parse_key(const uint8_t *p, size_t len, kfk_grec_key *k);
kfk_err kfk_grec_parse_offset_value(const uint8_t *p, size_t len,
                                    kfk_grec_offset *o);
/* Members are allocated from ar. */
kfk_err kfk_grec_parse_group_value(const uint8_t *p, size_t len, kfk_arena *ar,
                                   kfk_grec_group *gv);

/* ---- offsets_store.c: appends and replay ------------------------------- */

/* A batch of __consumer_offsets records for one group's partition. */
typedef struct kfk_gbatch {
    kfk_buf out;
    kfk_batch_builder bb;
    kfk_buf key, val;
    int n;
} kfk_gbatch;

void kfk_gbatch_init(kfk_gbatch *gb);
void kfk_gbatch_offset(kfk_gbatch *gb, kfk_group *g, const kfk_goffset *o);
void kfk_gbatch_offset_tombstone(kfk_gbatch *gb, kfk_group *g,
                                 const char *topic, int32_t partition);
/* The group's GroupMetadata as it is now (members and assignments). */
void kfk_gbatch_group(kfk_gbatch *gb, kfk_group *g);
void kfk_gbatch_group_tombstone(kfk_gbatch *gb, kfk_group *g);
/* Append to the group's __consumer_offsets partition (nothing if empty)
 * and free the batch.  Returns KFK_ERR_NONE, KFK_ERR__IO (storage),
 * KFK_ERR_COORDINATOR_NOT_AVAILABLE (no topic) or a log error. */
kfk_err kfk_gbatch_commit(kfk_gbatch *gb, kfk_group *g);
void kfk_gbatch_free(kfk_gbatch *gb);

/* Kafka's offsets.commit.timeout.ms: how long a write waits for the ISR. */
#define KFK_GSTORE_TIMEOUT_MS 5000

/* The coordinator's acks=all (Kafka appends with acks=-1 and waits): append
 * as kfk_gbatch_commit, then done(arg, err) once the records are below the
 * HW, err a Kafka error code for clients as kfk_gstore_commit_error (commit
 * true) or kfk_gstore_group answer (NOT_COORDINATOR when the leadership was
 * lost; COORDINATOR_NOT_AVAILABLE for too few replicas or a timeout of
 * KFK_GSTORE_TIMEOUT_MS).  When that is known at once (an error, the
 * single node's ISR {self}) done runs before this returns, which returns
 * NULL; else the waiter, to cancel (done never runs) if arg goes first. */
typedef struct kfk_gwait kfk_gwait;
typedef void kfk_gwait_cb(void *arg, int16_t err);
kfk_gwait *kfk_gbatch_commit_acked(kfk_gbatch *gb, kfk_group *g, bool commit,
                                   kfk_gwait_cb *done, void *arg);
void kfk_gwait_cancel(kfk_gwait *w);

/* Write the group's metadata record.  Returns a Kafka error code for
 * clients (NONE, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * UNKNOWN_SERVER_ERROR). */
int16_t kfk_gstore_group(kfk_group *g);
/* Map a kfk_gbatch_commit error to what OffsetCommit answers. */
int16_t kfk_gstore_commit_error(kfk_err e);
/* Write tombstones of every offset and of the group, then destroy it
 * (DeleteGroups, expiry).  Returns a Kafka error code. */
int16_t kfk_gstore_delete_group(kfk_group *g);

#endif
