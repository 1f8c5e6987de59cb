// Command franz drives franz-go (kgo and kadm) against one broker for
// tests/interop/franz_go_test.sh:
//
//	franz -brokers 127.0.0.1:PORT
//
// kadm creates the topics; kgo produces with keys and headers in every
// codec (idempotence disabled) and reads back; a kgo producer with its
// default settings (idempotent: InitProducerId first); a kgo consumer
// group (2 members split the partitions, commit, a new member resumes);
// kadm describe/list/delete calls.  One ROW line per scenario (drv.Row).
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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kfk/tests/interop/go/modern/internal/drv"
)

var seeds []string

const (
	groupTopic = "franz-group"
	group      = "franz-g"
)

func client(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("kfk-interop-franz"),
		kgo.FetchMaxWait(500 * time.Millisecond)}
	return kgo.NewClient(append(base, opts...)...)
}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

var codecs = map[string]kgo.CompressionCodec{"none": kgo.NoCompression(),
	"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}

// produce sends drv.Records(tag) to topic partition 0 with cl.
func produce(cl *kgo.Client, topic, tag string) error {
	var recs []*kgo.Record
	for _, r := range drv.Records(tag) {
		kr := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
		}
		recs = append(recs, kr)
	}
	ctx, cancel := ctxFor(20 * time.Second)
	defer cancel()
	// Half one by one, half in one call (one batch).
	for _, r := range recs[:drv.N/2] {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return fmt.Errorf("produce: %v", err)
		}
	}
	if err := cl.ProduceSync(ctx, recs[drv.N/2:]...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %v", err)
	}
	for i, r := range recs {
		if r.Offset != int64(i) {
			return fmt.Errorf("record %d acknowledged at offset %d", i, r.Offset)
		}
	}
	return nil
}

// readBack reads partition 0 of topic from the start and checks it (and,
// for pid >= 0, that every record carries that producer id).
func readBack(topic, tag string, pid int64) error {
	cl, err := client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := ctxFor(15 * time.Second)
	defer cancel()
	var got []drv.Rec
	var offs []int64
	var badPid int64
	for len(got) < drv.N {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("read %d of %d records in 15 s", len(got), drv.N)
		}
		for _, e := range fs.Errors() {
			return fmt.Errorf("fetch after %d records: %v", len(got), e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			g := drv.Rec{Key: string(r.Key), Value: string(r.Value)}
			for _, h := range r.Headers {
				g.Headers = append(g.Headers, [2]string{h.Key, string(h.Value)})
			}
			got = append(got, g)
			offs = append(offs, r.Offset)
			if pid >= 0 && r.ProducerID != pid {
				badPid = r.ProducerID
			}
		})
	}
	if badPid != 0 {
		return fmt.Errorf("a record carries producer id %d, want %d", badPid, pid)
	}
	return drv.Check(drv.Records(tag), got, offs)
}

// produceConsume produces and reads back; idem: the producer must have
// written with a producer id (InitProducerId) and the records carry it.
func produceConsume(topic, tag string, idem bool, opts ...kgo.Opt) (string, error) {
	cl, err := client(opts...)
	if err != nil {
		return "", err
	}
	err = produce(cl, topic, tag)
	var pid int64 = -1
	if err == nil && idem {
		ctx, cancel := ctxFor(5 * time.Second)
		pid, _, err = cl.ProducerID(ctx)
		cancel()
		if err == nil && pid < 0 {
			err = fmt.Errorf("the producer wrote without a producer id (franz-go found no InitProducerId)")
		}
	}
	cl.Close()
	if err != nil {
		return "", err
	}
	if err := readBack(topic, tag, pid); err != nil {
		return "", err
	}
	d := fmt.Sprintf("%d records with keys and 2 headers, acks at offsets 0..%d, read back in order", drv.N, drv.N-1)
	if idem {
		d += fmt.Sprintf(", producer id %d on every record", pid)
	}
	return d, nil
}

// member is one consumer of the group: it records its assignment, and
// commits offset GroupCommit on each partition once it has read that far.
type member struct {
	name    string
	cl      *kgo.Client
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	owned   map[int32]bool
	read    map[int32][]int64
	commits int
}

func startMember(name string, as *drv.Assignments) (*member, error) {
	m := &member{name: name, done: make(chan struct{}), owned: map[int32]bool{},
		read: map[int32][]int64{}}
	update := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			for _, p := range ps[groupTopic] {
				if add {
					m.owned[p] = true
				} else {
					delete(m.owned, p)
				}
			}
			var cur []int32
			for p := range m.owned {
				cur = append(cur, p)
			}
			m.mu.Unlock()
			if as != nil {
				as.Set(name, cur)
			}
		}
	}
	cl, err := client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(groupTopic),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(update(true)), kgo.OnPartitionsRevoked(update(false)),
		kgo.OnPartitionsLost(update(false)))
	if err != nil {
		return nil, err
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.read[r.Partition] = append(m.read[r.Partition], r.Offset)
				m.mu.Unlock()
				if as != nil && r.Offset == drv.GroupCommit-1 {
					if err := cl.CommitRecords(ctx, r); err == nil {
						m.mu.Lock()
						m.commits++
						m.mu.Unlock()
					}
				}
			})
		}
	}()
	return m, nil
}

