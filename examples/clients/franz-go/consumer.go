package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pending is a record polled and not yet processed; epoch says an assignment epoch begins with it.
type pending struct {
	record *kgo.Record
	epoch  bool
}

type consumer struct {
	spec      *Spec
	out       *lines
	client    *kgo.Client
	buffer    []pending
	changed   atomic.Bool // a rebalance happened since the last poll that returned records
	joined    bool        // a poll of this process has returned records
	processed int64
}

// process is the application's processing: it takes process_ms, then each record is printed as
// processed (its key and value as they came, base64: the harness reads the envelope), with an epoch
// line before the record an assignment epoch begins with.
func (c *consumer) process(batch []pending) {
	if len(batch) == 0 {
		return
	}
	if c.spec.ProcessMs > 0 {
		time.Sleep(time.Duration(c.spec.ProcessMs) * time.Millisecond)
	}
	for _, p := range batch {
		if p.epoch {
			c.out.emit(map[string]any{"ev": "epoch"})
		}
		event := map[string]any{
			"ev": "processed", "partition": p.record.Partition, "offset": p.record.Offset,
			"value": base64.StdEncoding.EncodeToString(p.record.Value), "key": nil,
		}
		if p.record.Key != nil {
			event["key"] = base64.StdEncoding.EncodeToString(p.record.Key)
		}
		c.out.emit(event)
	}
	c.processed += int64(len(batch))
}

// commit commits what was polled so far; false when it failed (the records come again).
func (c *consumer) commit(ctx context.Context) bool {
	if err := c.client.CommitUncommittedOffsets(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "franz-go driver: commit failed, the records will be delivered again: %v\n", err)
		return false
	}
	return true
}

// flush processes the buffer, then (after_process) commits it.
func (c *consumer) flush(ctx context.Context) {
	batch := c.buffer
	c.buffer = nil
	c.process(batch)
	if c.spec.Strategy == "after_process" && len(batch) > 0 {
		c.commit(ctx)
	}
}

// rewind puts the poll's partitions back at its first records, so that a poll whose commit failed is
// delivered again instead of skipped (called before AllowRebalance, as franz-go asks).
func (c *consumer) rewind(records []*kgo.Record) {
	first := map[string]map[int32]kgo.EpochOffset{c.spec.Topic: {}}
	for _, r := range records {
		if _, seen := first[r.Topic][r.Partition]; !seen {
			first[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset}
		}
	}
	c.client.SetOffsets(first)
}

// handle is one poll that returned records, by the strategy.
func (c *consumer) handle(ctx context.Context, records []*kgo.Record) {
	batch := make([]pending, len(records))
	for i, r := range records {
		batch[i] = pending{record: r}
	}
	// A new assignment starts an epoch after the rows already buffered (they were read before it);
	// the first one of a process does not: the harness marks the epoch each start begins.
	if c.changed.Swap(false) && c.joined {
		batch[0].epoch = true
	}
	c.joined = true
	if c.spec.Strategy == "before_process" {
		// Commit, then process: a poll whose commit failed is not processed but delivered again.
		if !c.commit(ctx) {
			c.rewind(records)
			return
		}
		c.process(batch)
		return
	}
	c.buffer = append(c.buffer, batch...)
	if len(c.buffer) >= c.spec.BatchSize {
		c.flush(ctx)
	}
}

func runConsumer(spec *Spec, out *lines, stop <-chan struct{}) int64 {
	if spec.Strategy != "auto" && spec.Strategy != "after_process" && spec.Strategy != "before_process" {
		usage("commit strategy %s is not one this driver offers (auto, after_process, before_process)", spec.Strategy)
	}
	c := &consumer{spec: spec, out: out}
	// the harness's default reset, before the settings (which may say latest)
	opts := append([]kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, options(spec, consumerKeys)...)
	opts = append(opts,
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(spec.Topic),
		kgo.BlockRebalanceOnPoll(), // as with the Java client: no rebalance between a poll and its commit
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { c.changed.Store(true) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			c.changed.Store(true)
			if spec.Strategy == "auto" {
				_ = cl.CommitUncommittedOffsets(ctx) // what auto-commit does on a revoke
			}
		}),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { c.changed.Store(true) }),
	)
	// Auto-commit follows the strategy, unless the settings turn it off.
	if spec.Strategy != "auto" || strings.TrimSpace(strings.ToLower(spec.Settings["enable.auto.commit"])) == "false" {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		usage("cannot make a franz-go consumer: %v", err)
	}
	c.client = client
	maxRecords := 500
	if v, ok := spec.Settings["max.poll.records"]; ok {
		if maxRecords, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || maxRecords < 1 {
			usage("consumer setting max.poll.records=%q is invalid", v)
		}
	}
	ctx := context.Background()
	lastRecord := time.Now()
	for running := true; running; {
		select {
		case <-stop:
			running = false
			continue
		default:
		}
		pollCtx, cancel := context.WithTimeout(ctx, time.Duration(spec.PollTimeoutMs)*time.Millisecond)
		fetches := client.PollRecords(pollCtx, maxRecords)
		cancel()
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fmt.Fprintf(os.Stderr, "franz-go driver: fetch %s/%d: %v\n", topic, partition, err)
			}
		})
		records := fetches.Records()
		if len(records) == 0 {
			if spec.IdleExitS != nil && time.Since(lastRecord).Seconds() > *spec.IdleExitS {
				running = false
			} else if spec.Strategy != "before_process" && len(c.buffer) > 0 {
				c.flush(ctx) // a quiet topic must not strand a partial batch
			}
			client.AllowRebalance()
			continue
		}
		lastRecord = time.Now()
		out.emit(map[string]any{"ev": "polled", "count": len(records)})
		c.handle(ctx, records)
		client.AllowRebalance()
	}
	// A clean stop: process what is buffered, commit it (auto: the client's close does), leave the group.
	c.flush(ctx)
	if spec.Strategy == "auto" {
		c.commit(ctx)
	}
	client.CloseAllowingRebalance()
	return c.processed
}
