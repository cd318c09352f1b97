'use strict'
// A kafka-chaos driver for KafkaJS, written from docs/clients.md: it reads a workload spec, runs a
// producer or a consumer group member on KafkaJS, and prints its events in the line protocol on
// stdout (the harness turns them into ledgers).
//
//   node driver.js SPEC.json
//
// SIGTERM or SIGINT stop it cleanly (flush, commit, disconnect; exit 0); SIGKILL is a crash, and
// everything it printed before is kept. Its own messages go to stderr.
//
// KafkaJS has no record accumulator: each send() is a produce request. Like an application that
// batches for it, the driver keeps records whose send returned in a buffer of its own until
// linger.ms passes or batch.size bytes wait (the Java client's meaning of both), then sends them in
// one request; buffer.memory bounds what is buffered or in flight.

const fs = require('fs')
const { Kafka, logLevel, Partitioners } = require('kafkajs')

function usage(message) {
  process.stderr.write(`kafkajs driver: ${message}\n`)
  process.exit(2)
}

function note(message) {
  process.stderr.write(`${new Date().toISOString()} kafkajs driver: ${message}\n`)
}

// -- the line protocol: one JSON object per line, one write(2) each, before acting on it ---------
function emit(event) {
  event.ts = Date.now()
  fs.writeSync(1, JSON.stringify(event) + '\n')
}

// -- the record envelope of docs/ledgers.md -------------------------------------------------------
const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})

function crc32(buf, crc = 0) {
  let c = ~crc
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}

function envelope(spec) {
  const prefix = `kc2;${spec.run_id};${spec.id};`
  const payload = Buffer.alloc(spec.payload_size, 'x')
  return (seq, key) => {
    const head = Buffer.from(`${prefix}${seq};`)
    let crc = crc32(head)
    if (key !== null) crc = crc32(key, crc32(Buffer.from('k'), crc))
    crc = crc32(payload, crc)
    return Buffer.concat([head, Buffer.from(crc.toString(16).padStart(8, '0') + ';'), payload])
  }
}

function keyOf(spec, seq) {
  if (spec.keys === 'none') return null
  if (spec.keys === 'pinned') return Buffer.from(spec.id)
  return Buffer.from(String(seq))
}

// -- settings: the Java names this driver honours (client.json lists the same keys) ---------------
const number = (key, value) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) usage(`setting ${key}=${JSON.stringify(value)} is invalid: not a whole number`)
  return n
}
const PRODUCER_KEYS = {
  acks: (v, c) => {
    const acks = { all: -1, '-1': -1, 1: 1, 0: 0 }[v.toLowerCase()]
    if (acks === undefined) usage(`producer setting acks=${JSON.stringify(v)} is invalid: not 0, 1, all or -1`)
    c.acks = acks
  },
  'enable.idempotence': (v, c) => {
    c.producer.idempotent = v.toLowerCase() === 'true'
    if (c.producer.idempotent) c.producer.maxInFlightRequests = 1
  },
  retries: (v, c) => { c.client.retry.retries = number('retries', v) },
  'retry.backoff.ms': (v, c) => { c.client.retry.initialRetryTime = number('retry.backoff.ms', v) },
  'request.timeout.ms': (v, c) => { c.client.requestTimeout = c.timeout = number('request.timeout.ms', v) },
  'max.in.flight.requests.per.connection': (v, c) => {
    c.producer.maxInFlightRequests = number('max.in.flight.requests.per.connection', v)
  },
  'metadata.max.age.ms': (v, c) => { c.producer.metadataMaxAge = number('metadata.max.age.ms', v) },
  'linger.ms': (v, c) => { c.linger = number('linger.ms', v) },
  'batch.size': (v, c) => { c.batchSize = number('batch.size', v) },
  'buffer.memory': (v, c) => { c.bufferMemory = number('buffer.memory', v) },
}
const CONSUMER_KEYS = {
  'session.timeout.ms': (v, c) => { c.consumer.sessionTimeout = number('session.timeout.ms', v) },
  'heartbeat.interval.ms': (v, c) => { c.consumer.heartbeatInterval = number('heartbeat.interval.ms', v) },
  'max.poll.interval.ms': (v, c) => { c.consumer.rebalanceTimeout = number('max.poll.interval.ms', v) },
  'fetch.min.bytes': (v, c) => { c.consumer.minBytes = number('fetch.min.bytes', v) },
  'fetch.max.bytes': (v, c) => { c.consumer.maxBytes = number('fetch.max.bytes', v) },
  'fetch.max.wait.ms': (v, c) => { c.consumer.maxWaitTimeInMs = number('fetch.max.wait.ms', v) },
  'max.partition.fetch.bytes': (v, c) => { c.consumer.maxBytesPerPartition = number('max.partition.fetch.bytes', v) },
  'metadata.max.age.ms': (v, c) => { c.consumer.metadataMaxAge = number('metadata.max.age.ms', v) },
  'request.timeout.ms': (v, c) => { c.client.requestTimeout = number('request.timeout.ms', v) },
  'isolation.level': (v, c) => {
    const level = v.toLowerCase()
    if (level !== 'read_committed' && level !== 'read_uncommitted') {
      usage(`consumer setting isolation.level=${JSON.stringify(v)} is invalid`)
    }
    c.consumer.readUncommitted = level === 'read_uncommitted'
  },
  'auto.offset.reset': (v, c) => {
    const reset = v.toLowerCase()
    if (reset !== 'earliest' && reset !== 'latest') usage(`consumer setting auto.offset.reset=${JSON.stringify(v)} is invalid`)
    c.fromBeginning = reset === 'earliest'
  },
  'auto.commit.interval.ms': (v, c) => { c.autoCommitInterval = number('auto.commit.interval.ms', v) },
  'max.poll.records': (v, c) => { c.maxPollRecords = Math.max(1, number('max.poll.records', v)) },
  'enable.auto.commit': (v, c) => { c.autoCommitOff = v.toLowerCase() === 'false' },
}

