/*
 * err.c -- names, descriptions and the retriable flag of kfk_err values.
 *
 * The wire codes' names and retriable flags follow Kafka's protocol error
 * table; descriptions are the names made readable, so there is a single
 * source for each code.
 */
#include <stddef.h>

#include "common/common.h"

typedef struct {
    const char *name;
    int retriable;
} errinfo;

/* Indexed by code + 1 so that -1 lands on 0. */
static const errinfo wire[] = {
    [-1 + 1] = {"UNKNOWN_SERVER_ERROR", 0},
    [0 + 1] = {"NONE", 0},
    [1 + 1] = {"OFFSET_OUT_OF_RANGE", 0},
    [2 + 1] = {"CORRUPT_MESSAGE", 1},
    [3 + 1] = {"UNKNOWN_TOPIC_OR_PARTITION", 1},
    [4 + 1] = {"INVALID_FETCH_SIZE", 0},
    [5 + 1] = {"LEADER_NOT_AVAILABLE", 1},
    [6 + 1] = {"NOT_LEADER_OR_FOLLOWER", 1},
    [7 + 1] = {"REQUEST_TIMED_OUT", 1},
    [8 + 1] = {"BROKER_NOT_AVAILABLE", 0},
    [9 + 1] = {"REPLICA_NOT_AVAILABLE", 1},
    [10 + 1] = {"MESSAGE_TOO_LARGE", 0},
    [11 + 1] = {"STALE_CONTROLLER_EPOCH", 0},
    [12 + 1] = {"OFFSET_METADATA_TOO_LARGE", 0},
    [13 + 1] = {"NETWORK_EXCEPTION", 1},
    [14 + 1] = {"COORDINATOR_LOAD_IN_PROGRESS", 1},
    [15 + 1] = {"COORDINATOR_NOT_AVAILABLE", 1},
    [16 + 1] = {"NOT_COORDINATOR", 1},
    [17 + 1] = {"INVALID_TOPIC_EXCEPTION", 0},
    [18 + 1] = {"RECORD_LIST_TOO_LARGE", 0},
    [19 + 1] = {"NOT_ENOUGH_REPLICAS", 1},
    [20 + 1] = {"NOT_ENOUGH_REPLICAS_AFTER_APPEND", 1},
    [21 + 1] = {"INVALID_REQUIRED_ACKS", 0},
    [22 + 1] = {"ILLEGAL_GENERATION", 0},
    [23 + 1] = {"INCONSISTENT_GROUP_PROTOCOL", 0},
    [24 + 1] = {"INVALID_GROUP_ID", 0},
    [25 + 1] = {"UNKNOWN_MEMBER_ID", 0},
    [26 + 1] = {"INVALID_SESSION_TIMEOUT", 0},
    [27 + 1] = {"REBALANCE_IN_PROGRESS", 0},
    [28 + 1] = {"INVALID_COMMIT_OFFSET_SIZE", 0},
    [29 + 1] = {"TOPIC_AUTHORIZATION_FAILED", 0},
    [30 + 1] = {"GROUP_AUTHORIZATION_FAILED", 0},
    [31 + 1] = {"CLUSTER_AUTHORIZATION_FAILED", 0},
    [32 + 1] = {"INVALID_TIMESTAMP", 0},
    [33 + 1] = {"UNSUPPORTED_SASL_MECHANISM", 0},
    [34 + 1] = {"ILLEGAL_SASL_STATE", 0},
    [35 + 1] = {"UNSUPPORTED_VERSION", 0},
    [36 + 1] = {"TOPIC_ALREADY_EXISTS", 0},
    [37 + 1] = {"INVALID_PARTITIONS", 0},
    [38 + 1] = {"INVALID_REPLICATION_FACTOR", 0},
    [39 + 1] = {"INVALID_REPLICA_ASSIGNMENT", 0},
    [40 + 1] = {"INVALID_CONFIG", 0},
    [41 + 1] = {"NOT_CONTROLLER", 1},
    [42 + 1] = {"INVALID_REQUEST", 0},
    [43 + 1] = {"UNSUPPORTED_FOR_MESSAGE_FORMAT", 0},
    [44 + 1] = {"POLICY_VIOLATION", 0},
    [45 + 1] = {"OUT_OF_ORDER_SEQUENCE_NUMBER", 0},
    [46 + 1] = {"DUPLICATE_SEQUENCE_NUMBER", 0},
    [47 + 1] = {"INVALID_PRODUCER_EPOCH", 0},
    [48 + 1] = {"INVALID_TXN_STATE", 0},
    [49 + 1] = {"INVALID_PRODUCER_ID_MAPPING", 0},
    [50 + 1] = {"INVALID_TRANSACTION_TIMEOUT", 0},
    [51 + 1] = {"CONCURRENT_TRANSACTIONS", 1},
    [52 + 1] = {"TRANSACTION_COORDINATOR_FENCED", 0},
    [53 + 1] = {"TRANSACTIONAL_ID_AUTHORIZATION_FAILED", 0},
    [54 + 1] = {"SECURITY_DISABLED", 0},
    [55 + 1] = {"OPERATION_NOT_ATTEMPTED", 0},
    [56 + 1] = {"KAFKA_STORAGE_ERROR", 1},
    [57 + 1] = {"LOG_DIR_NOT_FOUND", 0},
    [58 + 1] = {"SASL_AUTHENTICATION_FAILED", 0},
    [59 + 1] = {"UNKNOWN_PRODUCER_ID", 0},
    [60 + 1] = {"REASSIGNMENT_IN_PROGRESS", 0},
    [61 + 1] = {"DELEGATION_TOKEN_AUTH_DISABLED", 0},
    [62 + 1] = {"DELEGATION_TOKEN_NOT_FOUND", 0},
    [63 + 1] = {"DELEGATION_TOKEN_OWNER_MISMATCH", 0},
    [64 + 1] = {"DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", 0},
    [65 + 1] = {"DELEGATION_TOKEN_AUTHORIZATION_FAILED", 0},
    [66 + 1] = {"DELEGATION_TOKEN_EXPIRED", 0},
    [67 + 1] = {"INVALID_PRINCIPAL_TYPE", 0},
    [68 + 1] = {"NON_EMPTY_GROUP", 0},
    [69 + 1] = {"GROUP_ID_NOT_FOUND", 0},
    [70 + 1] = {"FETCH_SESSION_ID_NOT_FOUND", 1},
    [71 + 1] = {"INVALID_FETCH_SESSION_EPOCH", 1},
    [72 + 1] = {"LISTENER_NOT_FOUND", 1},
    [73 + 1] = {"TOPIC_DELETION_DISABLED", 0},
    [74 + 1] = {"FENCED_LEADER_EPOCH", 1},
    [75 + 1] = {"UNKNOWN_LEADER_EPOCH", 1},
    [76 + 1] = {"UNSUPPORTED_COMPRESSION_TYPE", 0},
    [77 + 1] = {"STALE_BROKER_EPOCH", 0},
    [78 + 1] = {"OFFSET_NOT_AVAILABLE", 1},
    [79 + 1] = {"MEMBER_ID_REQUIRED", 0},
    [80 + 1] = {"PREFERRED_LEADER_NOT_AVAILABLE", 1},
    [81 + 1] = {"GROUP_MAX_SIZE_REACHED", 0},
    [82 + 1] = {"FENCED_INSTANCE_ID", 0},
    [83 + 1] = {"ELIGIBLE_LEADERS_NOT_AVAILABLE", 1},
    [84 + 1] = {"ELECTION_NOT_NEEDED", 1},
    [85 + 1] = {"NO_REASSIGNMENT_IN_PROGRESS", 0},
    [86 + 1] = {"GROUP_SUBSCRIBED_TO_TOPIC", 0},
    [87 + 1] = {"INVALID_RECORD", 0},
    [88 + 1] = {"UNSTABLE_OFFSET_COMMIT", 1},
    [89 + 1] = {"THROTTLING_QUOTA_EXCEEDED", 1},
    [90 + 1] = {"PRODUCER_FENCED", 0},
    [91 + 1] = {"RESOURCE_NOT_FOUND", 0},
    [92 + 1] = {"DUPLICATE_RESOURCE", 0},
    [93 + 1] = {"UNACCEPTABLE_CREDENTIAL", 0},
    [94 + 1] = {"INCONSISTENT_VOTER_SET", 0},
    [95 + 1] = {"INVALID_UPDATE_VERSION", 0},
    [96 + 1] = {"FEATURE_UPDATE_FAILED", 0},
    [97 + 1] = {"PRINCIPAL_DESERIALIZATION_FAILURE", 0},
    [98 + 1] = {"SNAPSHOT_NOT_FOUND", 0},
    [100 + 1] = {"UNKNOWN_TOPIC_ID", 1},
    [101 + 1] = {"DUPLICATE_BROKER_REGISTRATION", 0},
    [102 + 1] = {"BROKER_ID_NOT_REGISTERED", 0},
    [103 + 1] = {"INCONSISTENT_TOPIC_ID", 1},
    [104 + 1] = {"INCONSISTENT_CLUSTER_ID", 0},
    [105 + 1] = {"TRANSACTIONAL_ID_NOT_FOUND", 0},
    [106 + 1] = {"FETCH_SESSION_TOPIC_ID_ERROR", 1},
    [107 + 1] = {"INELIGIBLE_REPLICA", 0},
    [108 + 1] = {"NEW_LEADER_ELECTED", 0},
    [109 + 1] = {"OFFSET_MOVED_TO_TIERED_STORAGE", 0},
    [110 + 1] = {"FENCED_MEMBER_EPOCH", 0},
    [111 + 1] = {"UNRELEASED_INSTANCE_ID", 0},
    [112 + 1] = {"UNSUPPORTED_ASSIGNOR", 0},
    [113 + 1] = {"STALE_MEMBER_EPOCH", 0},
    [114 + 1] = {"MISMATCHED_ENDPOINT_TYPE", 0},
    [115 + 1] = {"UNSUPPORTED_ENDPOINT_TYPE", 0},
    [116 + 1] = {"UNKNOWN_CONTROLLER_ID", 0},
    [117 + 1] = {"UNKNOWN_SUBSCRIPTION_ID", 0},
    [118 + 1] = {"TELEMETRY_TOO_LARGE", 0},
    [119 + 1] = {"INVALID_REGISTRATION", 0},
    [120 + 1] = {"TRANSACTION_ABORTABLE", 0},
    [121 + 1] = {"INVALID_RECORD_STATE", 0},
    [122 + 1] = {"SHARE_SESSION_NOT_FOUND", 1},
    [123 + 1] = {"INVALID_SHARE_SESSION_EPOCH", 1},
    [124 + 1] = {"FENCED_STATE_EPOCH", 0},
    [125 + 1] = {"INVALID_VOTER_KEY", 0},
    [126 + 1] = {"DUPLICATE_VOTER", 0},
    [127 + 1] = {"VOTER_NOT_FOUND", 0},
    [128 + 1] = {"INVALID_REGULAR_EXPRESSION", 0},
};

