// Command sarama is the sarama producer of tests/cluster/clients_test.py:
// an idempotent AsyncProducer (Idempotent, Net.MaxOpenRequests 1,
// WaitForAll, retries on) writing N numbered records (key and value: the
// number), paced at -rate records/s.  One line per outcome on stdout:
//
//	SENT number (before the client is given it)
//	ACK number partition offset
//	FAIL number error
//	DONE acked failed
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func main() {
	brokers := flag.String("brokers", "", "host:port,...")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("n", 1000, "records")
	rate := flag.Float64("rate", 200, "records per second")
	flag.Parse()
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = "kfk-clients-test"
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 50
	c.Producer.Retry.Backoff = 200 * time.Millisecond
	c.Metadata.Retry.Max = 50
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	p, err := sarama.NewAsyncProducer(strings.Split(*brokers, ","), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(2)
	}
	acked, failed := 0, 0
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for m := range p.Successes() {
			acked++
			fmt.Printf("ACK %s %d %d\n", m.Metadata, m.Partition, m.Offset)
		}
	}()
	go func() {
		defer wg.Done()
		for e := range p.Errors() {
			failed++
			fmt.Printf("FAIL %s %v\n", e.Msg.Metadata, e.Err)
		}
	}()
	pace := time.Duration(float64(time.Second) / *rate)
	next := time.Now()
	for i := 0; i < *n; i++ {
		k := strconv.Itoa(i)
		fmt.Printf("SENT %d\n", i)
		p.Input() <- &sarama.ProducerMessage{Topic: *topic, Key: sarama.StringEncoder(k),
			Value: sarama.StringEncoder(k), Metadata: k}
		next = next.Add(pace)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	p.AsyncClose()
	wg.Wait()
	fmt.Printf("DONE %d %d\n", acked, failed)
}
