#!/usr/bin/env node
// platformatic_test.js -- interop with @platformatic/kafka (pinned in
// tests/interop/node) against kfkd and Apache Kafka, side by side (the same
// scenarios on each; differential.py gives the verdict).  This client
// speaks only modern versions (ApiVersions v3, flexible Metadata/Produce/
// CreateTopics/...): admin createTopics/listTopics/metadata/describeConfigs/
// createPartitions/listOffsets/deleteTopics; producer with keys and headers
// for each codec it has natively (none, gzip, snappy, lz4; zstd when Node's
// zlib has it), acks=all; reading back with its own Fetch API (v12) without
// a group; the idempotent producer; the group consumer.
'use strict'

const { Differential, TOPIC_DEFAULTS, check, eventually, importClient } = require('./kfkd_harness.js')

const N = 20
// The APIs the group consumer needs (by key).
const GROUP_APIS = { FindCoordinator: 10, JoinGroup: 11, Heartbeat: 12, LeaveGroup: 13, SyncGroup: 14, OffsetCommit: 8, OffsetFetch: 9 }

function records (topic, tag) {
  const out = []
  for (let i = 0; i < N; i++) {
    out.push({
      topic,
      partition: 0,
      key: `key-${i}`,
      value: `value-${tag}-${i}-` + 'p'.repeat(i * 10),
      headers: { h1: 'v1', codec: tag }
    })
  }
  return out
}

