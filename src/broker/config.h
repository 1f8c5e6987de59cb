/*
 * config.h -- kfkd's configuration: Kafka's broker property names and
 * meanings, one table (config.c) that drives parsing, validation, defaults
 * and DescribeConfigs, and the topic-level configs that override them.
 */
#ifndef KFK_BROKER_CONFIG_H
#define KFK_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"

#define KFK_CONF_MAX_DEFS 96 /* entries of the config table, at most */

typedef struct kfk_broker_conf {
    int32_t node_id;
    char *listeners;            /* PLAINTEXT://host:port[,...] */
    char *advertised_listeners; /* empty: same as listeners */
    /* NAME:PROTOCOL[,...]; NULL or empty: Kafka's default map.  Not in
     * the config table (kfkd does not describe it), like the next one. */
    char *listener_security_protocol_map;
    /* Hidden test knob kfkd.test.copy.listeners: names of listeners
     * whose connections copy file regions instead of sendfile. */
    char *test_copy_listeners;
    char *log_dirs; /* first directory is used */
    char *cluster_id;
    int32_t num_partitions;
    int32_t default_replication_factor;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int64_t log_roll_hours;
    int64_t log_retention_ms;
    int64_t log_retention_minutes;
    int64_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int64_t producer_id_expiration_ms; /* idle idempotent producers go */
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int64_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    char *log_message_timestamp_type;
    char *log_cleanup_policy;
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    int32_t max_connections;
    int32_t max_connections_per_ip;
    int32_t queued_max_requests;
    int64_t connections_max_idle_ms;
    int64_t request_receive_timeout_ms;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t offsets_topic_num_partitions;
    int64_t offsets_retention_minutes;
    int32_t offset_metadata_max_bytes;
    int32_t min_insync_replicas;
    char *compression_type;
    /* The cluster (docs/cluster.md); etcd_endpoints empty: single node. */
    char *etcd_endpoints;
    char *inter_broker_listener_name; /* empty: the first listener */
    int32_t broker_session_timeout_ms;
    int64_t replica_lag_time_max_ms;
    int32_t replica_fetch_max_bytes;
    int32_t replica_fetch_response_max_bytes;
    int32_t replica_fetch_wait_max_ms;
    int32_t replica_fetch_min_bytes;
    int32_t replica_fetch_backoff_ms;
    int32_t replica_socket_timeout_ms;
    bool unclean_leader_election_enable;
    bool auto_leader_rebalance_enable;
    int64_t leader_imbalance_check_interval_seconds;
    int32_t offsets_topic_replication_factor;
    /* Which of the alias groups were given explicitly. */
    bool set_retention_ms, set_retention_minutes, set_roll_ms;
    /* Per entry of the config table: given in the properties file or by
     * --override (Kafka's STATIC_BROKER_CONFIG), whatever the value. */
    bool set[KFK_CONF_MAX_DEFS];
} kfk_broker_conf;

/* Fill every field with Kafka's default. */
void kfk_broker_conf_defaults(kfk_broker_conf *c);
void kfk_broker_conf_free(kfk_broker_conf *c);

/* Set one property.  Unknown names: a warning, returns 0.  A bad value,
 * or a security setting kfkd cannot honour (ssl.*, sasl.*,
 * authorizer.class.name, security.inter.broker.protocol other than
 * PLAINTEXT): message in errstr naming key and value, returns -1. */
int kfk_broker_conf_set(kfk_broker_conf *c, const char *key, const char *value,
                        char *errstr, size_t errstr_size);
/* Read a Java-style .properties file (key=value or key: value, # and !
 * comments, backslash continuations). */
int kfk_broker_conf_load(kfk_broker_conf *c, const char *path, char *errstr,
                         size_t errstr_size);

/* Effective values after the alias rules (ms over minutes over hours). */
int64_t kfk_broker_conf_retention_ms(const kfk_broker_conf *c);
int64_t kfk_broker_conf_roll_ms(const kfk_broker_conf *c);

/* What DescribeConfigs says of one broker config. */
typedef struct kfk_conf_state {
    bool set;        /* given in the properties file or by --override */
    bool has_value;  /* false: Kafka's null (not set, and no default) */
    const char *def; /* the default as Kafka shows it; NULL: none */
} kfk_conf_state;

