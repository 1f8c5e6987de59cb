/*
 * broker.h -- the private umbrella header of kfkd.
 *
 * kfkd follows Redis: one event-loop thread owns all broker state
 * (connections, topics, partitions, groups), so none of it is locked.
 * A connection (kfk_peer) reads size-prefixed frames, decodes each into a
 * kfk_req with the generated codec and hands it to the API's handler.  A
 * handler answers at once (kfk_req_respond) or parks the request (a Fetch
 * waiting for data, a JoinGroup waiting for the group) and answers later;
 * either way responses leave each connection in request order.
 */
#ifndef KFK_BROKER_H
#define KFK_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/net/net.h"
#include "common/common.h"
#include "common/ev.h"
#include "protocol/protocol.h"

typedef struct kfk_broker kfk_broker;
typedef struct kfk_peer kfk_peer;
typedef struct kfk_req kfk_req;
typedef struct kfk_topic kfk_topic;
typedef struct kfk_partition kfk_partition;

/* struct kfk_partition, the layer over the log. */
#include "broker/partition.h"

/* A region of a file sent as part of a response (zero copy). */
typedef struct kfk_hole {
    size_t pos; /* where in the response buffer it goes */
    int fd;     /* our own dup of the segment's descriptor, or -1 */
    int64_t off;
    size_t len;
    uint8_t *mem; /* fd -1: the bytes, read when the region was queued */
} kfk_hole;

/* One request in flight on a connection. */
struct kfk_req {
    kfk_peer *peer;
    kfk_req *next; /* FIFO of the connection */
    kfk_req_header hdr;
    uint8_t *frame;       /* the request bytes (header + body) */
    uint8_t *frame_alloc; /* what to free: frame or a buffer holding it */
    size_t frame_len;
    kfk_arena ar; /* decoded body and response scratch */
    void *body;   /* decoded request (NULL if not decoded) */
    kfk_buf out;  /* response header + body, no size prefix */
    kfk_hole *holes;
    int nholes, capholes;
    bool done;        /* response ready (or none to send) */
    bool no_response; /* acks=0 produce */
    int64_t recv_us;  /* for latency stats */
    /* Parking (long-poll).  Set by handlers that answer later. */
    kfk_ev_timer *timer;
    void *park; /* handler-specific state */
    void (*park_free)(kfk_req *rq);
    kfk_req *wait_next; /* waiter lists (fetch) */
};

struct kfk_peer {
    kfk_broker *b;
    int fd;
    /* The transport seam (net/net.h): what the bytes run over, the
     * listener the connection came in on, and who it is. */
    const kfk_transport *tr;
    kfk_net_conn nc; /* nc.fd == fd */
    const kfk_listener *listener;
    bool handshake_done;
    kfk_auth_state auth;
    const char *principal; /* KFK_PRINCIPAL_ANONYMOUS until SASL */
    char addr[64];         /* "ip:port" of the client */
    uint32_t ip;           /* IPv4 for per-IP limits (0 if v6) */
    uint8_t *rbuf;         /* input, grows to the frame being read */
    size_t rlen, rcap;
    kfk_req *head, *tail; /* requests in order */
    int nreqs;
    size_t out_bytes; /* response bytes held in memory (not files) */
    /* Output progress of the head request. */
    uint8_t sizebuf[4];
    size_t wpos;  /* bytes of the head response written */
    bool closing; /* close once output is flushed */
    bool reading_paused;
    bool want_write;
    bool dead;              /* closed; freed by kfk_server_reap() */
    int64_t last_active_ms; /* last byte read or written */
    int64_t frame_start_ms; /* first byte of a partial frame, 0 if none */
    kfk_peer *prev, *next;
};

struct kfk_topic {
    char *name;
    kfk_uuid id;
    int32_t npartitions;
    kfk_partition **partitions;
    kfk_topic_conf conf;
    char **conf_keys; /* explicit overrides, for DescribeConfigs */
    char **conf_vals;
    int nconf;
    bool internal;
    kfk_topic *hnext; /* hash chain */
    /* Cluster mode (cluster/cluster.h): what etcd says of each partition,
     * [npartitions]; partitions[i] is NULL where this broker holds no
     * replica.  NULL on a single node. */
    struct kfk_cpart *cstate;
};

/* A handler answers rq (kfk_req_respond / kfk_req_respond_struct) now or
 * later. */
typedef void kfk_handler(kfk_req *rq);

typedef struct kfk_api_impl {
    kfk_handler *handler;
    int16_t min, max; /* advertised versions */
} kfk_api_impl;

struct kfk_broker {
    kfk_broker_conf conf;
    kfk_ev *ev;
    kfk_listener *listeners; /* every entry of `listeners`, bound */
    int nlisteners;
    kfk_peer *peers;
    kfk_peer *dead_peers;
    int npeers;
    char *datadir;
    kfk_topic **tbuckets; /* topics hash */
    size_t nbuckets;
    int ntopics;
    kfk_api_impl apis[KFK_API_KEY_MAX + 1];
    kfk_ev_timer *retention_timer;
    kfk_ev_timer *flush_timer;
    kfk_ev_timer *sweep_timer; /* idle and slow-request connections */
    bool stopping;
    struct kfk_groups *groups;
    struct kfk_fetch_sessions *fetch_sessions;
    /* InitProducerId (producers.c): the next id and the end of its block,
     * read from "producer-id-block" at the first call. */
    int64_t pid_next, pid_block_end;
    bool pid_loaded;
    /* Cluster mode (etcd.endpoints set), else NULL. */
    struct kfk_cluster *cluster;
    /* Stats. */
    uint64_t nrequests;
};

