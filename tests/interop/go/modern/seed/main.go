// Command seed runs the seed's program as the seed writes it, on
// kafka-go v0.4 (pinned by ../go.mod), for tests/interop/seed_test.sh:
//
//	seed -brokers HOST:PORT,HOST:PORT,HOST:PORT [-prefix "3-node cluster: "]
//
// The seed names three brokers (localhost:9092, 9093, 9094); the test
// passes three addresses.  The Writer is the seed's: kafka.TCP of the
// three, LeastBytes, Async, RequireAll, AllowAutoTopicCreation and a
// Completion callback (the messages name topic-A, the seed's Writer has no
// Topic); the Reader is the seed's: GroupID consumer-group-id, Topic
// topic-A, Partition 0, CommitInterval 1 s.  Checked: every message is
// acknowledged through Completion with no error, the group Reader reads
// each exactly once, its commits land (OffsetFetch), and a second Reader
// of the group started after the first closed reads only what came after.
// One ROW line per scenario (drv.Row).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"kfk/tests/interop/go/modern/internal/drv"
)

const (
	topic = "topic-A"
	group = "consumer-group-id"
	m     = 100 // messages written
)

var (
	brokers []string
	prefix  string
)

// completions counts what the Writer's Completion callback reported.
type completions struct {
	mu   sync.Mutex
	ok   map[string]int
	errs []string
}

func newWriter(c *completions) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               &kafka.LeastBytes{},
		Async:                  true,
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: true,
		Completion: func(messages []kafka.Message, err error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, msg := range messages {
				if err != nil {
					c.errs = append(c.errs, fmt.Sprintf("%s: %v", msg.Key, err))
				} else {
					c.ok[string(msg.Value)]++
				}
			}
		},
	}
}

func newReader() *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		GroupID:        group,
		Topic:          topic,
		Partition:      0,
		CommitInterval: time.Second,
	})
}

func value(i int) string { return fmt.Sprintf("message-%03d", i) }

func main() {
	b := flag.String("brokers", "localhost:9092,localhost:9093,localhost:9094", "the three brokers")
	flag.StringVar(&prefix, "prefix", "", "scenario name prefix")
	flag.Parse()
	brokers = strings.Split(*b, ",")

	c := &completions{ok: map[string]int{}}
	var firstErr error
	ok := drv.Run(prefix+"seed Writer: every message acknowledged through Completion", 90*time.Second, func() (string, error) {
		w := newWriter(c)
		// The seed's three messages first, then more.
		ms := []kafka.Message{
			{Topic: topic, Key: []byte("Key-A"), Value: []byte(value(0))},
			{Topic: topic, Key: []byte("Key-B"), Value: []byte(value(1))},
			{Topic: topic, Key: []byte("Key-C"), Value: []byte(value(2))},
		}
		for i := 3; i < m; i++ {
			ms = append(ms, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("Key-%d", i)), Value: []byte(value(i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Async: WriteMessages returns at once (Close flushes and waits),
		// but it looks the topic up first, and fails when the answer has
		// no topic-A yet: it retries as kafka-go's README does (messages
		// refused so never reached Completion).
		retries := 0
		for i := 0; i < m; i += 10 {
			for {
				err := w.WriteMessages(ctx, ms[i:i+10]...)
				if i == 0 && retries == 0 {
					firstErr = err
				}
				if err == nil {
					break
				}
				if !(errors.Is(err, kafka.LeaderNotAvailable) || errors.Is(err, kafka.UnknownTopicOrPartition) ||
					errors.Is(err, context.DeadlineExceeded)) || retries >= 40 {
					return "", fmt.Errorf("WriteMessages after %d retries: %v", retries, err)
				}
				retries++
				time.Sleep(250 * time.Millisecond)
			}
		}
		if err := w.Close(); err != nil {
			return "", fmt.Errorf("Close: %v", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.errs) > 0 {
			return "", fmt.Errorf("%d Completion errors, first: %s", len(c.errs), c.errs[0])
		}
		for i := 0; i < m; i++ {
			if c.ok[value(i)] != 1 {
				return "", fmt.Errorf("%s acknowledged %d times", value(i), c.ok[value(i)])
			}
		}
		return fmt.Sprintf("%d messages, each acknowledged once, no error (WriteMessages retried %d times)", m, retries), nil
	})
	drv.Run(prefix+"seed Writer: the first WriteMessages finds topic-A missing", 5*time.Second, func() (string, error) {
		// Apache Kafka creates the topic, but its Metadata answer does not
		// have it yet: kafka-go returns the topic's error at once.
		if errors.Is(firstErr, kafka.LeaderNotAvailable) || errors.Is(firstErr, kafka.UnknownTopicOrPartition) {
			return fmt.Sprintf("WriteMessages: %v", firstErr), nil
		}
		return "", fmt.Errorf("the first WriteMessages answered %v, want UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE", firstErr)
	})
	if !ok {
		os.Exit(0)
	}
	ok = drv.Run(prefix+"seed Reader (GroupID, CommitInterval 1s): every message exactly once", 90*time.Second, func() (string, error) {
		r := newReader()
		seen := map[string]int{}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for len(seen) < m {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return "", fmt.Errorf("after %d messages: %v", len(seen), err)
			}
			seen[string(msg.Value)]++
		}
		// Anything more within 2 s would be a duplicate.
		c2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		if msg, err := r.ReadMessage(c2); err == nil {
			seen[string(msg.Value)]++
		}
		// Close commits what CommitInterval has not committed yet.
		if err := r.Close(); err != nil {
			return "", fmt.Errorf("Close: %v", err)
		}
		for i := 0; i < m; i++ {
			if seen[value(i)] != 1 {
				return "", fmt.Errorf("%s read %d times", value(i), seen[value(i)])
			}
		}
		return fmt.Sprintf("%d messages, each once", m), nil
	})
	if !ok {
		os.Exit(0)
	}
	drv.Run(prefix+"seed Reader: the commits land", 30*time.Second, func() (string, error) {
		cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group,
			Topics: map[string][]int{topic: {0}}})
		if err != nil {
			return "", err
		}
		ps := r.Topics[topic]
		if len(ps) != 1 || ps[0].Error != nil || ps[0].CommittedOffset != m {
			return "", fmt.Errorf("OffsetFetch: %+v", ps)
		}
		return fmt.Sprintf("OffsetFetch: %s partition 0 at %d", group, m), nil
	})
	drv.Run(prefix+"seed: a second Reader of the group reads only what came after", 90*time.Second, func() (string, error) {
		r := newReader()
		defer r.Close()
		// Written while the second Reader joins: the only message it may read.
		c2 := &completions{ok: map[string]int{}}
		w := newWriter(c2)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte("Key-new"), Value: []byte("after")}); err != nil {
			return "", err
		}
		if err := w.Close(); err != nil || len(c2.errs) > 0 || c2.ok["after"] != 1 {
			return "", fmt.Errorf("writing the new message: %v %v", err, c2.errs)
		}
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			return "", err
		}
		if string(msg.Value) != "after" || msg.Offset != m {
			return "", fmt.Errorf("read %q at offset %d first, want \"after\" at %d", msg.Value, msg.Offset, m)
		}
		return fmt.Sprintf("its first message is the new one (offset %d), nothing old", m), nil
	})
	os.Exit(0)
}
