#!/usr/bin/env node
// producer.js -- the kafkajs producer of tests/cluster/clients_test.py:
// N numbered records (key and value: the number), paced at RATE records/s,
// one send() each (acks=-1, kafkajs's retries; not idempotent: kafkajs
// marks its idempotent producer experimental).  One line per outcome:
//
//	SENT number (before the client is given it)
//	ACK number partition offset
//	FAIL number error
//	DONE acked failed
//
//   producer.js NODE_MODULES BROKERS TOPIC N RATE
'use strict'

const { createRequire } = require('module')
const path = require('path')

const [modules, brokers, topic, nArg, rateArg] = process.argv.slice(2)
const req = createRequire(path.join(path.resolve(modules), '..', 'package.json'))
const { Kafka, Partitioners, logLevel } = req('kafkajs')
const n = Number(nArg)
const pace = 1000 / Number(rateArg)

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function main () {
  const kafka = new Kafka({
    clientId: 'kfk-clients-test',
    brokers: brokers.split(','),
    logLevel: logLevel.ERROR,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 2000 }
  })
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: false
  })
  await producer.connect()
  let acked = 0
  let failed = 0
  const pending = []
  const t0 = Date.now()
  for (let i = 0; i < n; i++) {
    const k = String(i)
    process.stdout.write(`SENT ${k}\n`)
    pending.push(producer.send({ topic, acks: -1, messages: [{ key: k, value: k }] })
      .then(res => {
        acked++
        process.stdout.write(`ACK ${k} ${res[0].partition} ${res[0].baseOffset}\n`)
      }, err => {
        failed++
        process.stdout.write(`FAIL ${k} ${String(err.message).replace(/\s+/g, ' ')}\n`)
      }))
    const wait = t0 + (i + 1) * pace - Date.now()
    if (wait > 0) await sleep(wait)
  }
  await Promise.all(pending)
  await producer.disconnect()
  process.stdout.write(`DONE ${acked} ${failed}\n`)
}

main().catch(err => {
  process.stderr.write(`producer: ${err.stack}\n`)
  process.exit(2)
})