func (m *member) close() {
	m.cancel()
	<-m.done
	m.cl.Close() // leaves the group
}

func groupScenarios(adm *kadm.Client) {
	// 4 partitions, GroupPer records each.
	ok := drv.Run("kgo: seed the group topic", 30*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(20 * time.Second)
		defer cancel()
		var recs []*kgo.Record
		for p := int32(0); p < drv.GroupParts; p++ {
			for i := 0; i < drv.GroupPer; i++ {
				recs = append(recs, &kgo.Record{Topic: groupTopic, Partition: p,
					Key: []byte(fmt.Sprintf("p%d-%d", p, i)), Value: []byte("v")})
			}
		}
		cl, err := client(kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			return "", err
		}
		defer cl.Close()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d records on each of %d partitions", drv.GroupPer, drv.GroupParts), nil
	})
	if !ok {
		return
	}
	as := &drv.Assignments{}
	var a, b *member
	ok = drv.Run("kgo group: 2 members split the partitions", 45*time.Second, func() (string, error) {
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
	drv.Run("kgo group: commit (CommitRecords)", 30*time.Second, func() (string, error) {
		var last string
		for i := 0; i < 100; i++ {
			ctx, cancel := ctxFor(5 * time.Second)
			offs, err := adm.FetchOffsets(ctx, group)
			cancel()
			if err == nil {
				n := 0
				var got []string
				for p := int32(0); p < drv.GroupParts; p++ {
					if o, ok := offs.Lookup(groupTopic, p); ok && o.Err == nil {
						got = append(got, fmt.Sprintf("%d:%d", p, o.At))
						if o.At == drv.GroupCommit {
							n++
						}
					}
				}
				last = strings.Join(got, " ")
				if n == drv.GroupParts {
					return "kadm FetchOffsets: offset 5 on every partition", nil
				}
			} else {
				last = err.Error()
			}
			time.Sleep(200 * time.Millisecond)
		}
		return "", fmt.Errorf("committed offsets: %s", last)
	})
	drv.Run("kadm ListGroups", 15*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		gs, err := adm.ListGroups(ctx)
		if err != nil {
			return "", err
		}
		g, ok := gs[group]
		if !ok || g.ProtocolType != "consumer" {
			return "", fmt.Errorf("%s: %+v (listed %v)", group, g, ok)
		}
		return fmt.Sprintf("%s listed, protocol type consumer, state %q", group, g.State), nil
	})
	drv.Run("kadm DescribeGroups", 15*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		ds, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return "", err
		}
		d := ds[group]
		if d.Err != nil {
			return "", d.Err
		}
		n := 0
		for _, ps := range d.AssignedPartitions() {
			n += len(ps)
		}
		if d.State != "Stable" || len(d.Members) != 2 || n != drv.GroupParts {
			return "", fmt.Errorf("state %s, %d members, %d partitions assigned", d.State, len(d.Members), n)
		}
		return fmt.Sprintf("Stable, 2 members, protocol %s, 4 partitions assigned", d.Protocol), nil
	})
	a.close()
	b.close()
	a, b = nil, nil
	drv.Run("kgo group: a new member resumes from the commits", 40*time.Second, func() (string, error) {
		c, err := startMember("C", nil)
		if err != nil {
			return "", err
		}
		defer c.close()
		want := drv.GroupParts * (drv.GroupPer - drv.GroupCommit)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			n := 0
			for _, o := range c.read {
				n += len(o)
			}
			c.mu.Unlock()
			if n >= want {
				time.Sleep(500 * time.Millisecond) // nothing more may come
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, o := range c.read {
			sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		}
		if err := drv.CheckResumed(c.read); err != nil {
			return "", err
		}
		return "offsets 5..9 of each partition, each once", nil
	})
}