/* server.c */
int kfk_server_start(kfk_broker *b);
void kfk_server_stop(kfk_broker *b);
/* Free connections closed since the last call (from before-sleep). */
void kfk_server_reap(kfk_broker *b);
/* Finish a request: encode the response struct md at the request's
 * version behind the response header. */
void kfk_req_respond(kfk_req *rq, const kfk_msg_desc *md, const void *resp);
/* Finish a request with no response (acks=0). */
void kfk_req_finish_silent(kfk_req *rq);
/* Allocate scratch memory that lives as long as the request. */
void *kfk_req_alloc(kfk_req *rq, size_t n);
/* Queue a file region to be sent as the bytes of the next records field
 * that is encoded with p == NULL and this len: with sendfile, or copied
 * by a transport that cannot (net/net.h).  If the descriptor cannot be
 * duplicated the region is read into memory now.  False only if that
 * read fails too. */
bool kfk_req_add_hole(kfk_req *rq, int fd, int64_t off, size_t len);
/* Close a connection after a protocol violation. */
void kfk_peer_close(kfk_peer *p, const char *why);

/* dispatch.c: fill b->apis[] from the one dispatch table
 * (src/protocol/gen/api_table.h), binding each served API to its handler. */
void kfk_handlers_init(kfk_broker *b);
/* dispatch.c: the one way into a handler.  rq's header and body are
 * decoded; checks the version, passes the hooks (authentication,
 * authorization, quotas) and runs the handler, or closes the connection. */
void kfk_dispatch(kfk_req *rq);

void kfk_fetch_sessions_free(kfk_broker *b);

/* topics.c */
int kfk_topics_load(kfk_broker *b);
kfk_topic *kfk_topic_find(kfk_broker *b, kfk_str name);
kfk_topic *kfk_topic_find_id(kfk_broker *b, const kfk_uuid *id);
kfk_partition *kfk_partition_get(kfk_broker *b, kfk_str topic, int32_t part);
/* What to answer when kfk_partition_get found nothing: in a cluster a
 * partition of a known topic with no replica here is
 * NOT_LEADER_OR_FOLLOWER, else UNKNOWN_TOPIC_OR_PARTITION. */
kfk_err kfk_partition_missing_err(kfk_broker *b, kfk_str topic, int32_t part);
/* Create a topic; errors are Kafka codes (TOPIC_ALREADY_EXISTS,
 * INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_CONFIG...). */
kfk_err kfk_topic_create(kfk_broker *b, kfk_str name, int32_t npartitions,
                         int32_t replication, const char *const *keys,
                         const char *const *vals, int nconf, bool validate_only,
                         char *errstr, size_t errstr_size, kfk_topic **tp);
kfk_err kfk_topic_delete(kfk_broker *b, kfk_topic *t);
kfk_err kfk_topic_add_partitions(kfk_broker *b, kfk_topic *t, int32_t count,
                                 bool validate_only);
kfk_err kfk_topic_alter_config(kfk_broker *b, kfk_topic *t,
                               const char *const *keys, const char *const *vals,
                               int n, bool replace, bool validate_only,
                               char *errstr, size_t errstr_size);
/* Cluster mode (cluster/cluster.c): the registry mirrors etcd.  A topic
 * adopted from etcd's record, its partitions not opened yet; grown to n
 * partitions; its overrides replaced; a replica opened (its directory made
 * if missing) or closed where this broker is (no longer) a replica. */
kfk_topic *kfk_topic_adopt(kfk_broker *b, const char *name, const kfk_uuid *id,
                           int32_t npartitions, const char *const *keys,
                           const char *const *vals, int nconf);
void kfk_topic_resize(kfk_broker *b, kfk_topic *t, int32_t npartitions);
void kfk_topic_set_overrides(kfk_broker *b, kfk_topic *t,
                             const char *const *keys, const char *const *vals,
                             int n);
kfk_err kfk_topic_open_partition(kfk_broker *b, kfk_topic *t, int32_t index);
void kfk_topic_close_partition(kfk_broker *b, kfk_topic *t, int32_t index);
/* Replace path with data atomically (-1 and errno on failure). */
int kfk_write_file_atomic(const char *path, const char *data, size_t len);
/* Kafka's Uuid text: URL-safe base64 without padding, 22 characters. */
void kfk_uuid_to_str(const kfk_uuid *u, char out[23]);
bool kfk_uuid_from_str(const char *s, kfk_uuid *u);
void kfk_uuid_random(kfk_uuid *u);
/* Kafka's topic name rules. */
kfk_err kfk_topic_name_valid(kfk_str name);
void kfk_topics_foreach(kfk_broker *b, void (*fn)(kfk_topic *t, void *arg),
                        void *arg);
void kfk_topics_close(kfk_broker *b);
/* Sorted array of topics (caller frees the array only). */
kfk_topic **kfk_topics_sorted(kfk_broker *b, int *np);

#endif
