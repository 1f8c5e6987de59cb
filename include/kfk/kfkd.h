/*
 * kfkd.h -- libkfkd, the kfk broker as a library: a program or a test
 * starts a broker inside its own process, on a port of its choosing (0:
 * any free one) with a data folder of its own, and stops it.  It is the
 * code of the kfkd daemon (whose main() is a thin wrapper over this API):
 * the same configuration, the same validation, the same durable log.
 *
 *   kfkd_conf *c = kfkd_conf_new();
 *   kfkd_conf_set(c, "listeners", "PLAINTEXT://127.0.0.1:0", err, sizeof(err));
 *   kfkd_conf_set(c, "log.dirs", "/var/tmp/mydata", err, sizeof(err));
 *   kfkd *k = kfkd_open(c, err, sizeof(err));
 *   kfkd_conf_destroy(c);
 *   ... connect libkfk (or any Kafka client) to kfkd_bootstrap(k) ...
 *   kfkd_close(k);
 *
 * Threads: each broker runs its event loop on a thread of its own,
 * started by kfkd_open() and joined by kfkd_close(); it touches no
 * signal disposition of the process (it blocks every signal on its own
 * thread, so a SIGPIPE on a client's closed socket is an error there, not
 * a process exit).  The functions here may be called from any thread,
 * but one kfkd (and one kfkd_conf) from one thread at a time.
 *
 * Per instance: configuration, data folder (locked: two brokers cannot
 * share one), listeners, topics, groups, log level and log destination.
 * Several brokers may run in one process; they are independent (each is
 * a single-node cluster of its own).
 *
 * Errors: functions that can fail return -1 or NULL and write one line
 * into errstr (errlen bytes, may be 0).
 */
#ifndef KFK_KFKD_H
#define KFK_KFKD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KFKD_BUILDING_LIB)
#define KFKD_API __attribute__((visibility("default")))
#else
#define KFKD_API
#endif

/** A broker's configuration, to give to kfkd_open().  Opaque. */
typedef struct kfkd_conf kfkd_conf;
/** A running broker.  Opaque. */
typedef struct kfkd kfkd;

/** Log levels, for kfkd_conf_set_log_level() and the log callback. */
typedef enum kfkd_log_level {
    KFKD_LOG_DEBUG = 0,
    KFKD_LOG_INFO = 1,
    KFKD_LOG_WARN = 2,
    KFKD_LOG_ERROR = 3,
    KFKD_LOG_OFF = 4 /**< nothing at all */
} kfkd_log_level;

/**
 * @brief Receives the broker's log lines instead of stderr.
 * @param opaque as given to kfkd_conf_set_log_cb()
 * @param level  the line's level
 * @param line   "2026-11-25T15:20:46.123Z INFO  kfkd: ...", no newline
 *
 * Called on the broker's thread (and on the thread in kfkd_open() while
 * it starts); must not call back into this broker.
 */
typedef void kfkd_log_cb(void *opaque, kfkd_log_level level, const char *line);

/**
 * @brief A configuration with every property at Kafka's default, as the
 *        daemon starts from (listeners PLAINTEXT://:9092, log.dirs
 *        /tmp/kafka-logs): set at least those two.
 * @returns the configuration, or NULL if out of memory.
 */
KFKD_API kfkd_conf *kfkd_conf_new(void);

/**
 * @brief Set one broker property by its Apache Kafka name, with the
 *        daemon's validation (see docs/config-reference.md).
 * @returns 0, or -1 with errstr for a bad value or a security setting the
 *          broker cannot honour.  Unknown names are accepted with a
 *          warning in the log, as by the daemon.
 */
KFKD_API int kfkd_conf_set(kfkd_conf *conf, const char *key, const char *value,
                           char *errstr, size_t errlen);

/**
 * @brief Set every property of a Java-style .properties file (what the
 *        daemon reads), in order, as kfkd_conf_set() does.
 * @returns 0, or -1 with errstr (the file cannot be read, or a value is bad).
 */
KFKD_API int kfkd_conf_load(kfkd_conf *conf, const char *path, char *errstr,
                            size_t errlen);

/**
 * @brief The least level logged (default KFKD_LOG_INFO); per broker.
 */
KFKD_API void kfkd_conf_set_log_level(kfkd_conf *conf, kfkd_log_level level);

/**
 * @brief Send the broker's log lines to cb instead of stderr (NULL:
 *        stderr again).
 */
KFKD_API void kfkd_conf_set_log_cb(kfkd_conf *conf, kfkd_log_cb *cb,
                                   void *opaque);

/**
 * @brief Check what kfkd_open() checks before it touches the disk (the
 *        listener list, its protocols and the security settings).
 * @returns 0, or -1 with errstr: kfkd_open() would refuse this conf.
 */
KFKD_API int kfkd_conf_check(const kfkd_conf *conf, char *errstr,
                             size_t errlen);

/** @brief Free a configuration (NULL is fine).  A kfkd opened with it does
 *         not need it any more. */
KFKD_API void kfkd_conf_destroy(kfkd_conf *conf);

/**
 * @brief Start a broker: validate conf as the daemon does, create and lock
 *        the data folder (the first of log.dirs), recover the log, bind
 *        every listener and start the event loop on a thread of its own.
 * @returns the broker, ready to serve when this returns; or NULL with
 *          errstr when the configuration is refused, the folder is in use
 *          by another broker (in this process or another), or a listener
 *          cannot be bound.  Nothing is left running then.
 */
KFKD_API kfkd *kfkd_open(const kfkd_conf *conf, char *errstr, size_t errlen);

/** @brief The bound port of the first listener (the ephemeral port it got
 *         when it was configured with port 0). */
KFKD_API int kfkd_port(const kfkd *k);

/** @brief How many listeners the broker has (at least 1). */
KFKD_API int kfkd_listener_count(const kfkd *k);

/**
 * @brief The i-th listener (0 to kfkd_listener_count() - 1): its bound
 *        port, and its name (e.g. "PLAINTEXT") in *namep if namep is set.
 * @returns the port, or -1 if i is out of range.
 */
KFKD_API int kfkd_listener_port(const kfkd *k, int i, const char **namep);

/**
 * @brief A bootstrap list for clients: "host:port" of every listener,
 *        comma separated; a listener bound to every interface is given as
 *        127.0.0.1.  Valid until kfkd_close().
 */
KFKD_API const char *kfkd_bootstrap(const kfkd *k);

/** @brief The data folder in use (the first of log.dirs).  Valid until
 *         kfkd_close(). */
KFKD_API const char *kfkd_datadir(const kfkd *k);

/**
 * @brief Stop the broker the way SIGTERM stops the daemon: stop accepting,
 *        close every client connection, flush and close the log, release
 *        the folder's lock, join the thread and free everything.  Clients
 *        still connected see their connection closed.  NULL is fine.
 * @returns 0.
 */
KFKD_API int kfkd_close(kfkd *k);

/** @brief The library's version, "MAJOR.MINOR.PATCH". */
KFKD_API const char *kfkd_version(void);

#ifdef __cplusplus
}
#endif

#endif