static const char *local_names[] = {
    [KFK_ERR__IO - KFK_ERR__BEGIN] = "_IO",
    [KFK_ERR__TIMED_OUT - KFK_ERR__BEGIN] = "_TIMED_OUT",
    [KFK_ERR__NOMEM - KFK_ERR__BEGIN] = "_NOMEM",
    [KFK_ERR__BAD_MSG - KFK_ERR__BEGIN] = "_BAD_MSG",
    [KFK_ERR__TOO_LARGE - KFK_ERR__BEGIN] = "_TOO_LARGE",
    [KFK_ERR__INVALID_ARG - KFK_ERR__BEGIN] = "_INVALID_ARG",
    [KFK_ERR__UNSUPPORTED - KFK_ERR__BEGIN] = "_UNSUPPORTED",
    [KFK_ERR__TRANSPORT - KFK_ERR__BEGIN] = "_TRANSPORT",
    [KFK_ERR__RESOLVE - KFK_ERR__BEGIN] = "_RESOLVE",
    [KFK_ERR__NOT_FOUND - KFK_ERR__BEGIN] = "_NOT_FOUND",
    [KFK_ERR__CLOSED - KFK_ERR__BEGIN] = "_CLOSED",
    [KFK_ERR__QUEUE_FULL - KFK_ERR__BEGIN] = "_QUEUE_FULL",
    [KFK_ERR__BAD_COMPRESSION - KFK_ERR__BEGIN] = "_BAD_COMPRESSION",
    [KFK_ERR__CRC - KFK_ERR__BEGIN] = "_CRC",
    [KFK_ERR__STATE - KFK_ERR__BEGIN] = "_STATE",
    [KFK_ERR__PARTIAL - KFK_ERR__BEGIN] = "_PARTIAL",
    [KFK_ERR__GAP - KFK_ERR__BEGIN] = "_GAP",
};

