// Command sarama_group is the member program of
// tests/interop/groups_sarama_test.sh: sarama's consumer group API
// (Config.Version V2_1_0_0, or "version" of the configuration) driven by
// groups_lib.py.
//
//	sarama_group '{"op": "member", ...}'
//
// See groups_lib.py for the ops and the JSON lines it prints.  Assignments
// come from ConsumerGroupHandler.Setup (session.Claims()), revocations from
// Cleanup.  sarama 1.22 commits marked offsets in the background every
// Consumer.Offsets.CommitInterval and has no synchronous commit, so the
// "committed" event is printed once OffsetFetch (ClusterAdmin
// ListConsumerGroupOffsets) shows the offset.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type conf struct {
	Op         string `json:"op"`
	Bootstrap  string `json:"bootstrap"`
	Topic      string `json:"topic"`
	Group      string `json:"group"`
	Name       string `json:"name"`
	SessionMs  int    `json:"session_ms"`
	HeartMs    int    `json:"heartbeat_ms"`
	InstanceID string `json:"instance_id"`
	Commit     bool   `json:"commit"`
	Max        int    `json:"max"`
	Partitions int    `json:"partitions"`
	N          int    `json:"n"`
	Prefix     string `json:"prefix"`
	Start      int    `json:"start"`
	Version    string `json:"version"`
	Strategy   string `json:"strategy"`
}

var outMu sync.Mutex

func emit(ev string, kv map[string]interface{}) {
	if kv == nil {
		kv = map[string]interface{}{}
	}
	kv["ev"] = ev
	if _, ok := kv["t"]; !ok {
		kv["t"] = float64(time.Now().UnixNano()) / 1e6
	}
	b, _ := json.Marshal(kv)
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

func fatal(err error) {
	emit("error", map[string]interface{}{"why": err.Error()})
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func config(c *conf) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	if c.Version != "" {
		v, err := sarama.ParseKafkaVersion(c.Version)
		if err != nil {
			fatal(err)
		}
		cfg.Version = v
	}
	cfg.ClientID = "sarama-group"
	if c.Name != "" {
		cfg.ClientID = c.Name
	}
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	if c.SessionMs > 0 {
		cfg.Consumer.Group.Session.Timeout = time.Duration(c.SessionMs) * time.Millisecond
	}
	if c.HeartMs > 0 {
		cfg.Consumer.Group.Heartbeat.Interval = time.Duration(c.HeartMs) * time.Millisecond
	}
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	switch c.Strategy {
	case "", "range":
		cfg.Consumer.Group.Rebalance.Strategy = sarama.BalanceStrategyRange
	case "roundrobin":
		cfg.Consumer.Group.Rebalance.Strategy = sarama.BalanceStrategyRoundRobin
	default:
		fatal(fmt.Errorf("unknown strategy %q", c.Strategy))
	}
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

func opCreate(c *conf) {
	admin, err := sarama.NewClusterAdmin([]string{c.Bootstrap}, config(c))
	if err != nil {
		fatal(err)
	}
	defer admin.Close()
	err = admin.CreateTopic(c.Topic, &sarama.TopicDetail{NumPartitions: int32(c.Partitions),
		ReplicationFactor: 1}, false)
	if err != nil {
		fatal(err)
	}
	emit("created", nil)
}

func opProduce(c *conf) {
	p, err := sarama.NewSyncProducer([]string{c.Bootstrap}, config(c))
	if err != nil {
		fatal(err)
	}
	defer p.Close()
	for i := c.Start; i < c.Start+c.N; i++ {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: c.Topic,
			Partition: int32(i % c.Partitions),
			Value:     sarama.StringEncoder(fmt.Sprintf("%s-%d", c.Prefix, i))})
		if err != nil {
			fatal(err)
		}
	}
	emit("produced", map[string]interface{}{"n": c.N})
}

func opAdmin(c *conf) {
	admin, err := sarama.NewClusterAdmin([]string{c.Bootstrap}, config(c))
	if err != nil {
		fatal(err)
	}
	defer admin.Close()
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		fatal(fmt.Errorf("ListConsumerGroups: %v", err))
	}
	list := []map[string]interface{}{}
	for g, t := range groups {
		list = append(list, map[string]interface{}{"group": g, "protocol_type": t})
	}
	ds, err := admin.DescribeConsumerGroups([]string{c.Group})
	if err != nil {
		fatal(fmt.Errorf("DescribeConsumerGroups: %v", err))
	}
	if len(ds) != 1 {
		fatal(fmt.Errorf("DescribeConsumerGroups returned %d groups", len(ds)))
	}
	d := ds[0]
	members := []map[string]interface{}{}
	for id, m := range d.Members {
		a, err := m.GetMemberAssignment()
		if err != nil {
			fatal(fmt.Errorf("member %s assignment: %v", id, err))
		}
		parts := []int32{}
		if a != nil {
			parts = append(parts, a.Topics[c.Topic]...)
		}
		members = append(members, map[string]interface{}{"member_id": id,
			"client_id": m.ClientId, "parts": parts})
	}
	emit("admin", map[string]interface{}{"list": list, "describe": map[string]interface{}{
		"state": d.State, "protocol_type": d.ProtocolType, "protocol": d.Protocol,
		"members": members}})
}

