// Command kafkago drives segmentio/kafka-go v0.4 (pinned by ../go.mod)
// against one broker for tests/interop/kafka_go_latest_test.sh:
//
//	kafkago -brokers 127.0.0.1:PORT
//
// kafka.Client creates the topics and runs the admin calls (Metadata,
// DescribeConfigs, CreatePartitions, ListOffsets, ListGroups,
// DescribeGroups, OffsetFetch, DeleteTopics); a Writer produces keys and
// headers in every codec and a Reader reads back; a consumer group of 2
// (kafka.ConsumerGroup, the API under Reader's GroupID: it shows the
// assignment) commits, and a Reader with GroupID resumes from the
// commits.  One ROW line per scenario (drv.Row).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"kfk/tests/interop/go/modern/internal/drv"
)

var (
	brokers []string
	cl      *kafka.Client
)

const (
	groupTopic = "kgo4-group"
	group      = "kgo4-g"
)

var codecs = map[string]kafka.Compression{"none": 0, "gzip": kafka.Gzip,
	"snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func produceConsume(topic, tag string) (string, error) {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Compression: codecs[tag], BatchTimeout: 10 * time.Millisecond}
	var ms []kafka.Message
	for _, r := range drv.Records(tag) {
		m := kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h[0], Value: []byte(h[1])})
		}
		ms = append(ms, m)
	}
	ctx, cancel := ctxFor(20 * time.Second)
	defer cancel()
	// Half one by one, half in one call (one batch).
	for _, m := range ms[:drv.N/2] {
		if err := w.WriteMessages(ctx, m); err != nil {
			w.Close()
			return "", fmt.Errorf("WriteMessages: %v", err)
		}
	}
	if err := w.WriteMessages(ctx, ms[drv.N/2:]...); err != nil {
		w.Close()
		return "", fmt.Errorf("WriteMessages: %v", err)
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0,
		MaxWait: 500 * time.Millisecond})
	defer r.Close()
	var got []drv.Rec
	var offs []int64
	for len(got) < drv.N {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return "", fmt.Errorf("read after %d records: %v", len(got), err)
		}
		g := drv.Rec{Key: string(m.Key), Value: string(m.Value)}
		for _, h := range m.Headers {
			g.Headers = append(g.Headers, [2]string{h.Key, string(h.Value)})
		}
		got = append(got, g)
		offs = append(offs, m.Offset)
	}
	if err := drv.Check(drv.Records(tag), got, offs); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d records with keys and 2 headers, read back in order at offsets 0..%d", drv.N, drv.N-1), nil
}

// member is one kafka.ConsumerGroup member: each generation's assignment
// is recorded; a Reader per assigned partition reads from the
// generation's offset and commits GroupCommit once it has read that far.
type member struct {
	cg     *kafka.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(name string, as *drv.Assignments) (*member, error) {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: group, Brokers: brokers,
		Topics: []string{groupTopic}, HeartbeatInterval: 500 * time.Millisecond,
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 200 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{cg: cg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			gen, err := cg.Next(ctx)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			var ps []int32
			for _, pa := range gen.Assignments[groupTopic] {
				ps = append(ps, int32(pa.ID))
				pa := pa
				gen.Start(func(gctx context.Context) {
					r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: groupTopic,
						Partition: pa.ID, MaxWait: 500 * time.Millisecond})
					defer r.Close()
					r.SetOffset(pa.Offset)
					for {
						msg, err := r.ReadMessage(gctx)
						if err != nil {
							return
						}
						if msg.Offset == drv.GroupCommit-1 {
							gen.CommitOffsets(map[string]map[int]int64{groupTopic: {pa.ID: drv.GroupCommit}})
						}
					}
				})
			}
			as.Set(name, ps)
		}
	}()
	return m, nil
}

func (m *member) close() {
	m.cancel()
	m.cg.Close()
	<-m.done
}

