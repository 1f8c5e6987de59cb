// Command kafkago is the kafka-go v0.4 producer of
// tests/cluster/clients_test.py, configured as the seed's program writes
// it (kafka.TCP of the brokers, LeastBytes, Async, RequireAll and a
// Completion callback; kafka-go has no idempotent producer, its retries
// are MaxAttempts): N numbered records (key and value: the number), paced
// at -rate records/s.  One line per outcome on stdout:
//
//	SENT number (before the client is given it)
//	ACK number partition offset
//	FAIL number error
//	DONE acked failed
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

	"github.com/segmentio/kafka-go"
)

func main() {
	brokers := flag.String("brokers", "", "host:port,...")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("n", 1000, "records")
	rate := flag.Float64("rate", 200, "records per second")
	flag.Parse()
	var mu sync.Mutex
	acked, failed := 0, 0
	w := &kafka.Writer{
		Addr:         kafka.TCP(strings.Split(*brokers, ",")...),
		Topic:        *topic,
		Balancer:     &kafka.LeastBytes{},
		Async:        true,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  20,
		BatchTimeout: 10 * time.Millisecond,
		Completion: func(ms []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range ms {
				if err != nil {
					failed++
					fmt.Printf("FAIL %s %v\n", m.Value, err)
					continue
				}
				acked++
				fmt.Printf("ACK %s %d %d\n", m.Value, m.Partition, m.Offset)
			}
		},
	}
	pace := time.Duration(float64(time.Second) / *rate)
	next := time.Now()
	for i := 0; i < *n; i++ {
		k := []byte(strconv.Itoa(i))
		mu.Lock()
		fmt.Printf("SENT %d\n", i)
		mu.Unlock()
		if err := w.WriteMessages(context.Background(), kafka.Message{Key: k, Value: k}); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
		}
		next = next.Add(pace)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
	mu.Lock()
	fmt.Printf("DONE %d %d\n", acked, failed)
	mu.Unlock()
}
