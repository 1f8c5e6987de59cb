/*
 * admin.h -- cluster administration on top of a kfk_conn: describe the
 * cluster, list/describe/delete consumer groups, read and write the
 * committed offsets of a group without joining it, list the offsets of
 * many partitions at once, describe and alter configurations, add
 * partitions to a topic, elect partition leaders.
 *
 * Every function takes a connected kfk_conn (any broker of the cluster,
 * e.g. from kfk_conn_dial()) and routes the request where Kafka wants it:
 *  - group requests go to the group's coordinator, found with
 *    FindCoordinator; if that is another broker a second connection is
 *    opened for the call and closed before returning;
 *  - ListOffsets goes to the leader of each partition (Metadata first);
 *  - ElectLeaders goes to the controller the cluster names;
 *  - the rest go to kc itself.
 *
 * Threading and time-outs are those of the conn (see conn.h): not
 * thread-safe, each call bounded by the conn's timeout per round trip.
 * On failure kfk_conn_errstr(kc) has the detail.
 *
 * Results are arrays allocated by the library; each has its own free
 * function, which accepts NULL.  Strings in results are NUL-terminated and
 * owned by the array they are in.
 */
#ifndef KFK_ADMIN_H
#define KFK_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- cluster ------------------------------------------------------------ */

/** One broker of the cluster. */
typedef struct kfk_broker_info {
    int32_t id;
    char *host;
    int32_t port;
    char *rack; /**< NULL if the broker has none */
} kfk_broker_info;

/** What kfk_admin_describe_cluster() reports. */
typedef struct kfk_cluster_info {
    char *cluster_id;      /**< NULL if the broker does not say */
    int32_t controller_id; /**< -1: unknown */
    kfk_broker_info *brokers;
    size_t broker_count;
} kfk_cluster_info;

/**
 * @brief Brokers, controller and cluster id (DescribeCluster, or Metadata
 * with no topic when the broker lacks DescribeCluster).
 * @param cip OUT: free with kfk_cluster_info_free().
 */
KFK_API kfk_err kfk_admin_describe_cluster(kfk_conn *kc,
                                           kfk_cluster_info **cip);
KFK_API void kfk_cluster_info_free(kfk_cluster_info *ci);

/* ---- consumer groups ---------------------------------------------------- */

/** One group as ListGroups reports it. */
typedef struct kfk_group_listing {
    char *group_id;
    char *protocol_type; /**< "consumer" for consumer groups, "" if none */
    char *state;         /**< "" if the broker is older than ListGroups v4 */
} kfk_group_listing;

/**
 * @brief Every group the broker kc is connected to coordinates
 * (ListGroups).  On a one-broker cluster that is every group.
 * @param groupsp OUT: *countp entries; free with kfk_group_listing_free().
 */
KFK_API kfk_err kfk_admin_list_groups(kfk_conn *kc, kfk_group_listing **groupsp,
                                      size_t *countp);
KFK_API void kfk_group_listing_free(kfk_group_listing *groups, size_t count);

/** A partition assigned to a group member. */
typedef struct kfk_member_partition {
    char *topic;
    int32_t partition;
} kfk_member_partition;

/** A member of a group. */
typedef struct kfk_group_member {
    char *member_id;
    char *group_instance_id; /**< NULL: dynamic member */
    char *client_id;
    char *client_host;
    /** Partitions assigned to the member, decoded from the consumer
     * protocol assignment (empty if the group is not a consumer group or
     * is rebalancing). */
    kfk_member_partition *assignment;
    size_t assignment_count;
    /** Topics the member subscribed to (consumer protocol metadata). */
    char **subscription;
    size_t subscription_count;
} kfk_group_member;

/** A group as DescribeGroups reports it. */
typedef struct kfk_group_description {
    char *group_id;
    kfk_err err;         /**< the group's error (e.g. COORDINATOR_NOT...) */
    char *state;         /**< Empty, Stable, PreparingRebalance, Dead... */
    char *protocol_type; /**< "consumer", or "" */
    char *protocol;      /**< the assignor, e.g. "range" */
    kfk_group_member *members;
    size_t member_count;
} kfk_group_description;