static const char *local_descs[] = {
    [KFK_ERR__IO - KFK_ERR__BEGIN] = "Local: I/O error",
    [KFK_ERR__TIMED_OUT - KFK_ERR__BEGIN] = "Local: timed out",
    [KFK_ERR__NOMEM - KFK_ERR__BEGIN] = "Local: out of memory",
    [KFK_ERR__BAD_MSG - KFK_ERR__BEGIN] = "Local: malformed message",
    [KFK_ERR__TOO_LARGE - KFK_ERR__BEGIN] = "Local: size over limit",
    [KFK_ERR__INVALID_ARG - KFK_ERR__BEGIN] = "Local: invalid argument",
    [KFK_ERR__UNSUPPORTED - KFK_ERR__BEGIN] = "Local: not supported",
    [KFK_ERR__TRANSPORT - KFK_ERR__BEGIN] = "Local: connection failed",
    [KFK_ERR__RESOLVE - KFK_ERR__BEGIN] = "Local: host resolution failed",
    [KFK_ERR__NOT_FOUND - KFK_ERR__BEGIN] = "Local: not found",
    [KFK_ERR__CLOSED - KFK_ERR__BEGIN] = "Local: closed",
    [KFK_ERR__QUEUE_FULL - KFK_ERR__BEGIN] = "Local: queue full",
    [KFK_ERR__BAD_COMPRESSION - KFK_ERR__BEGIN] = "Local: bad compressed data",
    [KFK_ERR__CRC - KFK_ERR__BEGIN] = "Local: checksum mismatch",
    [KFK_ERR__STATE - KFK_ERR__BEGIN] = "Local: invalid state",
    [KFK_ERR__PARTIAL - KFK_ERR__BEGIN] = "Local: incomplete input",
    [KFK_ERR__GAP - KFK_ERR__BEGIN] = "Local: sequence numbers missing",
};

