/*
 * conf.h -- kfk_conf, the configuration of a Writer (and later a Reader):
 * a table of named properties set from strings, like
 * kfk_conf_set(conf, "bootstrap.servers", "h1:9092,h2:9092", ...), plus
 * typed setters for what is not a string (callbacks, a balancer object).
 *
 * Keeping the configuration behind string keys keeps the ABI stable: new
 * options are new names, never new struct fields.  kfk_conf_dump() lists
 * every property with its current value; docs/client.md has the table.
 *
 * A kfk_conf is not thread-safe; it is consumed by the object created from
 * it (kfk_writer_new()) only when that succeeds.
 */
#ifndef KFK_CONF_H
#define KFK_CONF_H

#include <stddef.h>

#include "kfk/err.h"
#include "kfk/conn.h"
#include "kfk/balancer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kfk_conf kfk_conf;
typedef struct kfk_writer kfk_writer;

/** @brief A configuration with every property at its default.
 * @returns NULL only when out of memory. */
KFK_API kfk_conf *kfk_conf_new(void);
/** @brief A deep copy (the balancer is shared: see kfk_conf_set_balancer()).
 * @returns NULL only when out of memory. */
KFK_API kfk_conf *kfk_conf_dup(const kfk_conf *conf);
KFK_API void kfk_conf_destroy(kfk_conf *conf);

/**
 * @brief Set a property from its string form.
 *
 * Booleans take true/false/1/0; durations are in milliseconds; enums take
 * their names (e.g. acks: none, one, all, 0, 1, -1).
 * @returns KFK_ERR__NOT_FOUND for an unknown name, KFK_ERR__INVALID_ARG
 *          for a value out of range or not parsable (errstr says why).
 */
KFK_API kfk_err kfk_conf_set(kfk_conf *conf, const char *name,
                             const char *value, char *errstr,
                             size_t errstr_size);

/**
 * @brief The current value of a property in its string form.
 * @param dest NULL to learn the size: *dest_sizep is set to the size
 *             needed (including the NUL).
 * @returns KFK_ERR__NOT_FOUND for an unknown name.
 */
KFK_API kfk_err kfk_conf_get(const kfk_conf *conf, const char *name, char *dest,
                             size_t *dest_sizep);

/**
 * @brief Every property: name, value, name, value, ... (*countp strings).
 * @returns an array to free with kfk_conf_dump_free(), NULL if out of
 *          memory.
 */
KFK_API const char **kfk_conf_dump(const kfk_conf *conf, size_t *countp);
KFK_API void kfk_conf_dump_free(const char **arr, size_t count);

/**
 * @brief Completion callback of a Writer, called once per message after
 * its final attempt (retries included) with its outcome.
 *
 * @param msg   the message as written, with topic, partition, offset (-1
 *              if unknown, e.g. acks none) and timestamp filled in, and
 *              the caller's opaque.  Key/value point to the library's
 *              copies.
 * @param err   KFK_ERR_NONE on success.
 * @remark Runs on the writer's background I/O thread, in produce order
 *         per partition.  msg is valid only during the call.  The
 *         callback must not block for long and must not call
 *         kfk_writer_flush() or kfk_writer_destroy(); an async
 *         kfk_writer_write() from it must not wait for buffer space
 *         (it would wait for itself).
 */
typedef void(kfk_writer_completion_cb)(kfk_writer *kw, const kfk_message *msg,
                                       kfk_err err, void *opaque);

KFK_API void kfk_conf_set_completion_cb(kfk_conf *conf,
                                        kfk_writer_completion_cb *cb,
                                        void *opaque);

/**
 * @brief Use this balancer object (it overrides the "balancer" property).
 * @remark The balancer is borrowed: it must outlive every writer created
 *         from this conf (and its copies).  It is called from the writer's
 *         I/O thread.
 */
KFK_API void kfk_conf_set_balancer(kfk_conf *conf, kfk_balancer *kb);

#ifdef __cplusplus
}
#endif
#endif