/* Iterate the broker configs for DescribeConfigs (i from 0): name,
 * current value as a string (into buf; kfkd's placeholder if
 * !st->has_value) and its state.  Returns false past the end. */
bool kfk_broker_conf_describe(const kfk_broker_conf *c, int i,
                              const char **name, char *buf, size_t bufsize,
                              kfk_conf_state *st);
/* The same for one config by name; false if kfkd has no such config.
 * A few configs kfkd does not have are known by their default only
 * (log.flush.scheduler.interval.ms, which Kafka lists as a synonym of
 * log.flush.interval.ms): st->set and st->has_value false, st->def set. */
bool kfk_broker_conf_lookup(const kfk_broker_conf *c, const char *name,
                            char *buf, size_t bufsize, kfk_conf_state *st);

/* Topic-level configuration: a topic's overrides, by Kafka name. */
typedef struct kfk_topic_conf {
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t flush_messages;
    int64_t flush_ms;
    int64_t index_interval_bytes;
    int32_t segment_index_bytes; /* the index size at which a segment rolls */
    int32_t max_message_bytes;
    int32_t min_insync_replicas;
    int compression;      /* compression.type: -1 producer (batches kept
                           * as produced), else the kfk_codec (0: none)
                           * every batch is stored with */
    bool log_append_time; /* message.timestamp.type=LogAppendTime */
    bool compact;         /* cleanup.policy contains compact */
    bool remove_delete;   /* cleanup.policy lacks delete */
} kfk_topic_conf;

/* DescribeConfigs ConfigType values (Kafka's ConfigEntry.ConfigType). */
typedef enum kfk_conf_type {
    KFK_CONF_TYPE_UNKNOWN = 0,
    KFK_CONF_TYPE_BOOLEAN = 1,
    KFK_CONF_TYPE_STRING = 2,
    KFK_CONF_TYPE_INT = 3,
    KFK_CONF_TYPE_SHORT = 4,
    KFK_CONF_TYPE_LONG = 5,
    KFK_CONF_TYPE_DOUBLE = 6,
    KFK_CONF_TYPE_LIST = 7,
    KFK_CONF_TYPE_CLASS = 8,
    KFK_CONF_TYPE_PASSWORD = 9
} kfk_conf_type;

/* Kafka's name of a ConfigType ("LONG"); "UNKNOWN" for others. */
const char *kfk_broker_conf_type_name(kfk_conf_type t);

/* The facts of one topic-level config, all from the one table in
 * config.c: DescribeConfigs and the generated docs/config-reference.md
 * read them there. */
typedef struct kfk_topic_conf_info {
    const char *name;        /* Kafka's topic config name */
    const char *broker_name; /* the broker config it defaults from */
    kfk_conf_type type;      /* as DescribeConfigs reports it */
    const char *def;         /* Kafka's default, as DescribeConfigs shows it
                              * on a broker with no log settings */
    const char *doc;         /* DescribeConfigs Documentation */
} kfk_topic_conf_info;

/* The i-th topic config (i from 0); NULL past the end. */
const kfk_topic_conf_info *kfk_topic_conf_info_at(int i);
/* Topic config `name`; NULL if there is none. */
const kfk_topic_conf_info *kfk_topic_conf_find(const char *name);

/* Topic config from the broker defaults. */
void kfk_topic_conf_from_broker(kfk_topic_conf *tc, const kfk_broker_conf *c);
/* Apply one topic-level override; -1 with a message if the name is
 * unknown or the value invalid (INVALID_CONFIG to the client). */
int kfk_topic_conf_set(kfk_topic_conf *tc, const char *key, const char *value,
                       char *errstr, size_t errstr_size);
/* Names of the topic-level configs and the broker config each defaults
 * from, for DescribeConfigs; NULL past the end. */
const char *kfk_topic_conf_name(int i, const char **broker_name);
/* Current value of topic config `name` as a string. */
bool kfk_topic_conf_get(const kfk_topic_conf *tc, const char *name, char *buf,
                        size_t bufsize);

#endif