function configure(spec, keys) {
  const c = {
    client: { clientId: `kafka-chaos-${spec.id}`, brokers: spec.bootstrap_servers.split(','), retry: {} },
    // the records carry their partition (the Java client's partitioner for keys), so KafkaJS's own is not asked
    producer: { allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner },
    consumer: { groupId: spec.group, allowAutoTopicCreation: false },
    acks: -1, // the Java client's default, acks=all
    linger: 5, // the Java client's default linger.ms since Kafka 4.0
    batchSize: 16384,
    bufferMemory: 33554432,
    fromBeginning: true,
    maxPollRecords: 500,
    autoCommitInterval: 5000,
    autoCommitOff: false,
  }
  for (const [key, value] of Object.entries(spec.settings)) {
    if (!(key in keys)) usage(`${spec.kind} setting ${key} is not one this driver honours: remove it (client.json lists those it does)`)
    keys[key](String(value).trim(), c)
  }
  return c
}

function kafkaOf(c) {
  const names = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' }
  const logCreator = () => ({ level, log }) => {
    const { message, timestamp, logger, ...extra } = log
    process.stderr.write(`${timestamp} ${names[level] || level} ${logger || 'kafkajs'}: ${message} ${JSON.stringify(extra)}\n`)
  }
  return new Kafka({ ...c.client, logLevel: logLevel.WARN, logCreator })
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const errorName = err => err.type || err.name || 'Error'

// -- the producer ---------------------------------------------------------------------------------
async function runProducer(spec, first, stopping) {
  if (!['async', 'fire_and_forget', 'sync'].includes(spec.mode)) {
    usage(`producer mode ${spec.mode} is not one this driver offers (async, sync, fire_and_forget)`)
  }
  const c = configure(spec, PRODUCER_KEYS)
  const kafka = kafkaOf(c)
  const admin = kafka.admin()
  await admin.connect()
  const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] })
  await admin.disconnect()
  const partitionMetadata = meta.topics[0].partitions
  const partitioner = Partitioners.DefaultPartitioner()
  const producer = kafka.producer(c.producer)
  await producer.connect()
  const value = envelope(spec)
  const seen = spec.mode !== 'fire_and_forget'
  const started = Date.now()
  let buffered = [] // records whose send returned, waiting for linger.ms or batch.size
  let bufferedBytes = 0
  let held = 0 // bytes buffered or in flight (buffer.memory)
  let lingering = null
  const inFlight = new Set()
  let tail = Promise.resolve() // the last produce request: the next one goes after it

  // One produce request for the buffered records: offsets are the partition's base offset plus the
  // record's place among that partition's records of the request.
  const dispatch = () => {
    clearTimeout(lingering)
    lingering = null
    if (buffered.length === 0) return
    const batch = buffered
    const bytes = bufferedBytes
    buffered = []
    bufferedBytes = 0
    // after the previous request: KafkaJS looks up metadata inside send(), so two concurrent
    // send() calls can reach the broker in either order, and a partition's records with them
    const sending = tail
      .then(() => producer.send({ topic: spec.topic, acks: c.acks, timeout: c.timeout, messages: batch.map(r => r.message) }))
      .then(results => {
        const base = new Map(results.map(r => [r.partition, r.baseOffset]))
        const next = new Map()
        for (const r of batch) {
          const index = next.get(r.message.partition) || 0
          next.set(r.message.partition, index + 1)
          const at = base.get(r.message.partition)
          const offset = at === undefined || Number(at) < 0 ? null : Number(at) + index
          emit({ ev: 'ack', seq: r.seq, partition: r.message.partition, offset })
        }
      })
      .catch(err => {
        for (const r of batch) {
          emit({ ev: 'error', seq: r.seq, name: errorName(err), message: String(err.message), seen })
        }
      })
      .finally(() => {
        held -= bytes
        inFlight.delete(sending)
      })
    inFlight.add(sending)
    tail = sending
  }

  const record = seq => {
    const key = keyOf(spec, seq)
    const message = { key, value: value(seq, key) }
    message.partition = partitioner({ topic: spec.topic, partitionMetadata, message })
    return message
  }

  const budget = sent => {
    if (stopping()) return -1
    const elapsed = (Date.now() - started) / 1000
    if (spec.duration_s !== null && elapsed >= spec.duration_s) return -1
    let n = spec.protocol.intent_batch
    if (spec.count !== null) {
      const left = spec.count - first - sent
      if (left <= 0) return -1
      n = Math.min(n, left)
    }
    if (spec.rate !== null) n = Math.max(0, Math.min(n, Math.floor(elapsed * spec.rate) + 1 - sent))
    return n
  }

  let seq = first
  let sent = 0
  for (let n = budget(sent); n !== -1; n = budget(sent)) {
    if (n === 0) {
      await sleep(spec.protocol.pace_ms)
      continue
    }
    if (spec.mode === 'sync') {
      emit({ ev: 'intent', seq })
      try {
        const [result] = await producer.send({ topic: spec.topic, acks: c.acks, timeout: c.timeout, messages: [record(seq)] })
        const offset = result === undefined || Number(result.baseOffset) < 0 ? null : Number(result.baseOffset)
        emit({ ev: 'ack', seq, partition: result ? result.partition : 0, offset, from: 'app' })
      } catch (err) {
        emit({ ev: 'error', seq, name: errorName(err), message: String(err.message), seen: true, from: 'app' })
      }
      emit({ ev: 'returned', seq })
      seq += 1
      sent += 1
      continue
    }
    emit({ ev: 'intent', seq, end: seq + n })
    for (let s = seq; s < seq + n; s++) {
      const message = record(s)
      const size = message.value.length + (message.key ? message.key.length : 0)
      while (held + size > c.bufferMemory && held > 0) {
        dispatch() // what waits goes now; then send() blocks until there is room, as the Java client's does
        await sleep(1)
      }
      buffered.push({ seq: s, message })
      bufferedBytes += size
      held += size
      if (bufferedBytes >= c.batchSize) dispatch()
      else if (lingering === null) lingering = setTimeout(dispatch, c.linger)
    }
    emit({ ev: 'returned', seq, end: seq + n })
    seq += n
    sent += n
    await new Promise(setImmediate) // let the responses in
  }
  // A clean stop sends what is buffered and waits for it before it disconnects.
  dispatch()
  await Promise.race([Promise.allSettled([...inFlight]), sleep(spec.close_timeout_s * 1000)])
  await producer.disconnect()
  return sent
}

