// Command kafkago_group is the member program of
// tests/interop/groups_kafka_go_test.sh: segmentio/kafka-go's Reader with a
// GroupID, driven by groups_lib.py.
//
//	kafkago_group '{"op": "member", ...}'
//
// See groups_lib.py for the ops and the JSON lines it prints.  kafka-go
// 0.2.1 has no rebalance callback: the Reader tells its Logger about each
// rebalance ("rebalancing consumer group") and each new assignment
// ("subscribed to partitions: map[partition:offset ...]"), and this program
// turns those lines into events.  Commits are CommitMessages with
// CommitInterval 0, which waits for the OffsetCommit response.  kafka-go
// 0.2.1 exports no ListGroups/DescribeGroups and has no static membership.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
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

func opCreate(c *conf) {
	conn, err := kafka.Dial("tcp", c.Bootstrap)
	if err != nil {
		fatal(err)
	}
	defer conn.Close()
	err = conn.CreateTopics(kafka.TopicConfig{Topic: c.Topic, NumPartitions: c.Partitions,
		ReplicationFactor: 1})
	if err != nil {
		fatal(err)
	}
	// CreateTopics v0 answers before the partitions have leaders; wait
	// until each is writable.
	for p := 0; p < c.Partitions; p++ {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			lc, err := kafka.DialLeader(ctx, "tcp", c.Bootstrap, c.Topic, p)
			cancel()
			if err == nil {
				lc.Close()
				break
			}
			if time.Now().After(deadline) {
				fatal(fmt.Errorf("partition %d has no leader: %v", p, err))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	emit("created", nil)
}

func opProduce(c *conf) {
	byPart := map[int][]kafka.Message{}
	for i := c.Start; i < c.Start+c.N; i++ {
		p := i % c.Partitions
		byPart[p] = append(byPart[p], kafka.Message{Value: []byte(fmt.Sprintf("%s-%d", c.Prefix, i))})
	}
	for p, msgs := range byPart {
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var lc *kafka.Conn
			lc, err = kafka.DialLeader(ctx, "tcp", c.Bootstrap, c.Topic, p)
			cancel()
			if err == nil {
				lc.SetRequiredAcks(-1)
				lc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				_, err = lc.WriteMessages(msgs...)
				lc.Close()
			}
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			fatal(fmt.Errorf("produce to partition %d: %v", p, err))
		}
	}
	emit("produced", map[string]interface{}{"n": c.N})
}

// logWatcher turns the Reader's log lines into events.
type logWatcher struct{}

var subscribedRe = regexp.MustCompile(`(\d+):(-?\d+)`)

func (logWatcher) Write(b []byte) (int, error) {
	line := string(b)
	switch {
	case strings.Contains(line, "rebalancing consumer group"):
		emit("revoked", nil)
	case strings.Contains(line, "subscribed to partitions:"):
		parts := []int{}
		for _, m := range subscribedRe.FindAllStringSubmatch(line[strings.Index(line, "map["):], -1) {
			p, _ := strconv.Atoi(m[1])
			parts = append(parts, p)
		}
		sort.Ints(parts)
		emit("assigned", map[string]interface{}{"parts": parts})
	}
	fmt.Fprint(os.Stderr, "[kafka-go] ", line)
	return len(b), nil
}

func opMember(c *conf) {
	if c.InstanceID != "" {
		fatal(fmt.Errorf("kafka-go 0.2.1 has no static membership"))
	}
	balancers := []kafka.GroupBalancer{kafka.RangeGroupBalancer{}}
	if c.Strategy == "roundrobin" {
		balancers = []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}}
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{c.Bootstrap},
		GroupID:           c.Group,
		Topic:             c.Topic,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           100 * time.Millisecond,
		GroupBalancers:    balancers,
		SessionTimeout:    time.Duration(c.SessionMs) * time.Millisecond,
		HeartbeatInterval: time.Duration(c.HeartMs) * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
		CommitInterval:    0, // synchronous commits
		Logger:            log.New(logWatcher{}, "", 0),
		ErrorLogger:       log.New(os.Stderr, "[kafka-go error] ", log.Lmicroseconds),
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		n := 0
		for ctx.Err() == nil {
			if c.Max > 0 && n >= c.Max {
				<-ctx.Done()
				return
			}
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "fetch:", err)
					time.Sleep(100 * time.Millisecond)
				}
				continue
			}
			emit("rec", map[string]interface{}{"p": m.Partition, "o": m.Offset, "v": string(m.Value)})
			if c.Commit {
				if err := r.CommitMessages(ctx, m); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
				} else {
					emit("committed", map[string]interface{}{"p": m.Partition, "o": m.Offset})
				}
			}
			n++
			if c.Max > 0 && n >= c.Max {
				emit("done", nil)
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "close" {
			break
		}
	}
	cancel()
	<-stopped
	r.Close() // LeaveGroup
	emit("closed", nil)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kafkago_group JSON")
		os.Exit(2)
	}
	var c conf
	if err := json.Unmarshal([]byte(os.Args[1]), &c); err != nil {
		fatal(err)
	}
	switch c.Op {
	case "create":
		opCreate(&c)
	case "produce":
		opProduce(&c)
	case "admin":
		emit("unsupported", map[string]interface{}{"why": "kafka-go 0.2.1 exports no ListGroups/DescribeGroups"})
	case "offsets":
		emit("unsupported", map[string]interface{}{"why": "kafka-go 0.2.1 exports no OffsetFetch or DeleteGroups"})
	case "member":
		opMember(&c)
	default:
		fatal(fmt.Errorf("unknown op %q", c.Op))
	}
}
