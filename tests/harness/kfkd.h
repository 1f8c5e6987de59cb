/*
 * kfkd.h -- integration-test harness: start a real kfkd in a private
 * temporary directory on an ephemeral port, stop, kill or restart it, and
 * talk Kafka to it with blocking calls built on the generated codec.
 *
 * Every test program owns its brokers, directories and ports, so any
 * number of them can run in parallel.  The broker binary is
 * $KFK_BUILD_DIR/bin/kfkd (set by ctest), else the kfkd next to the test
 * executable.
 *
 * With KFK_TEST_BROKER=kafka in the environment the same calls drive
 * Apache Kafka instead (one KRaft node, node.id 1) through
 * $KFK_SOURCE_DIR/tests/harness/kafka.py, with the same key=value
 * overrides (Kafka's property names, which kfkd reads too).  If Kafka is
 * not installed, kfkd_start() prints why and exits with KFK_TEST_SKIP
 * (ctest's SKIP_RETURN_CODE for these tests).  A watchdog process stops
 * the JVM if the test program dies without kfkd_cleanup().
 */
#ifndef KFK_TEST_HARNESS_KFKD_H
#define KFK_TEST_HARNESS_KFKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/arena.h"
#include "common/buf.h"
#include "protocol/protocol.h"

#define KFKD_MAX_OVERRIDES 32
#define KFK_TEST_SKIP      77 /* the exit code ctest counts as skipped */

typedef enum kfk_test_broker {
    KFK_TEST_BROKER_KFKD = 0,
    KFK_TEST_BROKER_KAFKA = 1,
} kfk_test_broker;

/* The broker kind this test run asks for ($KFK_TEST_BROKER: unset or
 * "kfkd", or "kafka"). */
kfk_test_broker kfk_test_broker_kind(void);
/* "kfkd" or "kafka". */
const char *kfk_test_broker_name(void);

typedef struct kfkd_h {
    kfk_test_broker kind;
    pid_t pid;         /* 0: not running (Kafka: the JVM's pid) */
    int port;          /* bound port of the running broker */
    char dir[512];     /* the temporary directory (kept across restarts) */
    char datadir[600]; /* <dir>/data, the broker's log.dirs */
    char *overrides[KFKD_MAX_OVERRIDES];
    int noverrides;
    int last_status; /* waitpid status of the last exit */
    bool keep_port;  /* kfkd_restart() on the same port (Kafka always) */
    int reaper_fd;   /* Kafka: write end of the watchdog's pipe, or -1 */
    pid_t reaper;    /* Kafka: the watchdog process */
} kfkd_h;

/* Start a broker.  The variable arguments are extra "key=value"
 * overrides, ended by NULL.  Returns 0, or -1 with a message on stderr
 * (the broker's log is printed too). */
int kfkd_start(kfkd_h *h, ...);
/* SIGTERM, wait up to 10 s, then SIGKILL.  Returns the exit code (0 after
 * a clean shutdown), or 128+signal. */
int kfkd_stop(kfkd_h *h);
/* SIGKILL, as a crash. */
void kfkd_kill9(kfkd_h *h);
/* Start again over the same directory with the same overrides (after stop
 * or kill9).  The port changes (kfkd, unless keep_port is set) or stays
 * (Kafka). */
int kfkd_restart(kfkd_h *h);
/* Stop if running and remove the directory. */
void kfkd_cleanup(kfkd_h *h);
/* Print the broker's log (stdout and stderr) to stderr. */
void kfkd_dump_log(const kfkd_h *h);

/* A blocking TCP connection to 127.0.0.1:port with 10 s timeouts. */
int kfk_test_connect(int port);

/* Encode request header (client id "kfk-test") + body, frame it and send
 * it.  Returns 0 or -1. */
int kfk_test_send(int fd, int16_t api_key, int16_t version,
                  int32_t correlation_id, const void *req);
