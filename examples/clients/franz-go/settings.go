package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The Java-named settings this driver honours (client.json lists the same keys): each becomes the
// franz-go option that does what the Java client's property does. Any other key is refused.
var producerKeys = map[string]func(string) (kgo.Opt, error){
	"linger.ms":           func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.ProducerLinger) },
	"delivery.timeout.ms": func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.RecordDeliveryTimeout) },
	"request.timeout.ms":  func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.ProduceRequestTimeout) },
	"batch.size": func(v string) (kgo.Opt, error) {
		n, err := strconv.ParseInt(v, 10, 32)
		return kgo.ProducerBatchMaxBytes(int32(n)), err
	},
	"buffer.memory": func(v string) (kgo.Opt, error) { n, err := strconv.Atoi(v); return kgo.MaxBufferedBytes(n), err },
	"retries":       func(v string) (kgo.Opt, error) { n, err := strconv.Atoi(v); return kgo.RecordRetries(n), err },
	"max.in.flight.requests.per.connection": func(v string) (kgo.Opt, error) {
		n, err := strconv.Atoi(v)
		return kgo.MaxProduceRequestsInflightPerBroker(n), err
	},
	"compression.type": func(v string) (kgo.Opt, error) {
		codecs := map[string]kgo.CompressionCodec{
			"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
			"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
		}
		codec, ok := codecs[v]
		if !ok {
			return nil, fmt.Errorf("not none, gzip, snappy, lz4 or zstd")
		}
		return kgo.ProducerBatchCompression(codec), nil
	},
	"metadata.max.age.ms": func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.MetadataMaxAge) },
	// acks and enable.idempotence are read together by producerOptions.
	"acks":               nil,
	"enable.idempotence": nil,
}

var consumerKeys = map[string]func(string) (kgo.Opt, error){
	"session.timeout.ms":      func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.SessionTimeout) },
	"heartbeat.interval.ms":   func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.HeartbeatInterval) },
	"max.poll.interval.ms":    func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.RebalanceTimeout) },
	"auto.commit.interval.ms": func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.AutoCommitInterval) },
	"fetch.max.wait.ms":       func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.FetchMaxWait) },
	"metadata.max.age.ms":     func(v string) (kgo.Opt, error) { return durationOpt(v, kgo.MetadataMaxAge) },
	"fetch.min.bytes":         func(v string) (kgo.Opt, error) { return bytesOpt(v, kgo.FetchMinBytes) },
	"fetch.max.bytes":         func(v string) (kgo.Opt, error) { return bytesOpt(v, kgo.FetchMaxBytes) },
	"max.partition.fetch.bytes": func(v string) (kgo.Opt, error) {
		return bytesOpt(v, kgo.FetchMaxPartitionBytes)
	},
	"isolation.level": func(v string) (kgo.Opt, error) {
		switch strings.ToLower(v) {
		case "read_committed":
			return kgo.FetchIsolationLevel(kgo.ReadCommitted()), nil
		case "read_uncommitted":
			return kgo.FetchIsolationLevel(kgo.ReadUncommitted()), nil
		}
		return nil, fmt.Errorf("not read_committed or read_uncommitted")
	},
	"auto.offset.reset": func(v string) (kgo.Opt, error) {
		switch strings.ToLower(v) {
		case "earliest":
			return kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), nil
		case "latest":
			return kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), nil
		}
		return nil, fmt.Errorf("not earliest or latest")
	},
	"group.instance.id": func(v string) (kgo.Opt, error) { return kgo.InstanceID(v), nil },
	// read by the consumer itself: how many records one poll returns, and the strategy's auto-commit
	"max.poll.records":   nil,
	"enable.auto.commit": nil,
}

func durationOpt[O kgo.Opt](v string, opt func(time.Duration) O) (kgo.Opt, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	return opt(time.Duration(ms) * time.Millisecond), err
}

func bytesOpt[O kgo.Opt](v string, opt func(int32) O) (kgo.Opt, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	return opt(int32(n)), err
}

// options are the franz-go options for the spec's settings, after the harness's own: the bootstrap
// address and the client id. A key the table does not have is refused (exit 2).
func options(spec *Spec, table map[string]func(string) (kgo.Opt, error)) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(spec.BootstrapServers, ",")...),
		kgo.ClientID("kafka-chaos-" + spec.ID),
	}
	if spec.Kind == "producer" {
		// franz-go compresses with snappy unless told otherwise; the Java client's default is none.
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	for key, value := range spec.Settings {
		convert, known := table[key]
		if !known {
			usage("%s setting %s is not one this driver honours: remove it (client.json lists those it does)", spec.Kind, key)
		}
		if convert == nil {
			continue
		}
		opt, err := convert(strings.TrimSpace(value))
		if err != nil {
			usage("%s setting %s=%q is invalid: %v", spec.Kind, key, value, err)
		}
		opts = append(opts, opt)
	}
	return opts
}

// producerOptions adds acks and idempotence: franz-go writes idempotently with acks=all by default, and
// like the Java client (which turns idempotence off by itself when acks is not all and idempotence
// was not asked for) the driver turns it off for acks 0 or 1, or when the settings say so.
func producerOptions(spec *Spec) []kgo.Opt {
	opts := options(spec, producerKeys)
	acks := strings.ToLower(strings.TrimSpace(spec.Settings["acks"]))
	switch acks {
	case "", "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		usage("producer setting acks=%q is invalid: not 0, 1, all or -1", acks)
	}
	idempotence := strings.ToLower(strings.TrimSpace(spec.Settings["enable.idempotence"]))
	if idempotence == "false" || (idempotence == "" && acks != "" && acks != "all" && acks != "-1") {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}
