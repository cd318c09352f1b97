'use strict'
// What the KafkaJS driver's parts share: messages, the line protocol, the record envelope, the
// settings it honours and the KafkaJS client they make (driver.js is the entry point).

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

module.exports = { usage, note, emit, envelope, keyOf, configure, kafkaOf, sleep, errorName, PRODUCER_KEYS, CONSUMER_KEYS, crc32, Partitioners }
