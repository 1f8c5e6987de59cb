// Command kafkago drives segmentio/kafka-go (as packaged by Debian: 0.2.1,
// Produce v2 with MessageSet v1, Fetch v2, no ApiVersions) against a kfkd
// for tests/interop/kafka_go_test.sh.
//
//	kafkago -broker 127.0.0.1:PORT
//
// One line per scenario: ROW<TAB>PASS|FAIL|SKIP<TAB>scenario<TAB>detail.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

var broker string

func row(status, scenario, detail string) {
	detail = strings.ReplaceAll(detail, "\n", " ")
	detail = strings.ReplaceAll(detail, "\t", " ")
	fmt.Printf("ROW\t%s\t%s\t%s\n", status, scenario, detail)
}

func run(scenario string, fn func() (string, error)) {
	done := make(chan struct{})
	var detail string
	var err error
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		detail, err = fn()
	}()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		err = fmt.Errorf("timed out after 40 s")
	}
	if err != nil {
		row("FAIL", scenario, err.Error())
		return
	}
	row("PASS", scenario, detail)
}

func dial() (*kafka.Conn, error) {
	c, err := kafka.Dial("tcp", broker)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, nil
}

func dialLeader(topic string, partition int) (*kafka.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := kafka.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, nil
}

func partitionsOf(topic string) ([]int, error) {
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ps, err := c.ReadPartitions(topic)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, p := range ps {
		if p.Topic == topic {
			ids = append(ids, p.ID)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// readAll reads count messages of topic/partition from offset with a
// (group-less) Reader.
func readAll(topic string, partition int, offset int64, count int) ([]kafka.Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic,
		Partition: partition, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return nil, err
	}
	var out []kafka.Message
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(out) < count {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("after %d messages: %v", len(out), err)
		}
		out = append(out, m)
	}
	return out, nil
}

const nw = 60

func main() {
	flag.StringVar(&broker, "broker", "127.0.0.1:9092", "bootstrap broker")
	flag.Parse()

	run("Conn CreateTopics", func() (string, error) {
		c, err := dial()
		if err != nil {
			return "", err
		}
		defer c.Close()
		err = c.CreateTopics(
			kafka.TopicConfig{Topic: "kgo-writer", NumPartitions: 3, ReplicationFactor: 1},
			kafka.TopicConfig{Topic: "kgo-del", NumPartitions: 2, ReplicationFactor: 1,
				ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "600000"}}},
			kafka.TopicConfig{Topic: "kgo-gzip", NumPartitions: 1, ReplicationFactor: 1},
			kafka.TopicConfig{Topic: "kgo-snappy", NumPartitions: 1, ReplicationFactor: 1},
			kafka.TopicConfig{Topic: "kgo-lz4", NumPartitions: 1, ReplicationFactor: 1})
		if err != nil {
			return "", err
		}
		for _, t := range []string{"kgo-writer", "kgo-del"} {
			ids, err := partitionsOf(t)
			if err != nil {
				return "", err
			}
			if want := map[string]int{"kgo-writer": 3, "kgo-del": 2}[t]; len(ids) != want {
				return "", fmt.Errorf("%s has partitions %v", t, ids)
			}
		}
		// Again: kafka-go turns TOPIC_ALREADY_EXISTS into success (its
		// CreateTopics is idempotent); the topic must keep 3 partitions.
		if err := c.CreateTopics(kafka.TopicConfig{Topic: "kgo-writer", NumPartitions: 1,
			ReplicationFactor: 1}); err != nil {
			return "", fmt.Errorf("duplicate create: %v", err)
		}
		if ids, err := partitionsOf("kgo-writer"); err != nil || len(ids) != 3 {
			return "", fmt.Errorf("after duplicate create: partitions %v (%v)", ids, err)
		}
		return "kgo-writer (3 partitions), kgo-del (2), kgo-gzip/snappy/lz4; duplicate is a no-op", nil
	})

	run("Conn ReadPartitions", func() (string, error) {
		c, err := dial()
		if err != nil {
			return "", err
		}
		defer c.Close()
		ps, err := c.ReadPartitions("kgo-writer")
		if err != nil {
			return "", err
		}
		if len(ps) != 3 {
			return "", fmt.Errorf("%d partitions", len(ps))
		}
		for _, p := range ps {
			if p.Leader.ID != 1 || len(p.Isr) != 1 || len(p.Replicas) != 1 {
				return "", fmt.Errorf("partition %+v", p)
			}
		}
		return fmt.Sprintf("3 partitions led by broker 1 at %s:%d", ps[0].Leader.Host, ps[0].Leader.Port), nil
	})

	// Writer with the Hash balancer and acks=all (RequiredAcks -1).
	keys := make([]string, nw)
	run("Writer (Hash balancer, RequiredAcks=-1)", func() (string, error) {
		w := kafka.NewWriter(kafka.WriterConfig{Brokers: []string{broker}, Topic: "kgo-writer",
			Balancer: &kafka.Hash{}, RequiredAcks: -1, BatchSize: 10,
			BatchTimeout: 20 * time.Millisecond, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, MaxAttempts: 3})
		msgs := make([]kafka.Message, nw)
		for i := range msgs {
			keys[i] = fmt.Sprintf("user-%d", i%12)
			msgs[i] = kafka.Message{Key: []byte(keys[i]), Value: []byte(fmt.Sprintf("event-%d", i))}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			w.Close()
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d keyed messages", nw), nil
	})

	run("Reader reads the Writer's messages back per partition", func() (string, error) {
		h := &kafka.Hash{}
		want := map[int][]string{}
		for i := 0; i < nw; i++ {
			p := h.Balance(kafka.Message{Key: []byte(keys[i])}, 0, 1, 2)
			want[p] = append(want[p], fmt.Sprintf("%s=event-%d", keys[i], i))
		}
		counts := []string{}
		for p := 0; p < 3; p++ {
			ms, err := readAll("kgo-writer", p, 0, len(want[p]))
			if err != nil {
				return "", fmt.Errorf("partition %d: %v", p, err)
			}
			for i, m := range ms {
				got := string(m.Key) + "=" + string(m.Value)
				if got != want[p][i] || m.Offset != int64(i) {
					return "", fmt.Errorf("partition %d offset %d: %s, want %s at %d", p, m.Offset, got, want[p][i], i)
				}
			}
			counts = append(counts, fmt.Sprint(len(ms)))
		}
		return "per-partition counts " + strings.Join(counts, "/") + ", keys where Hash puts them, in order", nil
	})

	run("Conn ReadOffsets", func() (string, error) {
		h := &kafka.Hash{}
		n0 := 0
		for i := 0; i < nw; i++ {
			if h.Balance(kafka.Message{Key: []byte(keys[i])}, 0, 1, 2) == 0 {
				n0++
			}
		}
		c, err := dialLeader("kgo-writer", 0)
		if err != nil {
			return "", err
		}
		defer c.Close()
		first, last, err := c.ReadOffsets()
		if err != nil {
			return "", err
		}
		if first != 0 || last != int64(n0) {
			return "", fmt.Errorf("first %d last %d, want 0 %d", first, last, n0)
		}
		return fmt.Sprintf("partition 0: first 0, last %d", n0), nil
	})

	codecs := []struct {
		name string
		c    kafka.CompressionCodec
	}{{"gzip", gzip.NewCompressionCodec()}, {"snappy", snappy.NewCompressionCodec()},
		{"lz4", lz4.NewCompressionCodec()}}
	for _, cc := range codecs {
		cc := cc
		topic := "kgo-" + cc.name
		const n = 25
		run("Conn WriteCompressedMessages "+cc.name, func() (string, error) {
			c, err := dialLeader(topic, 0)
			if err != nil {
				return "", err
			}
			defer c.Close()
			msgs := make([]kafka.Message, n)
			for i := range msgs {
				msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)),
					Value: []byte(fmt.Sprintf("%s-%d-%s", cc.name, i, strings.Repeat("q", i*5)))}
			}
			if _, err := c.WriteCompressedMessages(cc.c, msgs[:10]...); err != nil {
				return "", err
			}
			if _, err := c.WriteCompressedMessages(cc.c, msgs[10:]...); err != nil {
				return "", err
			}
			_, last, err := c.ReadOffsets()
			if err != nil || last != n {
				return "", fmt.Errorf("last offset %d (%v), want %d", last, err, n)
			}
			return fmt.Sprintf("%d messages in 2 compressed wrappers", n), nil
		})
		run("Conn ReadBatch "+cc.name, func() (string, error) {
			c, err := dialLeader(topic, 0)
			if err != nil {
				return "", err
			}
			defer c.Close()
			if _, err := c.Seek(0, kafka.SeekAbsolute); err != nil {
				return "", err
			}
			got := 0
			for got < n {
				b := c.ReadBatch(1, 1<<20)
				for {
					m, err := b.ReadMessage()
					if err != nil {
						break
					}
					want := fmt.Sprintf("%s-%d-%s", cc.name, got, strings.Repeat("q", got*5))
					if m.Offset != int64(got) || string(m.Key) != fmt.Sprintf("k%d", got) ||
						string(m.Value) != want {
						b.Close()
						return "", fmt.Errorf("offset %d key %q value %q, want offset %d", m.Offset, m.Key, m.Value, got)
					}
					got++
				}
				if err := b.Close(); err != nil {
					return "", fmt.Errorf("batch after %d messages: %v", got, err)
				}
			}
			return fmt.Sprintf("%d messages in order", n), nil
		})
	}

	run("Reader from an offset (gzip topic, offset 20)", func() (string, error) {
		ms, err := readAll("kgo-gzip", 0, 20, 5)
		if err != nil {
			return "", err
		}
		for i, m := range ms {
			if m.Offset != int64(20+i) || string(m.Key) != fmt.Sprintf("k%d", 20+i) {
				return "", fmt.Errorf("offset %d key %q", m.Offset, m.Key)
			}
		}
		return "offsets 20..24", nil
	})

	run("Conn DeleteTopics", func() (string, error) {
		c, err := dial()
		if err != nil {
			return "", err
		}
		defer c.Close()
		if err := c.DeleteTopics("kgo-del"); err != nil {
			return "", err
		}
		// The broker runs with auto.create.topics.enable=false, so this
		// Metadata v1 request does not bring the topic back.
		ids, err := partitionsOf("kgo-del")
		if err == nil && len(ids) > 0 {
			return "", fmt.Errorf("kgo-del still has partitions %v", ids)
		}
		return fmt.Sprintf("kgo-del gone (ReadPartitions: %v)", err), nil
	})
	os.Exit(0)
}
