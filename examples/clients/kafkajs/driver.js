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
const { usage } = require('./common')
const { runProducer } = require('./producer')
const { runConsumer } = require('./consumer')

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
