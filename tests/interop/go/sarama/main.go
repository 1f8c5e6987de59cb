// Command sarama drives sarama (Shopify/sarama as packaged by Debian)
// against a kfkd for tests/interop/sarama_test.sh.
//
//	sarama -brokers 127.0.0.1:PORT
//
// It runs every scenario and prints one line per scenario:
//
//	ROW<TAB>PASS|FAIL|SKIP<TAB>scenario<TAB>detail
//
// and exits 0 (the shell script decides from the rows).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/Shopify/sarama"
)

const n = 20

var brokers []string

func row(status, scenario, detail string) {
	detail = strings.ReplaceAll(detail, "\n", " ")
	detail = strings.ReplaceAll(detail, "\t", " ")
	fmt.Printf("ROW\t%s\t%s\t%s\n", status, scenario, detail)
}

// run runs fn and reports it; fn returns a detail string or an error.
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

func config(version sarama.KafkaVersion, defaultVersion bool) *sarama.Config {
	c := sarama.NewConfig()
	if !defaultVersion {
		c.Version = version
	}
	c.ClientID = "kfk-interop-sarama"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Retry.Max = 5
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 200 * time.Millisecond
	return c
}

type rec struct {
	key, value []byte
	headers    []sarama.RecordHeader
}

func records(tag string, withHeaders bool) []rec {
	rs := make([]rec, n)
	for i := range rs {
		rs[i].key = []byte(fmt.Sprintf("key-%d", i))
		rs[i].value = []byte(fmt.Sprintf("value-%s-%d-%s", tag, i, strings.Repeat("z", i*9)))
		if withHeaders {
			rs[i].headers = []sarama.RecordHeader{
				{Key: []byte("h1"), Value: []byte("v1")},
				{Key: []byte("codec"), Value: []byte(tag)},
			}
		}
	}
	return rs
}

// produceConsume sends n keyed records with a SyncProducer, then reads
// them back from the oldest offset with a partition consumer.
func produceConsume(conf *sarama.Config, topic string, codec sarama.CompressionCodec,
	tag string, withHeaders bool) (string, error) {
	conf.Producer.Compression = codec
	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		return "", fmt.Errorf("client: %v", err)
	}
	defer client.Close()
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return "", fmt.Errorf("producer: %v", err)
	}
	rs := records(tag, withHeaders)
	msgs := make([]*sarama.ProducerMessage, n)
	for i, r := range rs {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key: sarama.ByteEncoder(r.key), Value: sarama.ByteEncoder(r.value),
			Headers: r.headers}
	}
	// Half one by one, half in one SendMessages call (one batch).
	for _, m := range msgs[:n/2] {
		if _, _, err := p.SendMessage(m); err != nil {
			p.Close()
			return "", fmt.Errorf("SendMessage: %v", err)
		}
	}
	if err := p.SendMessages(msgs[n/2:]); err != nil {
		p.Close()
		return "", fmt.Errorf("SendMessages: %v", err)
	}
	p.Close()
	offs := make([]int, n)
	for i, m := range msgs {
		offs[i] = int(m.Offset)
	}
	if !sort.IntsAreSorted(offs) || offs[0] != 0 || offs[n-1] != n-1 {
		return "", fmt.Errorf("producer offsets %v", offs)
	}

	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return "", fmt.Errorf("consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return "", fmt.Errorf("ConsumePartition: %v", err)
	}
	defer pc.Close()
	deadline := time.After(15 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case m := <-pc.Messages():
			if m.Offset != int64(i) || !bytes.Equal(m.Key, rs[i].key) ||
				!bytes.Equal(m.Value, rs[i].value) {
				return "", fmt.Errorf("record %d: offset %d key %q", i, m.Offset, m.Key)
			}
			if withHeaders {
				if len(m.Headers) != len(rs[i].headers) {
					return "", fmt.Errorf("record %d: %d headers", i, len(m.Headers))
				}
				for k, h := range m.Headers {
					if !bytes.Equal(h.Key, rs[i].headers[k].Key) ||
						!bytes.Equal(h.Value, rs[i].headers[k].Value) {
						return "", fmt.Errorf("record %d header %d: %q=%q", i, k, h.Key, h.Value)
					}
				}
			}
		case e := <-pc.Errors():
			return "", fmt.Errorf("consume after %d records: %v", i, e)
		case <-deadline:
			return "", fmt.Errorf("read %d of %d records in 15 s", i, n)
		}
	}
	h := ""
	if withHeaders {
		h = ", 2 headers each"
	}
	return fmt.Sprintf("%d records%s, read back in order", n, h), nil
}

func getOffset(conf *sarama.Config, topic string) (string, error) {
	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		return "", err
	}
	defer client.Close()
	newest, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		return "", fmt.Errorf("newest: %v", err)
	}
	oldest, err := client.GetOffset(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return "", fmt.Errorf("oldest: %v", err)
	}
	if oldest != 0 || newest != n {
		return "", fmt.Errorf("oldest %d newest %d, want 0 %d", oldest, newest, n)
	}
	return fmt.Sprintf("oldest 0, newest %d", n), nil
}