// opOffsets: committed offsets through ClusterAdmin; sarama 1.22 has no
// DeleteGroups.
func opOffsets(c *conf) {
	admin, err := sarama.NewClusterAdmin([]string{c.Bootstrap}, config(c))
	if err != nil {
		fatal(err)
	}
	defer admin.Close()
	parts := []int32{}
	for p := 0; p < c.Partitions; p++ {
		parts = append(parts, int32(p))
	}
	resp, err := admin.ListConsumerGroupOffsets(c.Group, map[string][]int32{c.Topic: parts})
	if err != nil {
		fatal(fmt.Errorf("ListConsumerGroupOffsets: %v", err))
	}
	offsets := map[string]int64{}
	for _, p := range parts {
		if b := resp.GetBlock(c.Topic, p); b != nil {
			offsets[fmt.Sprint(p)] = b.Offset
		}
	}
	emit("offsets", map[string]interface{}{"offsets": offsets, "deleted": nil,
		"why": "sarama 1.22 has no DeleteConsumerGroup"})
}

type handler struct {
	c       *conf
	mu      sync.Mutex
	n       int
	done    bool
	pending map[int32]int64 // partition -> next offset to be committed
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	parts := append([]int32{}, s.Claims()[h.c.Topic]...)
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	emit("assigned", map[string]interface{}{"parts": parts, "gen": s.GenerationID()})
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	emit("revoked", nil)
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		h.mu.Lock()
		done := h.done
		h.mu.Unlock()
		if done {
			<-s.Context().Done()
			return nil
		}
		select {
		case <-s.Context().Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			if h.done { // another partition reached max meanwhile
				h.mu.Unlock()
				continue
			}
			emit("rec", map[string]interface{}{"p": m.Partition, "o": m.Offset, "v": string(m.Value)})
			s.MarkMessage(m, "")
			h.pending[m.Partition] = m.Offset + 1
			h.n++
			if h.c.Max > 0 && h.n >= h.c.Max {
				h.done = true
			}
			last := h.done
			h.mu.Unlock()
			if last {
				go h.confirm()
			}
		}
	}
}

// confirm waits until OffsetFetch shows every marked offset, then prints
// "committed" for each and "done".
func (h *handler) confirm() {
	admin, err := sarama.NewClusterAdmin([]string{h.c.Bootstrap}, config(h.c))
	if err != nil {
		fatal(err)
	}
	defer admin.Close()
	h.mu.Lock()
	want := map[int32]int64{}
	parts := []int32{}
	for p, o := range h.pending {
		want[p] = o
		parts = append(parts, p)
	}
	h.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := admin.ListConsumerGroupOffsets(h.c.Group, map[string][]int32{h.c.Topic: parts})
		ok := err == nil
		if ok {
			for p, o := range want {
				b := resp.GetBlock(h.c.Topic, p)
				if b == nil || b.Offset != o {
					ok = false
				}
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			fatal(fmt.Errorf("marked offsets %v not committed after 15 s (%v)", want, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for p, o := range want {
		emit("committed", map[string]interface{}{"p": p, "o": o - 1})
	}
	emit("done", nil)
}

func opMember(c *conf) {
	if c.InstanceID != "" {
		fatal(fmt.Errorf("sarama 1.22 has no static membership"))
	}
	group, err := sarama.NewConsumerGroup([]string{c.Bootstrap}, c.Group, config(c))
	if err != nil {
		fatal(err)
	}
	go func() {
		for err := range group.Errors() {
			fmt.Fprintln(os.Stderr, "group error:", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	h := &handler{c: c, pending: map[int32]int64{}}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{c.Topic}, h); err != nil {
				fmt.Fprintln(os.Stderr, "consume:", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	// Close on "close" or end of file.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "close" {
			break
		}
	}
	cancel()
	<-stopped
	if err := group.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
	emit("closed", nil)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sarama_group JSON")
		os.Exit(2)
	}
	var c conf
	if err := json.Unmarshal([]byte(os.Args[1]), &c); err != nil {
		fatal(err)
	}
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	switch c.Op {
	case "create":
		opCreate(&c)
	case "produce":
		opProduce(&c)
	case "admin":
		opAdmin(&c)
	case "offsets":
		opOffsets(&c)
	case "member":
		opMember(&c)
	default:
		fatal(fmt.Errorf("unknown op %q", c.Op))
	}
}