/* Send raw bytes. */
int kfk_test_send_raw(int fd, const void *p, size_t len);
/* Read one framed response into memory from ar (*bufp, *lenp without the
 * size prefix).  Returns 0, or -1 on EOF/error/timeout. */
int kfk_test_recv_frame(int fd, kfk_arena *ar, uint8_t **bufp, size_t *lenp);
/* Read one response, check its correlation id, decode it into resp (a
 * struct of the API's response type) and check that no byte is left. */
int kfk_test_recv(int fd, int16_t api_key, int16_t version,
                  int32_t correlation_id, void *resp, kfk_arena *ar);
/* kfk_test_send + kfk_test_recv with a fresh correlation id.  Returns 0 or
 * -1 (with a message on stderr). */
int kfk_test_call(int fd, int16_t api_key, int16_t version, const void *req,
                  void *resp, kfk_arena *ar);
/* A new correlation id. */
int32_t kfk_test_next_corr(void);
/* True if the peer closed the connection within timeout_ms (reading and
 * discarding anything it still sends). */
bool kfk_test_closed(int fd, int timeout_ms);
/* CLOCK_MONOTONIC in microseconds. */
int64_t kfk_test_mono_us(void);
/* Sleep ms milliseconds. */
void kfk_test_sleep_ms(int ms);

/* ---- shortcuts for common requests ---------------------------------- */

/* The topic id Metadata v12 gives the topic; all zero if it does not
 * exist or the call failed. */
kfk_uuid kfk_test_topic_id(int fd, const char *name);
/* CreateTopics v4 of one topic with optional "key", "value" pairs ended
 * by NULL, then kfk_test_wait_served.  Returns the topic's ErrorCode, or
 * -1000 on a transport failure or a topic not served after 10 s. */
int kfk_test_create_topic(int fd, const char *name, int32_t partitions, ...);
/* Wait up to timeout_ms until every partition of a topic answers a
 * ListOffsets without an error (partitions <= 0: only partition 0).  Kafka
 * answers CreateTopics before its partitions are served, and an acks=0
 * write or a dial of the leader in between fails.  kfk_test_create_topic
 * waits by itself; tests that create topics another way call this. */
bool kfk_test_wait_served(int fd, const char *name, int32_t partitions,
                          int timeout_ms);
/* One v2 batch of n records "<prefix>-<i>" (keys "k<i>", one header) with
 * the given codec, appended to out. */
void kfk_test_build_batch(kfk_buf *out, int codec, int n, const char *prefix);
/* As kfk_test_build_batch (no compression), from an idempotent producer:
 * ProducerId pid, ProducerEpoch epoch, BaseSequence seq. */
void kfk_test_build_batch_idem(kfk_buf *out, int n, const char *prefix,
                               int64_t pid, int16_t epoch, int32_t seq);
/* Produce records (already encoded for the version) to one partition.
 * Returns the partition's ErrorCode (-1000 on transport failure); the base
 * offset goes to *base_offset if not NULL. */
int kfk_test_produce(int fd, int16_t version, const char *topic,
                     int32_t partition, int16_t acks, const void *records,
                     size_t len, int64_t *base_offset);
/* Fetch one partition (MaxWaitMs/MinBytes as given).  Returns the
 * partition's ErrorCode (-1000 on transport failure); the records are in
 * *records (memory from ar), the high watermark in *hw. */
int kfk_test_fetch(int fd, int16_t version, const char *topic,
                   int32_t partition, int64_t offset, int32_t max_wait_ms,
                   int32_t min_bytes, kfk_arena *ar, kfk_bytes *records,
                   int64_t *hw);
/* Count the records of a v2 batch buffer and check that their offsets are
 * contiguous from first_offset; values of records appended to *values
 * (NUL-separated) if not NULL.  Returns the count, -1 on a gap or bad
 * batch. */
int kfk_test_count_records(const uint8_t *p, size_t len, int64_t first_offset,
                           kfk_buf *values);

/* Build a kfk_str from a C string. */
#define KS(s) kfk_str_c(s)

#endif