func main() {
	b := flag.String("brokers", "127.0.0.1:9092", "bootstrap broker(s), comma separated")
	flag.Parse()
	seeds = strings.Split(*b, ",")

	cl, err := client()
	if err != nil {
		drv.Row("FAIL", "kgo client", err.Error())
		os.Exit(0)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	retention := "3600000"

	ok := drv.Run("kadm CreateTopics", 30*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(20 * time.Second)
		defer cancel()
		var ts []string
		for _, c := range drv.Codecs {
			ts = append(ts, "franz-"+c)
		}
		ts = append(ts, "franz-default")
		for _, t := range []struct {
			parts int32
			conf  map[string]*string
			names []string
		}{{1, nil, ts}, {drv.GroupParts, nil, []string{groupTopic}},
			{2, map[string]*string{"retention.ms": &retention}, []string{"franz-admin"}}} {
			rs, err := adm.CreateTopics(ctx, t.parts, 1, t.conf, t.names...)
			if err != nil {
				return "", err
			}
			if err := rs.Error(); err != nil {
				return "", err
			}
		}
		rs, err := adm.CreateTopics(ctx, 1, 1, nil, "franz-admin")
		if err != nil {
			return "", err
		}
		if e := rs["franz-admin"].Err; e == nil || !strings.Contains(e.Error(), "TOPIC_ALREADY_EXISTS") {
			return "", fmt.Errorf("duplicate create: %v", e)
		}
		return "9 topics; duplicate -> TOPIC_ALREADY_EXISTS", nil
	})
	if !ok {
		os.Exit(0)
	}
	drv.Run("kadm ListTopics (metadata)", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(15 * time.Second)
		defer cancel()
		// Kafka's brokers learn of a new topic from the controller
		// asynchronously: wait until the metadata shows it.
		var td kadm.TopicDetails
		var err error
		for i := 0; i < 100; i++ {
			td, err = adm.ListTopics(ctx)
			if err == nil && len(td["franz-admin"].Partitions) == 2 &&
				len(td[groupTopic].Partitions) == drv.GroupParts {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return "", err
		}
		d, ok := td["franz-admin"]
		if !ok || len(d.Partitions) != 2 || d.Partitions[0].Leader != 1 {
			return "", fmt.Errorf("franz-admin: %+v", d)
		}
		if g := td[groupTopic]; len(g.Partitions) != drv.GroupParts {
			return "", fmt.Errorf("%s: %d partitions", groupTopic, len(g.Partitions))
		}
		return fmt.Sprintf("%d topics; franz-admin: 2 partitions led by broker 1", len(td)), nil
	})
	drv.Run("kadm DescribeTopicConfigs", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(15 * time.Second)
		defer cancel()
		rcs, err := adm.DescribeTopicConfigs(ctx, "franz-admin")
		if err != nil {
			return "", err
		}
		rc, err := rcs.On("franz-admin", nil)
		if err != nil || rc.Err != nil {
			return "", fmt.Errorf("%v %v", err, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				if c.Value == nil || *c.Value != retention {
					return "", fmt.Errorf("retention.ms = %v", c.Value)
				}
				return fmt.Sprintf("%d entries, retention.ms=%s (source %s)", len(rc.Configs), *c.Value, c.Source), nil
			}
		}
		return "", fmt.Errorf("no retention.ms among %d entries", len(rc.Configs))
	})
	drv.Run("kadm CreatePartitions", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(15 * time.Second)
		defer cancel()
		rs, err := adm.CreatePartitions(ctx, 1, "franz-admin")
		if err != nil {
			return "", err
		}
		if e := rs["franz-admin"].Err; e != nil {
			return "", e
		}
		for i := 0; i < 50; i++ {
			td, err := adm.ListTopics(ctx, "franz-admin")
			if err == nil && len(td["franz-admin"].Partitions) == 3 {
				return "franz-admin 2 -> 3 partitions", nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "", fmt.Errorf("franz-admin does not show 3 partitions")
	})

	for _, c := range drv.Codecs {
		c := c
		drv.Run("kgo produce+consume "+c+" (DisableIdempotentWrite)", 45*time.Second, func() (string, error) {
			return produceConsume("franz-"+c, c, false, kgo.DisableIdempotentWrite(),
				kgo.ProducerBatchCompression(codecs[c]), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		})
	}
	drv.Run("kgo produce+consume, default settings (idempotent)", 45*time.Second, func() (string, error) {
		return produceConsume("franz-default", "default", true, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	})

	drv.Run("kadm ListStartOffsets/ListEndOffsets", 20*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(15 * time.Second)
		defer cancel()
		st, err := adm.ListStartOffsets(ctx, "franz-gzip")
		if err != nil {
			return "", err
		}
		en, err := adm.ListEndOffsets(ctx, "franz-gzip")
		if err != nil {
			return "", err
		}
		s, _ := st.Lookup("franz-gzip", 0)
		e, _ := en.Lookup("franz-gzip", 0)
		if s.Err != nil || e.Err != nil || s.Offset != 0 || e.Offset != drv.N {
			return "", fmt.Errorf("start %+v end %+v", s, e)
		}
		return fmt.Sprintf("franz-gzip: start 0, end %d", drv.N), nil
	})

	groupScenarios(adm)

	drv.Run("kadm DeleteTopics", 30*time.Second, func() (string, error) {
		ctx, cancel := ctxFor(25 * time.Second)
		defer cancel()
		rs, err := adm.DeleteTopics(ctx, "franz-admin")
		if err != nil {
			return "", err
		}
		if e := rs["franz-admin"].Err; e != nil {
			return "", e
		}
		for i := 0; i < 100; i++ {
			td, err := adm.ListTopics(ctx)
			if err == nil && !td.Has("franz-admin") {
				return "franz-admin gone from ListTopics", nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "", fmt.Errorf("franz-admin still listed")
	})
	os.Exit(0)
}