const char *
kfk_err2name(kfk_err err)
{
    int i = (int)err + 1;
    if (i >= 0 && (size_t)i < KFK_ARRAY_LEN(wire) && wire[i].name)
        return wire[i].name;
    i = (int)err - KFK_ERR__BEGIN;
    if (i >= 0 && (size_t)i < KFK_ARRAY_LEN(local_names) && local_names[i])
        return local_names[i];
    return "UNKNOWN";
}

const char *
kfk_err2str(kfk_err err)
{
    static _Thread_local char tmp[96];
    int i = (int)err - KFK_ERR__BEGIN;
    if (i >= 0 && (size_t)i < KFK_ARRAY_LEN(local_descs) && local_descs[i])
        return local_descs[i];
    if (err == KFK_ERR_NONE) return "Success";
    /* Wire codes: "Broker: " and the name in lower case with spaces. */
    const char *n = kfk_err2name(err);
    size_t o = 0;
    const char *pfx = "Broker: ";
    while (*pfx && o < sizeof(tmp) - 1)
        tmp[o++] = *pfx++;
    for (; *n && o < sizeof(tmp) - 1; n++) {
        char c = *n;
        tmp[o++] = c == '_' ? ' ' : (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
    tmp[o] = '\0';
    return tmp;
}

bool
kfk_err_retriable(kfk_err err)
{
    int i = (int)err + 1;
    return i >= 0 && (size_t)i < KFK_ARRAY_LEN(wire) && wire[i].retriable;
}
