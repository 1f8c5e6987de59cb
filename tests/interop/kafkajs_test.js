#!/usr/bin/env node
// kafkajs_test.js -- interop with kafkajs (pinned in tests/interop/node)
// against kfkd and Apache Kafka, side by side (the same scenarios on each;
// differential.py gives the verdict): admin createTopics/listTopics/
// describeCluster/describeConfigs/createPartitions/fetchTopicOffsets
// (+ByTimestamp)/deleteTopics, producer with keys and headers (acks=-1;
// codecs none and gzip built in, snappy and lz4 through the kafkajs-snappy
// and kafkajs-lz4 plugins), reading back with kafkajs's own Fetch (no
// group), the idempotent producer, the group consumer.
'use strict'

const { Differential, TOPIC_DEFAULTS, check, eventually, optionalClient, requireClient } = require('./kfkd_harness.js')

const kjs = requireClient('kafkajs')
const { mod: kafkajs, version } = kjs
const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = kafkajs
// kafkajs's cluster (connections, metadata, per-broker requests): used to
// read a partition without a consumer group.
const Cluster = kjs.require('src/cluster')
const { createLogger } = kjs.require('src/loggers')
const defaultSocketFactory = kjs.require('src/network/socketFactory')

const N = 20

// The codec plugins, registered when installed: [name, type, why not].
const snappy = optionalClient('kafkajs-snappy')
const lz4 = optionalClient('kafkajs-lz4')
if (snappy) CompressionCodecs[CompressionTypes.Snappy] = snappy.mod
if (lz4) CompressionCodecs[CompressionTypes.LZ4] = new lz4.mod().codec // eslint-disable-line new-cap
const CODECS = [
  ['none', CompressionTypes.None, null],
  ['gzip', CompressionTypes.GZIP, null],
  ['snappy', CompressionTypes.Snappy, snappy ? null : 'kafkajs-snappy is not installed (scripts/peers.sh node)'],
  ['lz4', CompressionTypes.LZ4, lz4 ? null : 'kafkajs-lz4 is not installed (scripts/peers.sh node)']
]

function records (tag) {
  const out = []
  for (let i = 0; i < N; i++) {
    out.push({
      key: `key-${i}`,
      value: `value-${tag}-${i}-` + 'w'.repeat(i * 10),
      headers: { h1: 'v1', codec: tag, i: String(i) }
    })
  }
  return out
}

// Read count records of topic/partition from offset with Fetch requests
// sent through kafkajs's broker API (Fetch v11 with RecordBatch decoding).
async function fetchRecords (bootstrap, topic, partition, offset, count) {
  const cluster = new Cluster({
    logger: createLogger({ level: logLevel.NOTHING, logCreator: () => () => {} }),
    brokers: [bootstrap],
    clientId: 'kfk-interop-fetch',
    socketFactory: defaultSocketFactory(),
    enforceRequestTimeout: true,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 2 },
    offsets: new Map()
  })
  await cluster.connect()
  try {
    await cluster.addTargetTopic(topic)
    await cluster.refreshMetadata()
    const leader = cluster.findTopicPartitionMetadata(topic).find(p => p.partitionId === partition).leader
    const broker = await cluster.findBroker({ nodeId: String(leader) })
    const out = []
    let next = offset
    const deadline = Date.now() + 15000
    while (out.length < count && Date.now() < deadline) {
      const resp = await broker.fetch({
        maxWaitTime: 200,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(next), maxBytes: 1 << 20 }] }]
      })
      const p = resp.responses[0].partitions[0]
      check(p.errorCode === 0, `fetch error ${p.errorCode}`)
      for (const m of p.messages) {
        if (Number(m.offset) < next) continue
        out.push(m)
        next = Number(m.offset) + 1
      }
    }
    return { records: out, versions: broker.versions }
  } finally {
    await cluster.disconnect()
  }
}

function compare (got, want, from = 0) {
  check(got.length === want.length, `read ${got.length} of ${want.length} records`)
  got.forEach((m, i) => {
    const w = want[i]
    check(Number(m.offset) === from + i, `record ${i}: offset ${m.offset}`)
    check(String(m.key) === w.key, `offset ${m.offset}: key ${m.key}`)
    check(String(m.value) === w.value, `offset ${m.offset}: value differs`)
    const h = {}
    for (const [k, v] of Object.entries(m.headers || {})) h[k] = String(v)
    check(JSON.stringify(h) === JSON.stringify(w.headers), `offset ${m.offset}: headers ${JSON.stringify(h)}`)
  })
}