func groupScenarios() {
	ok := drv.Run("Writer: seed the group topic", 30*time.Second, func() (string, error) {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: groupTopic, RequiredAcks: kafka.RequireAll,
			Balancer:     kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return int(m.Key[1] - '0') }),
			BatchTimeout: 10 * time.Millisecond}
		var ms []kafka.Message
		for p := 0; p < drv.GroupParts; p++ {
			for i := 0; i < drv.GroupPer; i++ {
				ms = append(ms, kafka.Message{Key: []byte(fmt.Sprintf("p%d-%d", p, i)), Value: []byte("v")})
			}
		}
		ctx, cancel := ctxFor(20 * time.Second)
		defer cancel()
		if err := w.WriteMessages(ctx, ms...); err != nil {
			w.Close()
			return "", err
		}
		return fmt.Sprintf("%d records on each of %d partitions", drv.GroupPer, drv.GroupParts), w.Close()
	})
	if !ok {
		return
	}
	as := &drv.Assignments{}
	var a, b *member
	ok = drv.Run("ConsumerGroup: 2 members split the partitions", 45*time.Second, func() (string, error) {
		var err error
		if a, err = startMember("A", as); err != nil {
			return "", err
		}
		if b, err = startMember("B", as); err != nil {
			return "", err
		}
		return as.WaitSplit([]string{"A", "B"}, drv.GroupParts, 30*time.Second)
	})
	defer func() {
		for _, m := range []*member{a, b} {
			if m != nil {
				m.close()
			}
		}
	}()
	if !ok {
		return
	}
	drv.Run("ConsumerGroup: CommitOffsets (Client OffsetFetch)", 30*time.Second, func() (string, error) {
		var last string
		for i := 0; i < 100; i++ {
			ctx, cancel := ctxFor(5 * time.Second)
			r, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group,
				Topics: map[string][]int{groupTopic: {0, 1, 2, 3}}})
			cancel()
			if err == nil {
				n := 0
				var got []string
				for _, p := range r.Topics[groupTopic] {
					got = append(got, fmt.Sprintf("%d:%d", p.Partition, p.CommittedOffset))
					if p.Error == nil && p.CommittedOffset == drv.GroupCommit {
						n++
					}
				}
				last = strings.Join(got, " ")
				if n == drv.GroupParts {
					return "OffsetFetch: offset 5 on every partition", nil
				}
			} else {
				last = err.Error()
			}
			time.Sleep(200 * time.Millisecond)
		}
		return "", fmt.Errorf("committed offsets: %s", last)
	})
	drv.Run("Client ListGroups", 15*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.ListGroups(ctx, &kafka.ListGroupsRequest{})
		if err != nil {
			return "", err
		}
		if r.Error != nil {
			return "", r.Error
		}
		for _, g := range r.Groups {
			if g.GroupID == group {
				if g.ProtocolType != "consumer" {
					return "", fmt.Errorf("protocol type %q", g.ProtocolType)
				}
				return group + " listed, protocol type consumer", nil
			}
		}
		return "", fmt.Errorf("%s not among %d groups", group, len(r.Groups))
	})
	drv.Run("Client DescribeGroups", 15*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return "", err
		}
		if len(r.Groups) != 1 || r.Groups[0].Error != nil {
			return "", fmt.Errorf("%+v", r.Groups)
		}
		g := r.Groups[0]
		n := 0
		for _, m := range g.Members {
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == groupTopic {
					n += len(t.Partitions)
				}
			}
		}
		if g.GroupState != "Stable" || len(g.Members) != 2 || n != drv.GroupParts {
			return "", fmt.Errorf("state %s, %d members, %d partitions assigned", g.GroupState, len(g.Members), n)
		}
		return "Stable, 2 members, 4 partitions assigned", nil
	})
	a.close()
	b.close()
	a, b = nil, nil
	drv.Run("Reader with GroupID resumes from the commits", 40*time.Second, func() (string, error) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: groupTopic,
			MaxWait: 500 * time.Millisecond, HeartbeatInterval: 500 * time.Millisecond,
			SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second})
		defer r.Close()
		want := drv.GroupParts * (drv.GroupPer - drv.GroupCommit)
		got := map[int32][]int64{}
		ctx, cancel := ctxFor(30 * time.Second)
		defer cancel()
		for n := 0; ; n++ {
			c := ctx
			if n >= want {
				// nothing more may come
				var cc context.CancelFunc
				c, cc = ctxFor(time.Second)
				defer cc()
			}
			m, err := r.FetchMessage(c)
			if err != nil {
				if n >= want {
					break
				}
				return "", fmt.Errorf("after %d messages: %v", n, err)
			}
			got[int32(m.Partition)] = append(got[int32(m.Partition)], m.Offset)
		}
		for _, o := range got {
			sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		}
		if err := drv.CheckResumed(got); err != nil {
			return "", err
		}
		return "offsets 5..9 of each partition, each once", nil
	})
}

func partitions(topic string) (int, error) {
	ctx, cancel := ctxFor(5 * time.Second)
	defer cancel()
	r, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range r.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, t.Error
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("%s not in the metadata", topic)
}

