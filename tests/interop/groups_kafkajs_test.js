#!/usr/bin/env node
// groups_kafkajs_test.js -- consumer groups of kafkajs (pinned in
// tests/interop/node) against kfkd and Apache Kafka: the scenarios of groups_lib.py,
// each member a separate node process (this file run with a JSON argument).
//
// Assignments come from the consumer's GROUP_JOIN event (memberAssignment),
// revocations from REBALANCING; commits are awaited commitOffsets() with
// autoCommit off; ListGroups/DescribeGroups through admin.listGroups/
// describeGroups, committed offsets and DeleteGroups through
// admin.fetchOffsets/deleteGroups.  kafkajs has no static membership
// (group.instance.id).
'use strict'

const { spawnSync } = require('child_process')
const path = require('path')
const readline = require('readline')
const { requireClient } = require('./kfkd_harness.js')

const kjs = requireClient('kafkajs')
const { Kafka, AssignerProtocol, logLevel } = kjs.mod

function emit (ev, kv = {}) {
  process.stdout.write(JSON.stringify({ ev, t: Date.now(), ...kv }) + '\n')
}

function client (c) {
  return new Kafka({
    clientId: c.name || `kjs-${c.op}`,
    brokers: [c.bootstrap],
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      process.stderr.write(`[kafkajs ${level}] ${log.message} ${JSON.stringify(log)}\n`)
    }
  })
}

async function opCreate (c) {
  const admin = client(c).admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: c.topic, numPartitions: c.partitions, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
  emit('created')
}

async function opProduce (c) {
  const producer = client(c).producer()
  await producer.connect()
  const messages = []
  for (let i = c.start; i < c.start + c.n; i++) {
    messages.push({ value: `${c.prefix}-${i}`, partition: i % c.partitions })
  }
  await producer.send({ topic: c.topic, acks: -1, messages })
  await producer.disconnect()
  emit('produced', { n: c.n })
}

async function opAdmin (c) {
  const admin = client(c).admin()
  await admin.connect()
  const { groups } = await admin.listGroups()
  const list = groups.map(g => ({ group: g.groupId, protocol_type: g.protocolType }))
  const desc = await admin.describeGroups([c.group])
  await admin.disconnect()
  if (desc.groups.length !== 1) throw new Error(`describeGroups returned ${desc.groups.length} groups`)
  const g = desc.groups[0]
  const members = g.members.map(m => {
    const a = m.memberAssignment && m.memberAssignment.length
      ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      : null
    return { member_id: m.memberId, client_id: m.clientId, parts: (a && a.assignment[c.topic]) || [] }
  })
  emit('admin', {
    list,
    describe: { state: g.state, protocol_type: g.protocolType, protocol: g.protocol, members }
  })
}

async function opOffsets (c) {
  const admin = client(c).admin()
  await admin.connect()
  const offsets = async () => {
    const out = {}
    for (const t of await admin.fetchOffsets({ groupId: c.group, topics: [c.topic] })) {
      if (t.topic !== c.topic) continue
      for (const p of t.partitions) out[String(p.partition)] = Number(p.offset)
    }
    return out
  }
  const before = await offsets()
  let deleted = true
  let why = ''
  try {
    await admin.deleteGroups([c.group])
  } catch (e) {
    deleted = false
    why = `${e.name}: ${e.message}`
  }
  const { groups } = await admin.listGroups()
  const after = await offsets()
  await admin.disconnect()
  emit('offsets', { offsets: before, deleted, why, listed_after: groups.some(g => g.groupId === c.group), offsets_after: after })
}

async function opMember (c) {
  if (c.instance_id) throw new Error('kafkajs has no static membership')
  const consumer = client(c).consumer({
    groupId: c.group,
    sessionTimeout: c.session_ms,
    heartbeatInterval: c.heartbeat_ms,
    rebalanceTimeout: 10000,
    maxWaitTimeInMs: 100,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 }
  })
  const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events
  consumer.on(GROUP_JOIN, e => {
    const parts = (e.payload.memberAssignment[c.topic] || []).slice().sort((a, b) => a - b)
    emit('assigned', { parts })
  })
  consumer.on(REBALANCING, () => emit('revoked'))
  consumer.on(CRASH, e => process.stderr.write(`consumer crash: ${e.payload.error}\n`))

  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    await consumer.disconnect() // LeaveGroup
    emit('closed')
    process.exit(0)
  }
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', line => { if (line.trim() === 'close') close() })
  rl.on('close', close)

  await consumer.connect()
  await consumer.subscribe({ topics: [c.topic], fromBeginning: true })
  let n = 0
  let done = false
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      if (done || closing) return
      emit('rec', { p: partition, o: Number(message.offset), v: message.value.toString() })
      if (c.commit) {
        await consumer.commitOffsets([{ topic, partition, offset: String(BigInt(message.offset) + 1n) }])
        emit('committed', { p: partition, o: Number(message.offset) })
      }
      n++
      if (c.max && n >= c.max) {
        done = true
        consumer.pause([{ topic: c.topic }])
        emit('done')
      }
    }
  })
}

async function member (arg) {
  const c = JSON.parse(arg)
  const ops = { create: opCreate, produce: opProduce, admin: opAdmin, offsets: opOffsets, member: opMember }
  try {
    await ops[c.op](c)
    if (c.op !== 'member') process.exit(0)
  } catch (e) {
    emit('error', { why: `${e.name}: ${e.message}` })
    process.stderr.write(`${e.stack}\n`)
    process.exit(1)
  }
}

if (process.argv[2] && process.argv[2].startsWith('{')) {
  member(process.argv[2])
} else {
  console.log(`kafkajs ${kjs.version}, node ${process.version}`)
  const r = spawnSync('python3', [path.join(__dirname, 'groups_lib.py'), '--client', 'kafkajs',
    '--static-skip', 'kafkajs has no group.instance.id',
    '--', process.execPath, __filename], { stdio: 'inherit', timeout: 330000, killSignal: 'SIGTERM' })
  if (r.error) console.error(`groups_lib.py: ${r.error.message}`)
  process.exit(r.status === null ? 1 : r.status)
}
