'use strict'
// The KafkaJS driver's consumer group member (docs/clients.md): strategies auto, after_process, before_process.

const { usage, note, emit, envelope, configure, kafkaOf, sleep, CONSUMER_KEYS } = require('./common')

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

module.exports = { runConsumer }