func admin(conf *sarama.Config) {
	var ca sarama.ClusterAdmin
	run("ClusterAdmin connect", func() (string, error) {
		var err error
		ca, err = sarama.NewClusterAdmin(brokers, conf)
		if err != nil {
			return "", err
		}
		return "controller found", nil
	})
	if ca == nil {
		return
	}
	defer ca.Close()
	retention := "3600000"
	run("ClusterAdmin CreateTopic", func() (string, error) {
		err := ca.CreateTopic("sarama-admin", &sarama.TopicDetail{NumPartitions: 3,
			ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &retention}}, false)
		if err != nil {
			return "", err
		}
		if err := ca.CreateTopic("sarama-admin2", &sarama.TopicDetail{NumPartitions: 1,
			ReplicationFactor: 1}, false); err != nil {
			return "", err
		}
		err = ca.CreateTopic("sarama-admin", &sarama.TopicDetail{NumPartitions: 1,
			ReplicationFactor: 1}, false)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			return "", fmt.Errorf("duplicate create: %v", err)
		}
		return "3 + 1 partitions; duplicate -> already exists", nil
	})
	run("ClusterAdmin ListTopics", func() (string, error) {
		ts, err := ca.ListTopics()
		if err != nil {
			return "", err
		}
		d, ok := ts["sarama-admin"]
		if !ok || d.NumPartitions != 3 {
			return "", fmt.Errorf("sarama-admin: %+v (present %v)", d, ok)
		}
		if _, ok := ts["sarama-admin2"]; !ok {
			return "", fmt.Errorf("sarama-admin2 not listed")
		}
		return fmt.Sprintf("%d topics, sarama-admin has 3 partitions", len(ts)), nil
	})
	run("ClusterAdmin DescribeConfig", func() (string, error) {
		es, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource,
			Name: "sarama-admin"})
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
	run("ClusterAdmin DeleteTopic", func() (string, error) {
		if err := ca.DeleteTopic("sarama-admin2"); err != nil {
			return "", err
		}
		ts, err := ca.ListTopics()
		if err != nil {
			return "", err
		}
		if _, ok := ts["sarama-admin2"]; ok {
			return "", fmt.Errorf("sarama-admin2 still listed")
		}
		return "sarama-admin2 gone from ListTopics", nil
	})
}

func main() {
	b := flag.String("brokers", "127.0.0.1:9092", "bootstrap broker(s), comma separated")
	flag.Parse()
	brokers = strings.Split(*b, ",")

	type codec struct {
		name string
		c    sarama.CompressionCodec
	}
	old := []codec{{"none", sarama.CompressionNone}, {"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy}}
	modern := append(old, codec{"lz4", sarama.CompressionLZ4})

	// Default Config.Version (V0_8_2_0): Produce v0 / Fetch v0 / MessageSet v0.
	def := sarama.NewConfig().Version
	for _, c := range old {
		c := c
		run(fmt.Sprintf("default version %s: SyncProducer + consumer, %s", def, c.name),
			func() (string, error) {
				return produceConsume(config(def, true), "sarama-v0-"+c.name, c.c, c.name, false)
			})
	}
	run(fmt.Sprintf("default version %s: GetOffset", def), func() (string, error) {
		return getOffset(config(def, true), "sarama-v0-gzip")
	})
	// V2_1_0_0: RecordBatch v2 with headers.
	for _, c := range modern {
		c := c
		run(fmt.Sprintf("V2_1_0_0: SyncProducer (headers) + consumer, %s", c.name),
			func() (string, error) {
				return produceConsume(config(sarama.V2_1_0_0, false), "sarama-v2-"+c.name, c.c, c.name, true)
			})
	}
	// sarama 1.22.1 sends zstd in Produce v3 (its newest); Kafka accepts
	// zstd only from Produce v7 on and answers UNSUPPORTED_COMPRESSION_TYPE,
	// and so does kfkd.  Check that answer (and that nothing was appended).
	run("V2_1_0_0: zstd in Produce v3 refused as by Kafka", func() (string, error) {
		_, err := produceConsume(config(sarama.V2_1_0_0, false), "sarama-v2-zstd",
			sarama.CompressionZSTD, "zstd", true)
		if err == nil {
			return "", fmt.Errorf("zstd in Produce v3 was accepted (Kafka refuses it)")
		}
		if !strings.Contains(err.Error(), sarama.ErrUnsupportedCompressionType.Error()) {
			return "", fmt.Errorf("want UNSUPPORTED_COMPRESSION_TYPE, got %v", err)
		}
		client, err := sarama.NewClient(brokers, config(sarama.V2_1_0_0, false))
		if err != nil {
			return "", err
		}
		defer client.Close()
		newest, err := client.GetOffset("sarama-v2-zstd", 0, sarama.OffsetNewest)
		if err != nil || newest != 0 {
			return "", fmt.Errorf("after the refused produce: newest offset %d (%v)", newest, err)
		}
		return "UNSUPPORTED_COMPRESSION_TYPE (76), nothing appended", nil
	})
	run("V2_1_0_0: GetOffset", func() (string, error) {
		return getOffset(config(sarama.V2_1_0_0, false), "sarama-v2-snappy")
	})
	// Records written as v2 batches, read with the default (Fetch v0) config.
	run(fmt.Sprintf("default version %s reads v2 batches (down-conversion)", def),
		func() (string, error) {
			conf := config(def, true)
			client, err := sarama.NewClient(brokers, conf)
			if err != nil {
				return "", err
			}
			defer client.Close()
			cons, err := sarama.NewConsumerFromClient(client)
			if err != nil {
				return "", err
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition("sarama-v2-lz4", 0, 5)
			if err != nil {
				return "", err
			}
			defer pc.Close()
			for i := 5; i < n; i++ {
				select {
				case m := <-pc.Messages():
					if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("key-%d", i) {
						return "", fmt.Errorf("got offset %d key %q, want %d", m.Offset, m.Key, i)
					}
				case e := <-pc.Errors():
					return "", e
				case <-time.After(10 * time.Second):
					return "", fmt.Errorf("record %d not read in 10 s", i)
				}
			}
			return "offsets 5.." + fmt.Sprint(n-1) + " of an lz4 v2 topic", nil
		})
	admin(config(sarama.V2_1_0_0, false))
	os.Exit(0)
}
