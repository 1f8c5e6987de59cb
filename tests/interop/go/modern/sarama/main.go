// Command sarama drives the latest IBM/sarama (pinned by ../go.mod) against
// one broker for tests/interop/sarama_latest_test.sh:
//
//	sarama -brokers 127.0.0.1:PORT
//
// ClusterAdmin creates the topics; SyncProducer at its default
// Config.Version and at V3_6_0_0, with keys and headers in every codec,
// read back by a partition consumer; AsyncProducer; a ConsumerGroup (2
// members split the partitions, MarkOffset + Commit, a new member
// resumes); ClusterAdmin describe/list/offsets/delete calls.  One ROW line
// per scenario (drv.Row).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"kfk/tests/interop/go/modern/internal/drv"
)

var brokers []string

const (
	groupTopic = "sarama-group"
	group      = "sarama-g"
)

var codecs = map[string]sarama.CompressionCodec{"none": sarama.CompressionNone,
	"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}

func config(v sarama.KafkaVersion) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "kfk-interop-sarama-latest"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Retry.Backoff = 200 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 500 * time.Millisecond
	return c
}

func messages(topic, tag string) []*sarama.ProducerMessage {
	var ms []*sarama.ProducerMessage
	for _, r := range drv.Records(tag) {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		ms = append(ms, m)
	}
	return ms
}

func syncProduce(conf *sarama.Config, topic, tag string) error {
	p, err := sarama.NewSyncProducer(brokers, conf)
	if err != nil {
		return fmt.Errorf("producer: %v", err)
	}
	defer p.Close()
	ms := messages(topic, tag)
	// Half one by one, half in one SendMessages call (one batch).
	for _, m := range ms[:drv.N/2] {
		if _, _, err := p.SendMessage(m); err != nil {
			return fmt.Errorf("SendMessage: %v", err)
		}
	}
	if err := p.SendMessages(ms[drv.N/2:]); err != nil {
		return fmt.Errorf("SendMessages: %v", err)
	}
	for i, m := range ms {
		if m.Offset != int64(i) {
			return fmt.Errorf("message %d acknowledged at offset %d", i, m.Offset)
		}
	}
	return nil
}

func asyncProduce(conf *sarama.Config, topic, tag string) error {
	p, err := sarama.NewAsyncProducer(brokers, conf)
	if err != nil {
		return fmt.Errorf("producer: %v", err)
	}
	defer p.Close()
	ms := messages(topic, tag)
	go func() {
		for _, m := range ms {
			p.Input() <- m
		}
	}()
	offs := map[int64]bool{}
	for len(offs) < len(ms) {
		select {
		case m := <-p.Successes():
			offs[m.Offset] = true
		case e := <-p.Errors():
			return fmt.Errorf("after %d successes: %v", len(offs), e.Err)
		case <-time.After(20 * time.Second):
			return fmt.Errorf("%d of %d acknowledged in 20 s", len(offs), len(ms))
		}
	}
	for i := range ms {
		if !offs[int64(i)] {
			return fmt.Errorf("no success at offset %d", i)
		}
	}
	return nil
}

func readBack(conf *sarama.Config, topic, tag string) error {
	cons, err := sarama.NewConsumer(brokers, conf)
	if err != nil {
		return err
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("ConsumePartition: %v", err)
	}
	defer pc.Close()
	var got []drv.Rec
	var offs []int64
	deadline := time.After(15 * time.Second)
	for len(got) < drv.N {
		select {
		case m := <-pc.Messages():
			g := drv.Rec{Key: string(m.Key), Value: string(m.Value)}
			for _, h := range m.Headers {
				g.Headers = append(g.Headers, [2]string{string(h.Key), string(h.Value)})
			}
			got = append(got, g)
			offs = append(offs, m.Offset)
		case e := <-pc.Errors():
			return fmt.Errorf("consume after %d records: %v", len(got), e)
		case <-deadline:
			return fmt.Errorf("read %d of %d records in 15 s", len(got), drv.N)
		}
	}
	return drv.Check(drv.Records(tag), got, offs)
}

