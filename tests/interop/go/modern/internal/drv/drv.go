// Package drv holds what the Go-module interop drivers (franz, sarama,
// kafkago, seed) share: the result rows the shell tests read
// (tests/interop/lib.sh run_rows), a bounded runner for one scenario, the
// records every produce/consume scenario sends, and the group scenario's
// bookkeeping.
package drv

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Row prints one result: ROW<TAB>PASS|FAIL|SKIP<TAB>scenario<TAB>detail.
func Row(status, scenario, detail string) {
	detail = strings.NewReplacer("\n", " ", "\t", " ").Replace(detail)
	fmt.Printf("ROW\t%s\t%s\t%s\n", status, scenario, detail)
}

// Run runs fn with a bound and reports it; fn returns a detail or an error.
// A scenario that outlives its bound is reported failed and left behind.
func Run(scenario string, bound time.Duration, fn func() (string, error)) bool {
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
	case <-time.After(bound):
		err = fmt.Errorf("timed out after %s", bound)
	}
	if err != nil {
		Row("FAIL", scenario, err.Error())
		return false
	}
	Row("PASS", scenario, detail)
	return true
}

// Codecs are the compression codecs every client is run with.
var Codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// N is the number of records of a produce/consume scenario.
const N = 20

// Rec is one record of a produce/consume scenario.
type Rec struct {
	Key, Value string
	Headers    [][2]string
}

// Records are the N records for tag: keys, growing values, two headers.
func Records(tag string) []Rec {
	rs := make([]Rec, N)
	for i := range rs {
		rs[i] = Rec{Key: fmt.Sprintf("key-%d", i),
			Value:   fmt.Sprintf("value-%s-%d-%s", tag, i, strings.Repeat("z", i*11)),
			Headers: [][2]string{{"h1", "v1"}, {"codec", tag}}}
	}
	return rs
}

// Check compares what was read back (in order, with offsets) with want.
func Check(want, got []Rec, offsets []int64) error {
	if len(got) != len(want) {
		return fmt.Errorf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if offsets[i] != int64(i) {
			return fmt.Errorf("record %d at offset %d", i, offsets[i])
		}
		if got[i].Key != want[i].Key || got[i].Value != want[i].Value {
			return fmt.Errorf("record %d: key %q value %.30q", i, got[i].Key, got[i].Value)
		}
		if fmt.Sprint(got[i].Headers) != fmt.Sprint(want[i].Headers) {
			return fmt.Errorf("record %d: headers %v, want %v", i, got[i].Headers, want[i].Headers)
		}
	}
	return nil
}

// Group scenario: a topic of GroupParts partitions with GroupPer records
// each; members commit offset GroupCommit on every partition they read.
const (
	GroupParts  = 4
	GroupPer    = 10
	GroupCommit = 5
)

// Assignments tracks each member's latest assignment.
type Assignments struct {
	mu sync.Mutex
	m  map[string][]int32
}

// Set records member's current partitions.
func (a *Assignments) Set(member string, ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string][]int32{}
	}
	c := append([]int32(nil), ps...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	a.m[member] = c
}

// Split says whether the members' partitions are non-empty, disjoint and
// cover 0..parts-1, and describes them.
func (a *Assignments) Split(members []string, parts int) (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := map[int32]int{}
	var desc []string
	ok := true
	for _, m := range members {
		ps := a.m[m]
		if len(ps) == 0 {
			ok = false
		}
		for _, p := range ps {
			seen[p]++
		}
		desc = append(desc, fmt.Sprintf("%s %v", m, ps))
	}
	if len(seen) != parts {
		ok = false
	}
	for _, c := range seen {
		if c != 1 {
			ok = false
		}
	}
	return ok, strings.Join(desc, ", ")
}

// WaitSplit waits until Split holds and has held for a second.
func (a *Assignments) WaitSplit(members []string, parts int, bound time.Duration) (string, error) {
	deadline := time.Now().Add(bound)
	var since time.Time
	var desc string
	for time.Now().Before(deadline) {
		var ok bool
		ok, d := a.Split(members, parts)
		if ok && d == desc {
			if time.Since(since) >= time.Second {
				return d, nil
			}
		} else if ok {
			since = time.Now()
		}
		desc = d
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no stable split within %s: %s", bound, desc)
}

// CheckResumed checks what a new member read after the commits: offsets
// GroupCommit..GroupPer-1 of every partition, each once.
func CheckResumed(got map[int32][]int64) error {
	for p := int32(0); p < GroupParts; p++ {
		offs := got[p]
		if len(offs) != GroupPer-GroupCommit {
			return fmt.Errorf("partition %d: offsets %v, want %d..%d", p, offs, GroupCommit, GroupPer-1)
		}
		for i, o := range offs {
			if o != int64(GroupCommit+i) {
				return fmt.Errorf("partition %d: offsets %v, want %d..%d", p, offs, GroupCommit, GroupPer-1)
			}
		}
	}
	return nil
}