// -- the consumer ---------------------------------------------------------------------------------
async function runConsumer(spec, stopping, onStop) {
  const strategy = spec.strategy
  if (!['auto', 'after_process', 'before_process'].includes(strategy)) {
    usage(`commit strategy ${strategy} is not one this driver offers (auto, after_process, before_process)`)
  }
  const c = configure(spec, CONSUMER_KEYS)
  const consumer = kafkaOf(c).consumer(c.consumer)
  let buffer = [] // {partition, message, epoch}
  let joined = false
  let changed = false
  let processed = 0
  let lastRecord = Date.now()
  let lastPoll = Date.now()
  let heartbeat = async () => {}
  let chain = Promise.resolve() // one poll or flush at a time
  const serially = work => (chain = chain.then(work, work))

  consumer.on(consumer.events.GROUP_JOIN, e => {
    changed = true
    note(`joined group ${e.payload.groupId} as ${e.payload.memberId}: ${JSON.stringify(e.payload.memberAssignment)}`)
  })

  // The application's processing: process_ms (heartbeating, as a KafkaJS application must), then each
  // record printed as processed with its key and value as they came (base64: the harness reads the
  // envelope), an epoch line before the record an assignment epoch begins with.
  const process_ = async rows => {
    if (rows.length === 0) return
    for (let left = spec.process_ms; left > 0; left -= 500) {
      await sleep(Math.min(500, left))
      await heartbeat().catch(() => {})
    }
    for (const { partition, message, epoch } of rows) {
      if (epoch) emit({ ev: 'epoch' })
      emit({
        ev: 'processed',
        partition,
        offset: Number(message.offset),
        key: message.key === null ? null : message.key.toString('base64'),
        value: message.value === null ? null : message.value.toString('base64'),
      })
    }
    processed += rows.length
  }

  // Commit the offsets after the given rows' last record of each partition; false when it failed.
  const commit = async rows => {
    const next = new Map()
    for (const { partition, message } of rows) next.set(partition, String(Number(message.offset) + 1))
    try {
      await consumer.commitOffsets([...next].map(([partition, offset]) => ({ topic: spec.topic, partition, offset })))
      return true
    } catch (err) {
      note(`commit failed, the records will be delivered again: ${err.message}`)
      return false
    }
  }

  const flush = async () => {
    const rows = buffer
    buffer = []
    await process_(rows)
    if (strategy === 'after_process' && rows.length) await commit(rows)
  }

  // One poll: up to max.poll.records records of a fetched batch.
  const poll = async (partition, messages, resolveOffset) => {
    lastRecord = lastPoll = Date.now()
    emit({ ev: 'polled', count: messages.length })
    const rows = messages.map(message => ({ partition, message, epoch: false }))
    // A new assignment starts an epoch after the rows already buffered; not the first of a process
    // (the harness marks the epoch each start begins).
    if (changed && joined) rows[0].epoch = true
    changed = false
    joined = true
    if (strategy === 'before_process') {
      // Commit, then process: a poll whose commit failed is not resolved, so it is fetched again.
      if (!(await commit(rows))) return false
      resolveOffset(messages[messages.length - 1].offset)
      await process_(rows)
      return true
    }
    // Resolving is what moves KafkaJS on, and what its auto-commit commits: what was polled.
    resolveOffset(messages[messages.length - 1].offset)
    buffer.push(...rows)
    if (buffer.length >= spec.batch_size) await flush()
    return true
  }

  await consumer.connect()
  await consumer.subscribe({ topics: [spec.topic], fromBeginning: c.fromBeginning })
  await consumer.run({
    autoCommit: strategy === 'auto' && !c.autoCommitOff,
    autoCommitInterval: c.autoCommitInterval,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch, resolveOffset, heartbeat: beat, isRunning, isStale }) => {
      heartbeat = beat
      for (let i = 0; i < batch.messages.length; i += c.maxPollRecords) {
        if (!isRunning() || isStale() || stopping()) return
        const slice = batch.messages.slice(i, i + c.maxPollRecords)
        const ok = await serially(() => poll(batch.partition, slice, resolveOffset))
        if (!ok) return
        await beat()
      }
    },
  })

  // A quiet topic must not strand a partial batch; an idle member exits when told to.
  const quiet = setInterval(() => {
    const now = Date.now()
    if (spec.idle_exit_s !== null && now - lastRecord > spec.idle_exit_s * 1000) onStop()
    if (strategy !== 'before_process' && buffer.length && now - lastPoll >= spec.poll_timeout_ms) {
      lastPoll = now
      serially(flush)
    }
  }, spec.poll_timeout_ms)

  await new Promise(resolve => onStop(resolve))
  clearInterval(quiet)
  // A clean stop: finish what is buffered, commit it, leave the group.
  await serially(async () => {
    const rows = buffer
    await flush()
    if (strategy === 'auto' && rows.length) await commit(rows)
  })
  await consumer.stop()
  await consumer.disconnect()
  return processed
}