/**
 * @brief Describe groups (DescribeGroups at each group's coordinator).
 *
 * A group that does not exist is reported by Kafka brokers as state
 * "Dead" with no members, not as an error.
 * @param descp OUT: n entries, in the order of groups; free with
 *              kfk_group_description_free(*descp, n).
 * @returns the first transport or request error; per-group errors are in
 *          each entry's err.
 */
KFK_API kfk_err kfk_admin_describe_groups(kfk_conn *kc,
                                          const char *const *groups, size_t n,
                                          kfk_group_description **descp);
KFK_API void kfk_group_description_free(kfk_group_description *desc, size_t n);

/**
 * @brief Delete groups and their committed offsets (DeleteGroups).  Only
 * groups without active members can be deleted
 * (KFK_ERR_NON_EMPTY_GROUP otherwise).
 * @param errs optional OUT: one error per group.
 * @returns the first error.
 */
KFK_API kfk_err kfk_admin_delete_groups(kfk_conn *kc, const char *const *groups,
                                        size_t n, kfk_err *errs);

/** An offset of a topic partition: the element of the offset calls. */
typedef struct kfk_partition_offset {
    const char *topic;
    int32_t partition;
    /** ListOffsets input: KFK_OFFSET_FIRST, KFK_OFFSET_LAST or a time in
     * ms since the epoch.  Unused by the other calls. */
    int64_t timestamp;
    /** The offset: committed (-1: none), listed (-1: none for the
     * timestamp) or to commit. */
    int64_t offset;
    kfk_err err; /**< OUT: per-partition result */
} kfk_partition_offset;

/**
 * @brief Committed offsets of a group (OffsetFetch at its coordinator),
 * read without joining the group.
 *
 * @param parts the partitions to ask for; NULL/0 asks for every partition
 *              the group has an offset for.
 * @param outp  OUT: *countp entries (the partitions asked for, or every
 *              committed one), offset -1 where nothing is committed; free
 *              with kfk_partition_offsets_free().
 */
KFK_API kfk_err kfk_admin_offset_fetch(kfk_conn *kc, const char *group,
                                       const kfk_partition_offset *parts,
                                       size_t n, kfk_partition_offset **outp,
                                       size_t *countp);

/**
 * @brief Commit offsets for a group (OffsetCommit at its coordinator).
 *
 * To reset the offsets of a group that has no active member (what
 * `kfk groups reset-offsets` does), pass generation_id -1 and member_id
 * NULL; a group with active members refuses that with
 * KFK_ERR_UNKNOWN_MEMBER_ID or KFK_ERR_ILLEGAL_GENERATION.
 * @param parts topic, partition and offset of each; err is set (OUT).
 * @returns the first error.
 */
KFK_API kfk_err kfk_admin_offset_commit(kfk_conn *kc, const char *group,
                                        int32_t generation_id,
                                        const char *member_id,
                                        kfk_partition_offset *parts, size_t n);

/**
 * @brief Offsets of many partitions at once (ListOffsets, one request per
 * partition leader).
 * @param parts in: topic, partition, timestamp (KFK_OFFSET_FIRST: log
 *              start; KFK_OFFSET_LAST: high watermark; else the first
 *              offset whose timestamp is >= it, -1 if none).  OUT: offset
 *              and err of each.
 * @returns the first error.
 */
KFK_API kfk_err kfk_admin_list_offsets(kfk_conn *kc,
                                       kfk_partition_offset *parts, size_t n);

/** @brief Free an array returned by kfk_admin_offset_fetch(). */
KFK_API void kfk_partition_offsets_free(kfk_partition_offset *parts,
                                        size_t count);

/* ---- configuration ------------------------------------------------------ */

/** Resource types of DescribeConfigs / IncrementalAlterConfigs. */
typedef enum kfk_resource_type {
    KFK_RESOURCE_TOPIC = 2,
    KFK_RESOURCE_BROKER = 4
} kfk_resource_type;

/** One configuration entry of a resource. */
typedef struct kfk_config_entry {
    char *name;
    char *value; /**< NULL: null (e.g. sensitive) */
    bool read_only;
    bool is_default; /**< value comes from the default, not set anywhere */
    bool sensitive;
    int8_t source; /**< Kafka ConfigSource, see kfk_config_source_name() */
} kfk_config_entry;

