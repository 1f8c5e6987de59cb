/*
 * conn.c -- the lowest level of libkfk, kafka-go's Conn: dial the leader
 * of one partition, list the topic's partitions, write one batch and read
 * it back from where it landed.
 *
 *   conn -b BROKERS -t TOPIC [-p P]
 *
 * The topic must exist (kfk topics create, or a writer with automatic
 * creation).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kfk/kfk.h>

static int
fail(kfk_conn *kc, const char *what, kfk_err err)
{
    fprintf(stderr, "conn: %s: %s (%s)\n", what, kfk_err2str(err),
            kc ? kfk_conn_errstr(kc) : "");
    kfk_conn_close(kc);
    return 1;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    int32_t part = 0;
    int c;
    while ((c = getopt(argc, argv, "b:t:p:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            part = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s -b BROKERS -t TOPIC [-p P]\n", argv[0]);
            return 2;
        }
    }
    if (!brokers || !topic) {
        fprintf(stderr, "usage: %s -b BROKERS -t TOPIC [-p P]\n", argv[0]);
        return 2;
    }
    char errstr[256];
    kfk_conn *kc;
    kfk_err err = kfk_conn_dial_leader(brokers, topic, part, 10000, &kc, errstr,
                                       sizeof(errstr));
    if (err) {
        fprintf(stderr, "conn: dial leader: %s\n", errstr);
        return 1;
    }
    printf("leader of %s [%d]: broker %d\n", topic, part,
           kfk_conn_broker_id(kc));

    kfk_partition_info *parts;
    size_t n;
    if ((err = kfk_conn_read_partitions(kc, &topic, 1, &parts, &n)))
        return fail(kc, "read partitions", err);
    for (size_t i = 0; i < n; i++)
        printf(
            "partition %d leader %d at %s:%d replicas %d isr %d\n", parts[i].id,
            parts[i].leader, parts[i].leader_host ? parts[i].leader_host : "-",
            parts[i].leader_port, parts[i].replica_count, parts[i].isr_count);
    kfk_partition_info_free(parts);

    const char *values[] = {"one", "two", "three"};
    kfk_message msgs[3];
    for (int i = 0; i < 3; i++)
        msgs[i] = (kfk_message){.value = values[i],
                                .value_len = (int32_t)strlen(values[i])};
    int64_t base;
    if ((err = kfk_conn_write_messages(kc, msgs, 3, &base)))
        return fail(kc, "write", err);
    printf("wrote 3 messages at offset %lld\n", (long long)base);

    if ((err = kfk_conn_seek(kc, base, KFK_SEEK_ABSOLUTE, NULL)))
        return fail(kc, "seek", err);
    kfk_fetch *f;
    if ((err = kfk_conn_read_batch(kc, NULL, &f)))
        return fail(kc, "read batch", err);
    kfk_message m;
    int got = 0;
    while (got < 3 && kfk_fetch_next(f, &m) == 1) {
        printf("%lld %.*s\n", (long long)m.offset, (int)m.value_len,
               (const char *)m.value);
        got++;
    }
    err = kfk_fetch_err(f);
    kfk_fetch_destroy(f);
    if (err) return fail(kc, "fetch", err);
    kfk_conn_close(kc);
    return got == 3 ? 0 : 1;
}