// Send want to topic partition 0 in two batches; check the base offsets.
async function sendTwoBatches (producer, topic, want, compression) {
  const half = want.length / 2
  const r1 = await producer.send({ topic, acks: -1, compression, messages: want.slice(0, half).map(m => ({ ...m, partition: 0 })) })
  const r2 = await producer.send({ topic, acks: -1, compression, messages: want.slice(half).map(m => ({ ...m, partition: 0 })) })
  check(r1[0].errorCode === 0 && r1[0].baseOffset === '0', `first send ${JSON.stringify(r1)}`)
  check(r2[0].errorCode === 0 && r2[0].baseOffset === String(half), `second send ${JSON.stringify(r2)}`)
}

async function scenarios (b, R) {
  const bootstrap = b.bootstrap
  const kafka = new Kafka({
    clientId: 'kfk-interop-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 3000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 100 },
    logLevel: logLevel.NOTHING
  })
  const admin = kafka.admin()
  await admin.connect()
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  try {
    await adminScenarios(R, admin, bootstrap)
    await producer.connect()
    await produceScenarios(R, kafka, admin, producer, bootstrap)
    await R.run('admin deleteTopics', async () => {
      await admin.deleteTopics({ topics: ['kjs-del'], timeout: 10000 })
      const gone = await eventually(async () => !(await admin.listTopics()).includes('kjs-del'))
      check(gone, 'kjs-del still listed 5 s after DeleteTopics')
      return 'kjs-del gone from listTopics'
    })
  } finally {
    await producer.disconnect().catch(() => {})
    await admin.disconnect().catch(() => {})
  }
}

async function adminScenarios (R, admin, bootstrap) {
  await R.run('admin createTopics', async () => {
    const created = await admin.createTopics({
      topics: [
        { topic: 'kjs-admin', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '5400000' }] },
        { topic: 'kjs-del', numPartitions: 1, replicationFactor: 1 },
        ...CODECS.map(([name]) => ({ topic: `kjs-${name}`, numPartitions: 1, replicationFactor: 1 }))
      ],
      timeout: 10000
    })
    check(created === true, `createTopics returned ${created}`)
    const again = await admin.createTopics({ topics: [{ topic: 'kjs-admin', numPartitions: 1 }], timeout: 10000 })
    check(again === false, `second createTopics returned ${again} (want false: already exists)`)
    return `${CODECS.length + 2} topics; duplicate -> false (TOPIC_ALREADY_EXISTS)`
  })

  await R.run('admin listTopics + fetchTopicMetadata + describeCluster', async () => {
    const names = await admin.listTopics()
    for (const t of ['kjs-admin', 'kjs-del', ...CODECS.map(([n]) => `kjs-${n}`)]) check(names.includes(t), `${t} not listed: ${names}`)
    const cl = await admin.describeCluster()
    check(cl.brokers.length === 1, `describeCluster brokers ${JSON.stringify(cl.brokers)}`)
    const self = cl.brokers[0]
    check(`${self.host}:${self.port}` === bootstrap, `the broker is ${self.host}:${self.port}, not the bootstrap ${bootstrap}`)
    check(cl.controller === self.nodeId, `controller ${cl.controller}, the broker is ${self.nodeId}`)
    const md = await admin.fetchTopicMetadata({ topics: ['kjs-admin'] })
    const parts = md.topics[0].partitions
    check(parts.length === 3 && parts.every(p => p.leader === self.nodeId && p.isr.length === 1 && p.isr[0] === self.nodeId &&
      p.replicas.length === 1), `kjs-admin: ${JSON.stringify(parts)}`)
    return `kjs-admin 3 partitions led by the one broker, which is the bootstrap and the controller`
  })

  await R.run('admin describeConfigs', async () => {
    const r = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-admin' }]
    })
    const res = r.resources[0]
    check(res.errorCode === 0, `error ${res.errorCode} ${res.errorMessage}`)
    const e = res.configEntries.find(c => c.configName === 'retention.ms')
    // configSource 1: TOPIC_CONFIG (set on the topic).
    check(e && e.configValue === '5400000' && e.isDefault === false && e.configSource === 1, `retention.ms ${JSON.stringify(e)}`)
    return 'retention.ms=5400000, not default, source TOPIC_CONFIG'
  })

  await R.run('admin describeConfigs: topic defaults', async () => {
    const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-admin' }] })
    const byName = new Map(r.resources[0].configEntries.map(c => [c.configName, c]))
    const bad = Object.entries(TOPIC_DEFAULTS).filter(([n, v]) => !byName.has(n) || byName.get(n).configValue !== v)
      .map(([n, v]) => `${n}=${byName.has(n) ? byName.get(n).configValue : '(absent)'} (want ${v})`)
    check(!bad.length, bad.join(', '))
    return `${Object.keys(TOPIC_DEFAULTS).length} standard topic configs at Kafka's defaults`
  })

  await R.run('admin createPartitions', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-admin', count: 4 }], timeout: 10000 })
    // Kafka's brokers learn of the new partition from the controller a
    // moment after CreatePartitions is answered: Metadata catches up.
    let n = 0
    await eventually(async () => {
      n = (await admin.fetchTopicMetadata({ topics: ['kjs-admin'] })).topics[0].partitions.length
      return n === 4
    })
    check(n === 4, `${n} partitions 5 s after CreatePartitions`)
    return '3 -> 4 partitions (in Metadata within 5 s)'
  })
}