// handler is one ConsumerGroup member: it records its assignment, and
// commits offset GroupCommit on each partition once it has read that far.
type handler struct {
	name   string
	as     *drv.Assignments
	commit bool
	mu     sync.Mutex
	read   map[int32][]int64
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.as.Set(h.name, s.Claims()[groupTopic])
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.as.Set(h.name, nil)
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.read[m.Partition] = append(h.read[m.Partition], m.Offset)
		h.mu.Unlock()
		if h.commit && m.Offset == drv.GroupCommit-1 {
			s.MarkOffset(m.Topic, m.Partition, drv.GroupCommit, "")
			s.Commit()
		}
	}
	return nil
}

type member struct {
	h      *handler
	g      sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(name string, as *drv.Assignments, commit bool) (*member, error) {
	conf := config(sarama.DefaultVersion)
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = false
	conf.Consumer.Group.Session.Timeout = 6 * time.Second
	conf.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	g, err := sarama.NewConsumerGroup(brokers, group, conf)
	if err != nil {
		return nil, err
	}
	m := &member{h: &handler{name: name, as: as, commit: commit, read: map[int32][]int64{}},
		g: g, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{groupTopic}, m.h); err != nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	return m, nil
}

func (m *member) close() {
	m.cancel()
	<-m.done
	m.g.Close()
}

func groupScenarios(ca sarama.ClusterAdmin) {
	ok := drv.Run("seed the group topic", 30*time.Second, func() (string, error) {
		p, err := sarama.NewSyncProducer(brokers, config(sarama.DefaultVersion))
		if err != nil {
			return "", err
		}
		defer p.Close()
		var ms []*sarama.ProducerMessage
		for q := int32(0); q < drv.GroupParts; q++ {
			for i := 0; i < drv.GroupPer; i++ {
				ms = append(ms, &sarama.ProducerMessage{Topic: groupTopic, Partition: q,
					Key: sarama.StringEncoder(fmt.Sprintf("p%d-%d", q, i)), Value: sarama.StringEncoder("v")})
			}
		}
		if err := p.SendMessages(ms); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d records on each of %d partitions", drv.GroupPer, drv.GroupParts), nil
	})
	if !ok {
		return
	}
	as := &drv.Assignments{}
	var a, b *member
	ok = drv.Run("ConsumerGroup: 2 members split the partitions", 45*time.Second, func() (string, error) {
		var err error
		if a, err = startMember("A", as, true); err != nil {
			return "", err
		}
		if b, err = startMember("B", as, true); err != nil {
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
	drv.Run("ConsumerGroup: MarkOffset + Commit", 30*time.Second, func() (string, error) {
		var last string
		for i := 0; i < 100; i++ {
			r, err := ca.ListConsumerGroupOffsets(group, map[string][]int32{groupTopic: {0, 1, 2, 3}})
			if err == nil {
				n := 0
				var got []string
				for p := int32(0); p < drv.GroupParts; p++ {
					if bl := r.GetBlock(groupTopic, p); bl != nil {
						got = append(got, fmt.Sprintf("%d:%d", p, bl.Offset))
						if bl.Offset == drv.GroupCommit {
							n++
						}
					}
				}
				last = strings.Join(got, " ")
				if n == drv.GroupParts {
					return "ClusterAdmin ListConsumerGroupOffsets: offset 5 on every partition", nil
				}
			} else {
				last = err.Error()
			}
			time.Sleep(200 * time.Millisecond)
		}
		return "", fmt.Errorf("committed offsets: %s", last)
	})
	drv.Run("ClusterAdmin ListConsumerGroups", 15*time.Second, func() (string, error) {
		gs, err := ca.ListConsumerGroups()
		if err != nil {
			return "", err
		}
		if gs[group] != "consumer" {
			return "", fmt.Errorf("%s: %q in %v", group, gs[group], gs)
		}
		return group + " listed, protocol type consumer", nil
	})
	drv.Run("ClusterAdmin DescribeConsumerGroups", 15*time.Second, func() (string, error) {
		ds, err := ca.DescribeConsumerGroups([]string{group})
		if err != nil {
			return "", err
		}
		if len(ds) != 1 {
			return "", fmt.Errorf("%d descriptions", len(ds))
		}
		d := ds[0]
		n := 0
		for _, m := range d.Members {
			ma, err := m.GetMemberAssignment()
			if err != nil {
				return "", err
			}
			n += len(ma.Topics[groupTopic])
		}
		if d.State != "Stable" || len(d.Members) != 2 || n != drv.GroupParts {
			return "", fmt.Errorf("state %s, %d members, %d partitions assigned", d.State, len(d.Members), n)
		}
		return fmt.Sprintf("Stable, 2 members, protocol %s, 4 partitions assigned", d.Protocol), nil
	})
	a.close()
	b.close()
	a, b = nil, nil
	drv.Run("ConsumerGroup: a new member resumes from the commits", 40*time.Second, func() (string, error) {
		c, err := startMember("C", &drv.Assignments{}, false)
		if err != nil {
			return "", err
		}
		defer c.close()
		want := drv.GroupParts * (drv.GroupPer - drv.GroupCommit)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			c.h.mu.Lock()
			n := 0
			for _, o := range c.h.read {
				n += len(o)
			}
			c.h.mu.Unlock()
			if n >= want {
				time.Sleep(500 * time.Millisecond) // nothing more may come
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.h.mu.Lock()
		defer c.h.mu.Unlock()
		for _, o := range c.h.read {
			sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		}
		if err := drv.CheckResumed(c.h.read); err != nil {
			return "", err
		}
		return "offsets 5..9 of each partition, each once", nil
	})
}

func waitTopics(ca sarama.ClusterAdmin, want map[string]int) error {
	var last string
	for i := 0; i < 100; i++ {
		ms, err := ca.DescribeTopics(keys(want))
		if err == nil {
			n := 0
			last = ""
			for _, m := range ms {
				if m.Err == sarama.ErrNoError && len(m.Partitions) == want[m.Name] {
					n++
				} else {
					last += fmt.Sprintf(" %s: %v, %d partitions", m.Name, m.Err, len(m.Partitions))
				}
			}
			if n == len(want) {
				return nil
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("DescribeTopics:%s", last)
}

func keys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func main() {
	b := flag.String("brokers", "127.0.0.1:9092", "bootstrap broker(s), comma separated")
	flag.Parse()
	brokers = strings.Split(*b, ",")
	versions := []struct {
		name string
		v    sarama.KafkaVersion
	}{{"default " + sarama.DefaultVersion.String(), sarama.DefaultVersion}, {"V3_6_0_0", sarama.V3_6_0_0}}

	ca, err := sarama.NewClusterAdmin(brokers, config(sarama.DefaultVersion))
	if err != nil {
		drv.Row("FAIL", "ClusterAdmin connect", err.Error())
		os.Exit(0)
	}
	defer ca.Close()
	retention := "3600000"
	topics := map[string]int{groupTopic: drv.GroupParts, "sarama-admin": 2, "sarama-async": 1,
		"sarama-idem": 1}
	for _, v := range versions {
		for _, c := range drv.Codecs {
			topics["sarama-"+strings.Fields(v.name)[0]+"-"+c] = 1
		}
	}
	ok := drv.Run("ClusterAdmin CreateTopic", 30*time.Second, func() (string, error) {
		for _, t := range keys(topics) {
			d := &sarama.TopicDetail{NumPartitions: int32(topics[t]), ReplicationFactor: 1}
			if t == "sarama-admin" {
				d.ConfigEntries = map[string]*string{"retention.ms": &retention}
			}
			if err := ca.CreateTopic(t, d, false); err != nil {
				return "", fmt.Errorf("%s: %v", t, err)
			}
		}
		err := ca.CreateTopic("sarama-admin", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			return "", fmt.Errorf("duplicate create: %v", err)
		}
		return fmt.Sprintf("%d topics; duplicate -> already exists", len(topics)), nil
	})
	if !ok {
		os.Exit(0)
	}
	drv.Run("ClusterAdmin DescribeTopics (metadata)", 20*time.Second, func() (string, error) {
		// Kafka's brokers learn of new topics asynchronously: wait.
		if err := waitTopics(ca, topics); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d topics with their partitions", len(topics)), nil
	})
	drv.Run("ClusterAdmin ListTopics", 20*time.Second, func() (string, error) {
		ts, err := ca.ListTopics()
		if err != nil {
			return "", err
		}
		d, ok := ts["sarama-admin"]
		if !ok || d.NumPartitions != 2 || d.ConfigEntries["retention.ms"] == nil ||
			*d.ConfigEntries["retention.ms"] != retention {
			return "", fmt.Errorf("sarama-admin: %+v (listed %v)", d, ok)
		}
		return fmt.Sprintf("%d topics; sarama-admin: 2 partitions, retention.ms", len(ts)), nil
	})
	drv.Run("ClusterAdmin DescribeConfig", 20*time.Second, func() (string, error) {
		es, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: "sarama-admin"})
		if err != nil {
			return "", err
		}
		for _, e := range es {
			if e.Name == "retention.ms" {
				if e.Value != retention {
					return "", fmt.Errorf("retention.ms = %q", e.Value)
				}
				return fmt.Sprintf("%d entries, retention.ms=%s", len(es), e.Value), nil
			}
		}
		return "", fmt.Errorf("no retention.ms among %d entries", len(es))
	})
	drv.Run("ClusterAdmin CreatePartitions", 20*time.Second, func() (string, error) {
		if err := ca.CreatePartitions("sarama-admin", 3, nil, false); err != nil {
			return "", err
		}
		if err := waitTopics(ca, map[string]int{"sarama-admin": 3}); err != nil {
			return "", err
		}
		return "sarama-admin 2 -> 3 partitions", nil
	})

	for _, v := range versions {
		for _, c := range drv.Codecs {
			v, c := v, c
			drv.Run(fmt.Sprintf("SyncProducer %s %s + consumer", v.name, c), 45*time.Second, func() (string, error) {
				conf := config(v.v)
				conf.Producer.Compression = codecs[c]
				t := "sarama-" + strings.Fields(v.name)[0] + "-" + c
				if err := syncProduce(conf, t, c); err != nil {
					return "", err
				}
				if err := readBack(conf, t, c); err != nil {
					return "", err
				}
				return fmt.Sprintf("%d records with keys and 2 headers at offsets 0..%d, read back in order", drv.N, drv.N-1), nil
			})
		}
	}
	drv.Run("AsyncProducer default zstd + consumer", 45*time.Second, func() (string, error) {
		conf := config(sarama.DefaultVersion)
		conf.Producer.Compression = sarama.CompressionZSTD
		if err := asyncProduce(conf, "sarama-async", "async"); err != nil {
			return "", err
		}
		if err := readBack(conf, "sarama-async", "async"); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d successes at offsets 0..%d, read back in order", drv.N, drv.N-1), nil
	})
	drv.Run("SyncProducer idempotent (InitProducerId, sequences) + consumer", 45*time.Second, func() (string, error) {
		conf := config(sarama.V3_6_0_0)
		conf.Producer.Idempotent = true
		conf.Net.MaxOpenRequests = 1 // sarama's rule for idempotence
		conf.Producer.Retry.Max = 5
		if err := syncProduce(conf, "sarama-idem", "idem"); err != nil {
			return "", err
		}
		if err := readBack(conf, "sarama-idem", "idem"); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d records at offsets 0..%d, read back in order", drv.N, drv.N-1), nil
	})
	drv.Run("Client GetOffset (ListOffsets)", 20*time.Second, func() (string, error) {
		cl, err := sarama.NewClient(brokers, config(sarama.DefaultVersion))
		if err != nil {
			return "", err
		}
		defer cl.Close()
		o, err := cl.GetOffset("sarama-default-gzip", 0, sarama.OffsetOldest)
		if err != nil {
			return "", err
		}
		n, err := cl.GetOffset("sarama-default-gzip", 0, sarama.OffsetNewest)
		if err != nil {
			return "", err
		}
		if o != 0 || n != drv.N {
			return "", fmt.Errorf("oldest %d newest %d", o, n)
		}
		return fmt.Sprintf("oldest 0, newest %d", drv.N), nil
	})

	groupScenarios(ca)

	drv.Run("ClusterAdmin DeleteTopic", 30*time.Second, func() (string, error) {
		if err := ca.DeleteTopic("sarama-admin"); err != nil {
			return "", err
		}
		for i := 0; i < 100; i++ {
			ts, err := ca.ListTopics()
			if _, ok := ts["sarama-admin"]; err == nil && !ok {
				return "sarama-admin gone from ListTopics", nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "", fmt.Errorf("sarama-admin still listed")
	})
	os.Exit(0)
}