// -- main -----------------------------------------------------------------------------------------
async function main() {
  if (process.argv.length !== 3) usage('give the workload spec\'s path (node driver.js SPEC.json)')
  let spec
  try {
    spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  } catch (err) {
    usage(`${process.argv[2]} is not a workload spec: ${err.message}`)
  }
  if (!spec.protocol || !(spec.protocol.intent_batch >= 1) || !(spec.protocol.pace_ms >= 1)) {
    usage(`${process.argv[2]} has no driver protocol tunables (intent_batch, pace_ms)`)
  }
  let stopped = false
  const waiting = []
  const onStop = resolve => {
    if (resolve) waiting.push(resolve)
    else stopped = true
    if (stopped) waiting.splice(0).forEach(r => r())
  }
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => onStop())
  if (spec.kind === 'producer') {
    const first = Number(process.env.KAFKA_CHAOS_NEXT_SEQ)
    if (process.env.KAFKA_CHAOS_NEXT_SEQ === undefined || !Number.isInteger(first)) {
      usage('KAFKA_CHAOS_NEXT_SEQ is not set: the harness starts line-protocol producers with it')
    }
    const sent = await runProducer(spec, first, () => stopped)
    process.stderr.write(`producer ${spec.id}: sent ${sent}\n`)
  } else if (spec.kind === 'consumer') {
    const processed = await runConsumer(spec, () => stopped, onStop)
    process.stderr.write(`consumer ${spec.id}: processed ${processed}\n`)
  } else {
    usage(`unknown workload kind ${JSON.stringify(spec.kind)}`)
  }
  process.exit(0)
}

main().catch(err => {
  process.stderr.write(`kafkajs driver: ${err.stack || err}\n`)
  process.exit(3)
})