/**
 * @brief Configuration of a topic or a broker (DescribeConfigs).
 * @param name topic name, or broker id in decimal.
 * @param entriesp OUT: *countp entries; free with kfk_config_entries_free().
 */
KFK_API kfk_err kfk_admin_describe_configs(kfk_conn *kc, kfk_resource_type type,
                                           const char *name,
                                           kfk_config_entry **entriesp,
                                           size_t *countp);
KFK_API void kfk_config_entries_free(kfk_config_entry *entries, size_t count);

/**
 * @brief Name of a ConfigSource value: "DYNAMIC_TOPIC_CONFIG",
 * "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", ... ("UNKNOWN" otherwise).
 * @remark The string is static.
 */
KFK_API const char *kfk_config_source_name(int8_t source);

/** Operations of an incremental config change. */
typedef enum kfk_config_op {
    KFK_CONFIG_SET = 0,
    KFK_CONFIG_DELETE = 1,  /**< back to the default */
    KFK_CONFIG_APPEND = 2,  /**< list values */
    KFK_CONFIG_SUBTRACT = 3 /**< list values */
} kfk_config_op;

/** One change of kfk_admin_alter_configs(). */
typedef struct kfk_config_alter {
    const char *name;
    const char *value; /**< ignored for KFK_CONFIG_DELETE */
    kfk_config_op op;
} kfk_config_alter;

/**
 * @brief Change some configuration entries of a topic or a broker and
 * leave the others as they are (IncrementalAlterConfigs).
 * @param validate_only check the change without applying it.
 */
KFK_API kfk_err kfk_admin_alter_configs(kfk_conn *kc, kfk_resource_type type,
                                        const char *name,
                                        const kfk_config_alter *changes,
                                        size_t n, bool validate_only);

/* ---- partitions --------------------------------------------------------- */

/**
 * @brief Grow topic to total_count partitions (CreatePartitions).
 *
 * Keys hash to partitions by the partition count, so after this most keys
 * map to another partition: per-key order holds within the messages
 * written before, and within those written after, but not across.
 * @returns e.g. KFK_ERR_INVALID_PARTITIONS if total_count is not larger
 *          than the current count.
 */
KFK_API kfk_err kfk_admin_create_partitions(kfk_conn *kc, const char *topic,
                                            int32_t total_count,
                                            bool validate_only);

/* ---- leader election ---------------------------------------------------- */

/** Which leader kfk_admin_elect_leaders() asks for (Kafka's ElectionType). */
typedef enum kfk_election_type {
    /** The preferred replica (the first of the assignment), if it is in
     * sync and not leading already. */
    KFK_ELECTION_PREFERRED = 0,
    /** Any live replica, in sync or not, for a partition without a
     * leader: records may be lost. */
    KFK_ELECTION_UNCLEAN = 1
} kfk_election_type;

/** A partition to elect a leader for. */
typedef struct kfk_election_partition {
    const char *topic;
    int32_t partition;
} kfk_election_partition;

/** The outcome of the election of one partition. */
typedef struct kfk_election_result {
    char *topic;
    int32_t partition;
    /** KFK_ERR_NONE: a leader was elected; KFK_ERR_ELECTION_NOT_NEEDED:
     * the wanted leader leads already; else e.g.
     * KFK_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
     * KFK_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
     * KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION. */
    kfk_err err;
    char *message; /**< the broker's detail, NULL if none */
} kfk_election_result;

/**
 * @brief Elect leaders (ElectLeaders, sent to the controller the cluster
 * names, or to kc when it names none).
 * @param parts the partitions; NULL/0: every partition of the cluster, and
 *              then (as Kafka answers) those that need no election are
 *              left out of the results.
 * @param resultsp OUT: one entry per partition the broker answered for,
 *              free with kfk_election_results_free().
 * @returns an error of the request as a whole (per-partition outcomes are
 *          in the results, a partition that needs no election is not a
 *          failure).
 */
KFK_API kfk_err kfk_admin_elect_leaders(kfk_conn *kc, kfk_election_type type,
                                        const kfk_election_partition *parts,
                                        size_t n,
                                        kfk_election_result **resultsp,
                                        size_t *countp);
KFK_API void kfk_election_results_free(kfk_election_result *results,
                                       size_t count);

#ifdef __cplusplus
}
#endif
#endif