// Read N records of topic partition 0 with Fetch v12 on conn (no group):
// [{ offset, key, value, headers, batch }].
async function fetchRecords (pk, conn, topic) {
  const got = []
  let next = 0n
  const deadline = Date.now() + 10000
  while (got.length < N && Date.now() < deadline) {
    const r = await pk.fetchV12.api.async(conn, 200, 1, 1 << 20, 0, 0, -1,
      [{ topicId: topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: next, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
      [], '')
    const p = r.responses[0].partitions[0]
    check(p.errorCode === 0, `fetch error ${p.errorCode}`)
    for (const b of p.records || []) {
      for (const rec of b.records) {
        const off = b.firstOffset + BigInt(rec.offsetDelta)
        if (off < next) continue
        got.push({ offset: off, key: rec.key && rec.key.toString(), value: rec.value && rec.value.toString(), headers: rec.headers.map(([hk, hv]) => [String(hk), String(hv)]), batch: b })
        next = off + 1n
      }
    }
  }
  return got
}

function compare (got, want) {
  check(got.length === want.length, `read ${got.length} of ${want.length}`)
  got.forEach((m, i) => {
    check(m.offset === BigInt(i), `record ${i} offset ${m.offset}`)
    check(m.key === want[i].key && m.value === want[i].value, `offset ${i}: ${m.key}`)
    const wh = Object.entries(want[i].headers)
    check(JSON.stringify(m.headers) === JSON.stringify(wh), `offset ${i} headers ${JSON.stringify(m.headers)}`)
  })
}

async function scenarios (pk, version, b, R) {
  const { Admin, Producer, Connection } = pk
  const base = { clientId: 'kfk-interop-platformatic', bootstrapBrokers: [b.bootstrap], timeout: 10000, retries: 2, retryDelay: 200 }
  const admin = new Admin(base)
  const producer = new Producer({ ...base, serializers: pk.stringSerializers, acks: pk.ProduceAcks.ALL })
  // A raw connection for the APIs the clients do not expose without a group.
  const conn = new Connection('kfk-interop-platformatic-raw')
  try {
    await conn.connect('127.0.0.1', b.port)
    await runScenarios(pk, version, { ...base, admin, producer, conn }, R)
  } finally {
    await producer.close().catch(() => {})
    await admin.close().catch(() => {})
    await conn.close().catch(() => {})
  }
}

async function runScenarios (pk, version, ctx, R) {
  const { Consumer, ProduceAcks, ConfigResourceTypes, stringDeserializers, apiVersionsV3, compressionsAlgorithms } = pk
  const { admin, producer, conn } = ctx
  const base = { clientId: ctx.clientId, bootstrapBrokers: ctx.bootstrapBrokers, timeout: ctx.timeout, retries: ctx.retries, retryDelay: ctx.retryDelay }
  let versions = null

  await R.run('ApiVersions v3', async () => {
    const r = await apiVersionsV3.api.async(conn, 'platformatic-kafka', version)
    versions = new Map(r.apiKeys.map(a => [a.apiKey, a]))
    check(r.errorCode === 0 && versions.size > 5, `error ${r.errorCode}, ${versions.size} keys`)
    return `${versions.size} APIs advertised`
  })

  const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
  const topics = codecs.map(c => `pk-${c}`)

  await R.run('admin createTopics (v7)', async () => {
    const created = await admin.createTopics({ topics: ['pk-admin'], partitions: 3, replicas: 1, configs: [{ name: 'retention.ms', value: '4800000' }] })
    check(created.length === 1 && created[0].name === 'pk-admin' && created[0].partitions === 3, JSON.stringify(created))
    const more = await admin.createTopics({ topics: ['pk-del', 'pk-idem', ...topics], partitions: 1, replicas: 1 })
    check(more.length === topics.length + 2, `created ${more.length}`)
    let dup = null
    try {
      await admin.createTopics({ topics: ['pk-admin'], partitions: 1, replicas: 1 })
    } catch (e) { dup = e }
    const code = dup && dup.response && dup.response.topics ? dup.response.topics[0].errorCode : null
    check(code === 36, `duplicate create: ${dup ? dup.message + ', error code ' + code : 'no error'} (want 36 TOPIC_ALREADY_EXISTS)`)
    return `${topics.length + 3} topics (pk-admin with 3 partitions); duplicate -> 36 TOPIC_ALREADY_EXISTS`
  })

  await R.run('admin listTopics + metadata', async () => {
    const all = ['pk-admin', 'pk-del', 'pk-idem', ...topics]
    let names = []
    await eventually(async () => {
      names = await admin.listTopics()
      return all.every(t => names.includes(t))
    })
    for (const t of all) check(names.includes(t), `${t} not listed 5 s after CreateTopics`)
    const md = await admin.metadata({ topics: ['pk-admin'] })
    const t = md.topics.get('pk-admin')
    check(t && t.partitionsCount === 3, `pk-admin metadata ${JSON.stringify(t, (k, v) => typeof v === 'bigint' ? String(v) : v)}`)
    check(md.brokers.size === 1, `${md.brokers.size} brokers`)
    const [[id, broker]] = [...md.brokers]
    check(`${broker.host}:${broker.port}` === base.bootstrapBrokers[0], `the broker is ${broker.host}:${broker.port}`)
    check(t.partitions.every(p => p.leader === id && p.replicas.length === 1 && p.replicas[0] === id), `pk-admin partitions ${JSON.stringify(t.partitions)}`)
    return 'pk-admin 3 partitions led by the one broker, which is the bootstrap'
  })

  await R.run('admin describeConfigs', async () => {
    const r = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'pk-admin' }] })
    const e = r[0].configs.find(c => c.name === 'retention.ms')
    // configSource 1: TOPIC_CONFIG (set on the topic).
    check(e && e.value === '4800000' && e.configSource === 1, `retention.ms ${JSON.stringify(e)}`)
    return 'retention.ms=4800000, source TOPIC_CONFIG'
  })

  await R.run('admin describeConfigs: topic defaults', async () => {
    const r = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'pk-admin' }] })
    const byName = new Map(r[0].configs.map(c => [c.name, c]))
    const bad = Object.entries(TOPIC_DEFAULTS).filter(([n, v]) => !byName.has(n) || byName.get(n).value !== v)
      .map(([n, v]) => `${n}=${byName.has(n) ? byName.get(n).value : '(absent)'} (want ${v})`)
    check(!bad.length, bad.join(', '))
    return `${Object.keys(TOPIC_DEFAULTS).length} standard topic configs at Kafka's defaults`
  })

  await R.run('admin createPartitions', async () => {
    // assignments null: the broker places the new partitions (an empty
    // array means "0 assignments given" and Kafka refuses it with 39).
    try {
      await admin.createPartitions({ topics: [{ name: 'pk-admin', count: 5, assignments: null }] })
    } catch (e) {
      throw new Error(`${e.message} ${JSON.stringify(e.errors ? e.errors.map(x => x.message + ' ' + JSON.stringify(x.response || x.errors || '')) : '')}`)
    }
    // Kafka's brokers learn of the new partitions from the controller a
    // moment after CreatePartitions is answered: Metadata catches up.
    let n = 0
    await eventually(async () => {
      n = (await admin.metadata({ topics: ['pk-admin'], forceUpdate: true })).topics.get('pk-admin').partitionsCount
      return n === 5
    })
    check(n === 5, `${n} partitions 5 s after CreatePartitions`)
    return '3 -> 5 partitions (in Metadata within 5 s)'
  })

  for (const c of codecs) {
    const topic = `pk-${c}`
    const want = records(topic, c)
    if (!compressionsAlgorithms[c].available) {
      R.skip(`produce ${c} (keys, headers, acks=all)`, `${c} needs zlib zstd support, which Node ${process.version} lacks`)
      continue
    }
    const ok = await R.run(`produce ${c} (keys, headers, acks=all)`, async () => {
      const r1 = await producer.send({ messages: want.slice(0, N / 2), compression: c, acks: ProduceAcks.ALL })
      const r2 = await producer.send({ messages: want.slice(N / 2), compression: c, acks: ProduceAcks.ALL })
      const offs = [...r1.offsets, ...r2.offsets].map(o => Number(o.offset))
      check(offs[0] === 0 && offs[1] === N / 2, `offsets ${JSON.stringify(offs)}`)
      return `${N} records in 2 batches`
    })
    if (!ok) continue
    await R.run(`read back ${c} with Fetch v12 (no group)`, async () => {
      compare(await fetchRecords(pk, conn, topic), want)
      return `${N} records: keys, values, headers, offsets in order`
    })
  }

  await R.run('idempotent producer (InitProducerId, acks=all)', async () => {
    const idem = new pk.Producer({ ...base, serializers: pk.stringSerializers, idempotent: true, retries: 2 })
    const want = records('pk-idem', 'idem')
    try {
      const r1 = await idem.send({ messages: want.slice(0, N / 2) })
      const r2 = await idem.send({ messages: want.slice(N / 2) })
      const offs = [...r1.offsets, ...r2.offsets].map(o => Number(o.offset))
      check(offs[0] === 0 && offs[1] === N / 2, `offsets ${JSON.stringify(offs)}`)
    } finally {
      await idem.close().catch(() => {})
    }
    const got = await fetchRecords(pk, conn, 'pk-idem')
    compare(got, want)
    const pid = got[0].batch.producerId
    check(pid >= 0n && got.every(m => m.batch.producerId === pid), `producer ids ${got.map(m => m.batch.producerId)}`)
    check(got[0].batch.firstSequence === 0 && got[N - 1].batch.firstSequence === N / 2, `sequences ${got[0].batch.firstSequence}, ${got[N - 1].batch.firstSequence}`)
    return `${N} records in 2 batches read back with one producer id, sequences 0 and ${N / 2}`
  })

  await R.run('admin listOffsets (earliest, latest, by timestamp)', async () => {
    const q = ts => admin.listOffsets({ topics: [{ name: 'pk-gzip', partitions: [{ partitionIndex: 0, timestamp: ts }] }] })
    const latest = (await q(-1n))[0].partitions[0].offset
    const earliest = (await q(-2n))[0].partitions[0].offset
    check(earliest === 0n && latest === BigInt(N), `earliest ${earliest} latest ${latest}`)
    const past = (await q(BigInt(Date.now() - 3600000)))[0].partitions[0].offset
    check(past === 0n, `ts one hour ago -> ${past}`)
    return `earliest 0, latest ${N}, an hour ago -> 0`
  })

  await R.run('group consumer reads back', async () => {
    const missing = Object.entries(GROUP_APIS).filter(([, key]) => !versions || !versions.has(key)).map(([n]) => n)
    check(!missing.length, `the group APIs are not advertised: ${missing.join(', ')}`)
    // This client's consumer always fills its Fetch topics with topic IDs:
    // with Fetch v13+ that is right, with v12 it writes the UUID where the
    // topic *name* belongs.  So it needs a broker with Fetch >= 13.
    const fetchMax = versions.get(1) ? versions.get(1).maxVersion : -1
    check(fetchMax >= 13, `Fetch up to v${fetchMax} only; this consumer needs v13+ (topic ids)`)
    // The first group on a fresh Kafka: its __consumer_offsets partitions
    // are created by FindCoordinator and answer NOT_COORDINATOR (16) until
    // they are loaded: the consumer retries for up to 10 s.
    const consumer = new Consumer({ ...base, retries: 40, retryDelay: 250, groupId: 'pk-interop', deserializers: stringDeserializers })
    const got = []
    try {
      const stream = await consumer.consume({ topics: ['pk-gzip'], mode: 'earliest', autocommit: false, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTime: 200 })
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`read ${got.length} of ${N} in 30 s`)), 30000)
        stream.on('data', m => {
          got.push(m)
          if (got.length === N) { clearTimeout(t); resolve() }
        })
        stream.on('error', e => { clearTimeout(t); reject(e) })
      })
      await stream.close().catch(() => {})
    } finally {
      await consumer.close(true)
    }
    got.forEach((m, i) => check(Number(m.offset) === i && m.key === `key-${i}`, `record ${i}: ${m.offset} ${m.key}`))
    return `${N} records in order through group pk-interop`
  }, 45000)

  await R.run('admin deleteTopics (v6)', async () => {
    await admin.deleteTopics({ topics: ['pk-del'] })
    const gone = await eventually(async () => !(await admin.listTopics()).includes('pk-del'))
    check(gone, 'pk-del still listed 5 s after DeleteTopics')
    return 'pk-del gone from listTopics'
  })
}

async function main () {
  const { mod: pk, version } = await importClient('@platformatic/kafka')
  console.log(`@platformatic/kafka ${version}, node ${process.version}`)
  const D = new Differential('@platformatic/kafka')
  D.watchdog(300000)
  await D.eachBroker({ 'num.partitions': '1' }, (b, R) => scenarios(pk, version, b, R))
  return D.report()
}

main().then(code => process.exit(code), e => {
  console.error(e)
  process.exit(1)
})