async function produceScenarios (R, kafka, admin, producer, bootstrap) {
  for (const [name, codec, why] of CODECS) {
    const topic = `kjs-${name}`
    const want = records(name)
    if (why) {
      R.skip(`produce ${name} (keys, headers, acks=-1)`, why)
      continue
    }
    const ok = await R.run(`produce ${name} (keys, headers, acks=-1)`, async () => {
      await sendTwoBatches(producer, topic, want, codec)
      return `${N} records in 2 batches, base offsets 0 and ${N / 2}`
    })
    if (!ok) continue
    await R.run(`read back ${name} with kafkajs Fetch (no group)`, async () => {
      const { records: got } = await fetchRecords(bootstrap, topic, 0, 0, N)
      compare(got, want)
      return `${N} records: keys, values, headers, offsets in order (Fetch v11)`
    })
  }
  R.skip('produce zstd', 'kafkajs has no built-in zstd codec; the only plugin (@kafkajs/zstd) is a native addon, not installed')

  await R.run('idempotent producer (InitProducerId, acks=-1)', async () => {
    const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true })
    const want = records('idem')
    await idem.connect()
    try {
      await sendTwoBatches(idem, 'kjs-idem', want, CompressionTypes.None)
    } finally {
      await idem.disconnect().catch(() => {})
    }
    const { records: got } = await fetchRecords(bootstrap, 'kjs-idem', 0, 0, N)
    compare(got, want)
    const ctx = got.map(m => m.batchContext)
    check(ctx[0].producerId !== '-1' && ctx.every(c => c.producerId === ctx[0].producerId), `producer ids ${ctx.map(c => c.producerId)}`)
    check(ctx[0].firstSequence === 0 && ctx[N - 1].firstSequence === N / 2, `sequences ${ctx[0].firstSequence}, ${ctx[N - 1].firstSequence}`)
    return `${N} records in 2 batches read back with one producer id, sequences 0 and ${N / 2}`
  })

  await R.run('admin fetchTopicOffsets', async () => {
    const o = await admin.fetchTopicOffsets('kjs-gzip')
    check(o.length === 1 && o[0].low === '0' && o[0].high === String(N) && o[0].offset === String(N), JSON.stringify(o))
    const a = await admin.fetchTopicOffsets('kjs-admin')
    check(a.length === 4 && a.every(p => p.high === '0' && p.low === '0'), JSON.stringify(a))
    return `kjs-gzip low 0 high ${N}; kjs-admin 4 empty partitions`
  })

  await R.run('admin fetchTopicOffsetsByTimestamp', async () => {
    const base = Date.now() - 60000
    await producer.send({
      topic: 'kjs-times',
      messages: [0, 1, 2, 3].map(i => ({ value: `t${i}`, partition: 0, timestamp: String(base + 1000 * i) }))
    })
    const r = await admin.fetchTopicOffsetsByTimestamp('kjs-times', base + 1500)
    check(r.length === 1 && r[0].offset === '2', `by timestamp: ${JSON.stringify(r)} (want 2)`)
    return 'records at base+0..3s (auto-created topic), base+1.5s -> offset 2'
  })

  // The group consumer: kafkajs can only consume through a group.
  await R.run('group consumer (subscribe, fromBeginning) reads back', async () => {
    const consumer = kafka.consumer({ groupId: 'kjs-interop', sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 })
    await consumer.connect()
    const got = []
    try {
      await consumer.subscribe({ topic: 'kjs-gzip', fromBeginning: true })
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`read ${got.length} of ${N} in 30 s`)), 30000)
        consumer.run({
          eachMessage: async ({ message }) => {
            got.push(message)
            if (got.length === N) { clearTimeout(t); resolve() }
          }
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    compare(got, records('gzip'))
    return `${N} records in order through group kjs-interop`
  }, 45000)
}

async function main () {
  console.log(`kafkajs ${version}${snappy ? `, kafkajs-snappy ${snappy.version}` : ''}${lz4 ? `, kafkajs-lz4 ${lz4.version}` : ''}, node ${process.version}`)
  const D = new Differential('kafkajs')
  D.watchdog(300000)
  await D.eachBroker({ 'num.partitions': '1' }, async (b, R) => {
    await scenarios(b, R)
  })
  return D.report()
}

main().then(code => process.exit(code), e => {
  console.error(e)
  process.exit(1)
})
