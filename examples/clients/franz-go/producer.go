package main

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envelope is the record value of docs/ledgers.md:
// kc2;<run-id>;<producer-id>;<seq>;<crc32 as 8 hex>;<payload>, the checksum over the header before
// it, "k" and the key (when there is one) and the payload.
type envelope struct {
	prefix  []byte
	payload []byte
}

func newEnvelope(spec *Spec) envelope {
	payload := []byte(strings.Repeat("x", spec.PayloadSize))
	return envelope{[]byte("kc2;" + spec.RunID + ";" + spec.ID + ";"), payload}
}

func (e envelope) value(seq int64, key []byte) []byte {
	head := append(append([]byte{}, e.prefix...), strconv.FormatInt(seq, 10)+";"...)
	crc := crc32.ChecksumIEEE(head)
	if key != nil {
		crc = crc32.Update(crc32.Update(crc, crc32.IEEETable, []byte("k")), crc32.IEEETable, key)
	}
	crc = crc32.Update(crc, crc32.IEEETable, e.payload)
	return append(append(head, fmt.Sprintf("%08x;", crc)...), e.payload...)
}

func keyOf(spec *Spec, seq int64) []byte {
	switch spec.Keys {
	case "none":
		return nil
	case "pinned":
		return []byte(spec.ID)
	}
	return []byte(strconv.FormatInt(seq, 10))
}

// errorName is the name an error class is known by in the ledger: Kafka's own error name for an error
// the broker returned, else the franz-go variable's name.
func errorName(err error) string {
	var kafka *kerr.Error
	if errors.As(err, &kafka) {
		return kafka.Message
	}
	sentinels := []struct {
		name string
		err  error
	}{
		{"ErrRecordTimeout", kgo.ErrRecordTimeout}, {"ErrRecordRetries", kgo.ErrRecordRetries},
		{"ErrMaxBuffered", kgo.ErrMaxBuffered}, {"ErrAborting", kgo.ErrAborting},
		{"ErrClientClosed", kgo.ErrClientClosed}, {"DeadlineExceeded", context.DeadlineExceeded},
		{"Canceled", context.Canceled},
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", err), "*")
}

type producer struct {
	spec    *Spec
	out     *lines
	client  *kgo.Client
	env     envelope
	stop    <-chan struct{}
	resumed int64
	started time.Time
}

// budget is how many records may be sent now: 0 to wait a pacing tick, -1 when done (a stop, the
// duration, or the count over all starts). A loop ahead of its rate sends in bursts.
func (p *producer) budget(sent int64) int64 {
	select {
	case <-p.stop:
		return -1
	default:
	}
	elapsed := time.Since(p.started).Seconds()
	if p.spec.DurationS != nil && elapsed >= *p.spec.DurationS {
		return -1
	}
	n := p.spec.Protocol.IntentBatch
	if p.spec.Count != nil {
		left := *p.spec.Count - p.resumed - sent
		if left <= 0 {
			return -1
		}
		n = min(n, left)
	}
	if p.spec.Rate != nil {
		due := int64(elapsed**p.spec.Rate) + 1 - sent
		n = max(0, min(n, due))
	}
	return n
}

func (p *producer) wait() {
	select {
	case <-p.stop:
	case <-time.After(time.Duration(p.spec.Protocol.PaceMs) * time.Millisecond):
	}
}

func (p *producer) record(seq int64) *kgo.Record {
	key := keyOf(p.spec, seq)
	return &kgo.Record{Topic: p.spec.Topic, Key: key, Value: p.env.value(seq, key)}
}

func (p *producer) failed(seq int64, err error, seen bool, from string) {
	p.out.emit(map[string]any{
		"ev": "error", "seq": seq, "name": errorName(err), "message": err.Error(), "seen": seen, "from": from,
	})
}

// streaming sends and goes on (async: with a callback that looks at errors; fire_and_forget: one
// that does not), intent before each range of sends and returned after it.
func (p *producer) streaming(seq int64, seen bool) int64 {
	var sent int64
	for {
		n := p.budget(sent)
		if n == -1 {
			return sent
		}
		if n == 0 {
			p.wait()
			continue
		}
		p.out.emit(map[string]any{"ev": "intent", "seq": seq, "end": seq + n})
		for s := seq; s < seq+n; s++ {
			p.client.Produce(context.Background(), p.record(s), func(r *kgo.Record, err error) {
				if err != nil {
					p.failed(s, err, seen, "callback")
					return
				}
				p.out.emit(map[string]any{"ev": "ack", "seq": s, "partition": r.Partition, "offset": r.Offset})
			})
		}
		p.out.emit(map[string]any{"ev": "returned", "seq": seq, "end": seq + n})
		seq += n
		sent += n
	}
}

// synchronous sends one record at a time and waits for its outcome, which the application sees.
func (p *producer) synchronous(seq int64) int64 {
	var sent int64
	for {
		n := p.budget(sent)
		if n == -1 {
			return sent
		}
		if n == 0 {
			p.wait()
			continue
		}
		p.out.emit(map[string]any{"ev": "intent", "seq": seq})
		r, err := p.client.ProduceSync(context.Background(), p.record(seq)).First()
		if err != nil {
			p.failed(seq, err, true, "app")
		} else {
			p.out.emit(map[string]any{"ev": "ack", "seq": seq, "partition": r.Partition, "offset": r.Offset, "from": "app"})
		}
		p.out.emit(map[string]any{"ev": "returned", "seq": seq})
		seq++
		sent++
	}
}

func runProducer(spec *Spec, out *lines, first int64, stop <-chan struct{}) int64 {
	client, err := kgo.NewClient(producerOptions(spec)...)
	if err != nil {
		usage("cannot make a franz-go producer: %v", err)
	}
	p := &producer{spec, out, client, newEnvelope(spec), stop, first, time.Now()}
	var sent int64
	switch spec.Mode {
	case "async":
		sent = p.streaming(first, true)
	case "fire_and_forget":
		sent = p.streaming(first, false)
	case "sync":
		sent = p.synchronous(first)
	default:
		usage("producer mode %s is not one this driver offers (async, sync, fire_and_forget)", spec.Mode)
	}
	// A clean stop sends what is buffered before it closes, as a well-behaved application does.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(spec.CloseTimeoutS*float64(time.Second)))
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "franz-go driver: flush on close: %v\n", err)
	}
	client.Close()
	return sent
}