// waitPartitions waits until the metadata shows topic with n partitions
// (Kafka's brokers learn of a topic change asynchronously).
func waitPartitions(topic string, n int) error {
	var got int
	var err error
	for i := 0; i < 100; i++ {
		if got, err = partitions(topic); err == nil && got == n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: %d partitions (%v), want %d", topic, got, err, n)
}

func main() {
	b := flag.String("brokers", "127.0.0.1:9092", "bootstrap broker(s), comma separated")
	flag.Parse()
	brokers = strings.Split(*b, ",")
	cl = &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}

	topics := map[string]int{groupTopic: drv.GroupParts, "kgo4-admin": 2}
	for _, c := range drv.Codecs {
		topics["kgo4-"+c] = 1
	}
	ok := drv.Run("Client CreateTopics", 30*time.Second, func() (string, error) {
		var tc []kafka.TopicConfig
		for t, n := range topics {
			c := kafka.TopicConfig{Topic: t, NumPartitions: n, ReplicationFactor: 1}
			if t == "kgo4-admin" {
				c.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}}
			}
			tc = append(tc, c)
		}
		ctx, cancel := ctxFor(20 * time.Second)
		defer cancel()
		r, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: tc})
		if err != nil {
			return "", err
		}
		for t, e := range r.Errors {
			if e != nil {
				return "", fmt.Errorf("%s: %v", t, e)
			}
		}
		r, err = cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: "kgo4-admin", NumPartitions: 1, ReplicationFactor: 1}}})
		if err != nil {
			return "", err
		}
		if e := r.Errors["kgo4-admin"]; !errors.Is(e, kafka.TopicAlreadyExists) {
			return "", fmt.Errorf("duplicate create: %v", e)
		}
		return fmt.Sprintf("%d topics; duplicate -> TOPIC_ALREADY_EXISTS", len(topics)), nil
	})
	if !ok {
		os.Exit(0)
	}
	drv.Run("Client Metadata", 20*time.Second, func() (string, error) {
		for t, n := range topics {
			if err := waitPartitions(t, n); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d topics with their partitions", len(topics)), nil
	})
	drv.Run("Client DescribeConfigs", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: "kgo4-admin"}}})
		if err != nil {
			return "", err
		}
		if len(r.Resources) != 1 || r.Resources[0].Error != nil {
			return "", fmt.Errorf("%+v", r.Resources)
		}
		for _, e := range r.Resources[0].ConfigEntries {
			if e.ConfigName == "retention.ms" {
				if e.ConfigValue != "3600000" {
					return "", fmt.Errorf("retention.ms = %q", e.ConfigValue)
				}
				return fmt.Sprintf("%d entries, retention.ms=3600000", len(r.Resources[0].ConfigEntries)), nil
			}
		}
		return "", fmt.Errorf("no retention.ms")
	})
	drv.Run("Client CreatePartitions", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{
			Name: "kgo4-admin", Count: 3}}})
		if err != nil {
			return "", err
		}
		if e := r.Errors["kgo4-admin"]; e != nil {
			return "", e
		}
		if err := waitPartitions("kgo4-admin", 3); err != nil {
			return "", err
		}
		return "kgo4-admin 2 -> 3 partitions", nil
	})

	for _, c := range drv.Codecs {
		c := c
		drv.Run("Writer + Reader "+c, 45*time.Second, func() (string, error) {
			return produceConsume("kgo4-"+c, c)
		})
	}
	drv.Run("Client ListOffsets", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			"kgo4-gzip": {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}}})
		if err != nil {
			return "", err
		}
		ps := r.Topics["kgo4-gzip"]
		if len(ps) != 1 || ps[0].Error != nil || ps[0].FirstOffset != 0 || ps[0].LastOffset != drv.N {
			return "", fmt.Errorf("%+v", ps)
		}
		return fmt.Sprintf("kgo4-gzip: first 0, last %d", drv.N), nil
	})

	groupScenarios()

	drv.Run("Client DeleteTopics", 30*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		r, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{"kgo4-admin"}})
		if err != nil {
			return "", err
		}
		if e := r.Errors["kgo4-admin"]; e != nil {
			return "", e
		}
		for i := 0; i < 100; i++ {
			if _, err := partitions("kgo4-admin"); errors.Is(err, kafka.UnknownTopicOrPartition) {
				return "kgo4-admin gone: Metadata answers UNKNOWN_TOPIC_OR_PARTITION", nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, err = partitions("kgo4-admin")
		return "", fmt.Errorf("kgo4-admin still there: %v", err)
	})
	os.Exit(0)
}
