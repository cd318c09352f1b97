// A kafka-chaos driver for franz-go (github.com/twmb/franz-go), written from docs/clients.md: it
// reads a workload spec, runs a producer or a consumer group member on franz-go, and prints its
// events in the line protocol on stdout (the harness turns them into ledgers).
//
//	driver SPEC.json
//
// SIGTERM or SIGINT stop it cleanly (flush, commit, close; exit 0); SIGKILL is a crash, and
// everything it printed before is kept. Its own messages go to stderr.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Spec is the part of a workload spec (chaos.workloads.spec) this driver reads.
type Spec struct {
	Kind             string            `json:"kind"`
	ID               string            `json:"id"`
	Topic            string            `json:"topic"`
	BootstrapServers string            `json:"bootstrap_servers"`
	RunID            string            `json:"run_id"`
	Settings         map[string]string `json:"settings"`
	// producer
	Mode          string   `json:"mode"`
	Count         *int64   `json:"count"`
	DurationS     *float64 `json:"duration_s"`
	Rate          *float64 `json:"rate"`
	PayloadSize   int      `json:"payload_size"`
	Keys          string   `json:"keys"`
	CloseTimeoutS float64  `json:"close_timeout_s"`
	// consumer
	Group         string   `json:"group"`
	Strategy      string   `json:"strategy"`
	BatchSize     int      `json:"batch_size"`
	ProcessMs     int      `json:"process_ms"`
	PollTimeoutMs int      `json:"poll_timeout_ms"`
	IdleExitS     *float64 `json:"idle_exit_s"`
	Protocol      struct {
		IntentBatch int64 `json:"intent_batch"`
		PaceMs      int   `json:"pace_ms"`
	} `json:"protocol"`
}

// usage ends the driver for input it cannot run: one sentence on stderr, exit code 2.
func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "franz-go driver: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 {
		usage("give the workload spec's path (driver SPEC.json)")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		usage("cannot read the spec: %v", err)
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		usage("%s is not a workload spec: %v", os.Args[1], err)
	}
	if spec.Protocol.IntentBatch < 1 || spec.Protocol.PaceMs < 1 {
		usage("%s has no driver protocol tunables (intent_batch, pace_ms)", os.Args[1])
	}
	stop := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		close(stop)
	}()
	out := &lines{}
	switch spec.Kind {
	case "producer":
		first, err := strconv.ParseInt(os.Getenv("KAFKA_CHAOS_NEXT_SEQ"), 10, 64)
		if err != nil {
			usage("KAFKA_CHAOS_NEXT_SEQ is not set: the harness starts line-protocol producers with it")
		}
		sent := runProducer(&spec, out, first, stop)
		fmt.Fprintf(os.Stderr, "producer %s: sent %d\n", spec.ID, sent)
	case "consumer":
		processed := runConsumer(&spec, out, stop)
		fmt.Fprintf(os.Stderr, "consumer %s: processed %d\n", spec.ID, processed)
	default:
		usage("unknown workload kind %q", spec.Kind)
	}
}

// lines prints events of the line protocol: one JSON object per line, one write(2) per line, before
// the driver acts on what the line says (stdout is a file the harness opened O_APPEND).
type lines struct{ mu sync.Mutex }

func (l *lines) emit(event map[string]any) {
	event["ts"] = time.Now().UnixMilli()
	data, err := json.Marshal(event)
	if err != nil {
		panic(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Stdout.Write(append(data, '\n')); err != nil {
		fmt.Fprintf(os.Stderr, "franz-go driver: cannot write an event: %v\n", err)
		os.Exit(3)
	}
}
