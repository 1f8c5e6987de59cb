// Command franz is the franz-go producer of tests/cluster/clients_test.py:
// N numbered records (key and value: the number) to one topic, paced at
// -rate records/s, with franz-go's defaults (idempotent, acks=all,
// unlimited retries).  One line per outcome on stdout:
//
//	SENT number (before the client is given it)
//	ACK number partition offset
//	FAIL number error
//	DONE acked failed
//
// With -consume it then reads the topic back as a member of a consumer
// group and prints "READ number partition offset" for each record, until
// it has read every acknowledged number (or -timeout).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "host:port,...")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("n", 1000, "records")
	rate := flag.Float64("rate", 200, "records per second")
	consume := flag.Bool("consume", false, "read back through a group")
	timeout := flag.Duration("timeout", 120*time.Second, "bound of the read back")
	flag.Parse()
	seeds := strings.Split(*brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(*topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	acked, failed := 0, 0
	ackedSet := make(map[int]bool)
	pace := time.Duration(float64(time.Second) / *rate)
	next := time.Now()
	for i := 0; i < *n; i++ {
		k := []byte(strconv.Itoa(i))
		num := i
		mu.Lock()
		fmt.Printf("SENT %d\n", i)
		mu.Unlock()
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Key: k, Value: k},
			func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					fmt.Printf("FAIL %d %v\n", num, err)
					return
				}
				acked++
				ackedSet[num] = true
				fmt.Printf("ACK %d %d %d\n", num, r.Partition, r.Offset)
			})
		next = next.Add(pace)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	wg.Wait()
	fmt.Printf("DONE %d %d\n", acked, failed)
	cl.Close()
	if *consume {
		os.Exit(readBack(seeds, *topic, ackedSet, *timeout))
	}
}

// readBack consumes the topic from the start in a fresh group until every
// acknowledged number was read.
func readBack(seeds []string, topic string, want map[int]bool, timeout time.Duration) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup("clients-test-"+topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 2
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	left := len(want)
	seen := make(map[int]bool)
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fmt.Printf("READDONE incomplete %d\n", left)
			return 1
		}
		fs.EachRecord(func(r *kgo.Record) {
			num, err := strconv.Atoi(string(r.Value))
			if err != nil {
				return
			}
			fmt.Printf("READ %d %d %d\n", num, r.Partition, r.Offset)
			if want[num] && !seen[num] {
				seen[num] = true
				left--
			}
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "commit:", err)
		}
	}
	fmt.Printf("READDONE complete %d\n", len(seen))
	return 0
}
