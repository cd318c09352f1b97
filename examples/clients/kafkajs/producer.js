'use strict'
// The KafkaJS driver's producer (docs/clients.md): modes async, sync and fire_and_forget.

const { usage, emit, envelope, keyOf, configure, kafkaOf, sleep, errorName, PRODUCER_KEYS, Partitioners } = require('./common')

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

module.exports = { runProducer }
