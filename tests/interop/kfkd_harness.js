// kfkd_harness.js -- what the node interop tests share: the brokers side
// by side (Broker and Differential: kfkd and Apache Kafka through
// brokers.py, the verdict from differential.py, both in this directory),
// a lone kfkd through kfkd_harness.py (Kfkd), the pinned client modules
// from tests/interop/node/node_modules, the result table and a watchdog.
//
//   const D = new Differential('kafkajs')
//   D.watchdog(240000)
//   await D.eachBroker({ 'num.partitions': '1' }, async (b, R) => {
//     await R.run('scenario', async () => { ... b.bootstrap ... })
//   })
//   process.exit(D.report())
'use strict'

const { execFileSync, spawnSync } = require('child_process')
const fs = require('fs')
const { createRequire } = require('module')
const os = require('os')
const path = require('path')
const { pathToFileURL } = require('url')

const HERE = __dirname
const HARNESS = path.join(HERE, 'kfkd_harness.py')
const BROKERS = path.join(HERE, 'brokers.py')
const DIFFERENTIAL = path.join(HERE, 'differential.py')
const NODE_MODULES = path.join(HERE, 'node', 'node_modules')

function skipTest (reason) {
  // Under KFK_REQUIRE_PEERS=1 (CI) a missing client is a failure: the
  // project's own scripts install every one.
  if (process.env.KFK_REQUIRE_PEERS === '1') {
    console.log(`FAIL: ${reason} (KFK_REQUIRE_PEERS=1)`)
    process.exit(1)
  }
  console.log(`SKIP: ${reason}`)
  process.exit(77) // ctest's SKIP_RETURN_CODE: reported as skipped, not passed
}

// Resolve modules as code in tests/interop/node would: from its
// node_modules only.
const nodeRequire = createRequire(path.join(HERE, 'node', 'package.json'))

function clientVersion (name) {
  const dir = path.join(NODE_MODULES, name)
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    skipTest(`${name} is not installed in tests/interop/node/node_modules ` +
             '(scripts/deps.sh test runs npm install there)')
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
}

// require() a CommonJS client.
function requireClient (name) {
  const version = clientVersion(name)
  return { mod: nodeRequire(name), version, require: sub => nodeRequire(`${name}/${sub}`) }
}

// require() an optional package (a codec plugin): null when not installed.
function optionalClient (name) {
  const dir = path.join(NODE_MODULES, name)
  if (!fs.existsSync(path.join(dir, 'package.json'))) return null
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
  return { mod: nodeRequire(name), version }
}

// import() an ES-module client.
async function importClient (name) {
  const version = clientVersion(name)
  const mod = await import(pathToFileURL(nodeRequire.resolve(name)).href)
  return { mod, version }
}

class Kfkd {
  constructor (overrides = {}) {
    this.overrides = overrides
    this.dir = null
  }

  start () {
    const args = [HARNESS, 'start']
    for (const [k, v] of Object.entries(this.overrides)) args.push(`${k}=${v}`)
    const out = execFileSync('python3', args, { encoding: 'utf8', timeout: 30000 })
    const vars = {}
    for (const line of out.split('\n')) {
      const m = line.match(/^(\w+)=(.*)$/)
      if (m) vars[m[1]] = m[2]
    }
    this.dir = vars.KFKD_DIR
    this.port = Number(vars.KFKD_PORT)
    this.pid = Number(vars.KFKD_PID)
    this.bootstrap = vars.KFKD_BOOTSTRAP
    // A test killed by its timeout must not leave the broker running.
    const dir = this.dir
    process.on('exit', () => {
      try { execFileSync('python3', [HARNESS, 'cleanup', dir], { timeout: 15000 }) } catch (e) {}
    })
    for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(1))
    return this.bootstrap
  }

  log () {
    try {
      return execFileSync('python3', [HARNESS, 'log', this.dir], { encoding: 'utf8' })
    } catch (e) { return '' }
  }

  dumpLog (tail = 60) {
    const lines = this.log().split('\n')
    process.stderr.write('---- kfkd log ----\n' + lines.slice(-tail).join('\n') + '\n---- end of kfkd log ----\n')
  }

  cleanup () {
    if (!this.dir) return
    try { execFileSync('python3', [HARNESS, 'cleanup', this.dir], { timeout: 15000 }) } catch (e) {}
  }
}

function parseVars (out) {
  const vars = {}
  for (const line of out.split('\n')) {
    const m = line.match(/^(\w+)=(.*)$/)
    if (m) vars[m[1]] = m[2]
  }
  return vars
}

let signalsHooked = false
function hookSignals () {
  if (signalsHooked) return
  signalsHooked = true
  for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(1))
}

// One broker of a kind ("kfkd" or "kafka") through brokers.py: started
// fresh with Kafka's property names as overrides, cleaned up at the latest
// when the process exits.
class Broker {
  constructor (kind, overrides = {}) {
    this.kind = kind
    this.overrides = overrides
    this.dir = null
    this.version = ''
  }

  _cmd (args, timeout = 120000) {
    return execFileSync('python3', [BROKERS, ...args], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] })
  }

  _set (out) {
    const v = parseVars(out)
    this.dir = v.BROKER_DIR
    this.port = Number(v.BROKER_PORT)
    this.pid = Number(v.BROKER_PID)
    this.bootstrap = v.BROKER_BOOTSTRAP
    this.version = v.BROKER_VERSION || ''
    return this.bootstrap
  }

  start () {
    const args = ['start', this.kind]
    for (const [k, v] of Object.entries(this.overrides)) args.push(`${k}=${v}`)
    let out
    try {
      out = this._cmd(args)
    } catch (e) {
      throw new Error(`${this.kind} did not start: ${String(e.stderr || e.message).trim().split('\n').slice(-2).join(' ')}`)
    }
    this._set(out)
    this._onExit = () => this.cleanup()
    process.on('exit', this._onExit)
    hookSignals()
    return this.bootstrap
  }

  stop () { this._cmd(['stop', this.kind, this.dir]) }
  kill9 () { this._cmd(['kill9', this.kind, this.dir]) }
  // Start again on the same port(s) and data (a running broker is stopped first).
  restart () { return this._set(this._cmd(['restart', this.kind, this.dir])) }

  log () {
    try { return this._cmd(['log', this.kind, this.dir], 30000) } catch (e) { return '' }
  }

  dumpLog (tail = 60) {
    const lines = this.log().split('\n')
    process.stderr.write(`---- ${this.kind} log ----\n` + lines.slice(-tail).join('\n') + `\n---- end of ${this.kind} log ----\n`)
  }

  cleanup () {
    if (!this.dir) return
    try { this._cmd(['cleanup', this.kind, this.dir], 60000) } catch (e) {}
    this.dir = null
    if (this._onExit) process.removeListener('exit', this._onExit)
  }
}

// The brokers to run against: [{ kind, missing }] (missing: why it is
// not installed, or null); throws when a peer is required but missing.
function brokerKinds () {
  const r = spawnSync('python3', [BROKERS, 'kinds'], { encoding: 'utf8', timeout: 30000 })
  if (r.status !== 0) throw new Error((r.stderr || 'brokers.py kinds failed').trim())
  return r.stdout.split('\n').filter(l => l.trim()).map(l => {
    const m = l.match(/^(\S+)(?: missing (.*))?$/)
    return { kind: m[1], missing: m[2] || null }
  })
}

class Results {
  constructor (client) {
    this.client = client
    this.rows = []
  }

  add (scenario, status, detail = '') {
    this.rows.push([scenario, status, detail])
    console.log(`[${status}] ${scenario}${detail ? ': ' + detail : ''}`)
  }

  pass (s, d) { this.add(s, 'PASS', d) }
  fail (s, d) { this.add(s, 'FAIL', d) }
  skip (s, d) { this.add(s, 'SKIP', d) }

  // Run an async scenario with a time limit; PASS with its string result.
  async run (scenario, fn, timeoutMs = 30000) {
    const t0 = Date.now()
    let timer
    try {
      const detail = await Promise.race([
        fn(),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs)
        })
      ])
      if (detail instanceof Skip) this.skip(scenario, detail.reason)
      else this.pass(scenario, typeof detail === 'string' ? detail : '')
      return detail
    } catch (e) {
      this.fail(scenario, `${describeError(e)} (after ${((Date.now() - t0) / 1000).toFixed(1)} s)`)
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  failed () { return this.rows.filter(r => r[1] === 'FAIL') }

  table () {
    const w = Math.max(8, ...this.rows.map(r => r[0].length))
    const out = [`\n${this.client} interop results`,
      `${'scenario'.padEnd(w)}  ${''.padEnd(4)}  detail`,
      `${'-'.repeat(w)}  ----  ------`]
    for (const [s, st, d] of this.rows) out.push(`${s.padEnd(w)}  ${st.padEnd(4)}  ${d}`)
    const nf = this.failed().length
    const ns = this.rows.filter(r => r[1] === 'SKIP').length
    out.push(`${this.rows.length} scenarios: ${this.rows.length - nf - ns} passed, ${nf} failed, ${ns} skipped`)
    console.log(out.join('\n'))
  }

  exitCode () { return this.failed().length || !this.rows.length ? 1 : 0 }
}

class Skip {
  constructor (reason) { this.reason = reason }
}

function check (cond, msg) {
  if (!cond) throw new Error(msg)
}

// The topic configs every Kafka broker describes, at Apache Kafka's
// defaults (the log's own settings: not tiered storage, throttles, ...).
const TOPIC_DEFAULTS = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  'delete.retention.ms': '86400000',
  'file.delete.delay.ms': '60000',
  'flush.messages': '9223372036854775807',
  'flush.ms': '9223372036854775807',
  'index.interval.bytes': '4096',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '1',
  'preallocate': 'false',
  'retention.bytes': '-1',
  'segment.bytes': '1073741824',
  'segment.index.bytes': '10485760',
  'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false'
}

// Poll the async fn until it returns something truthy (and return that),
// for at most ms: Kafka's brokers learn of a topic created, grown or
// deleted from the controller a moment after the request is answered.
async function eventually (fn, ms = 5000, every = 100) {
  const t0 = Date.now()
  for (;;) {
    const v = await fn()
    if (v || Date.now() - t0 >= ms) return v
    await new Promise(resolve => setTimeout(resolve, every))
  }
}

// An error's message with the nested errors (AggregateError) and the
// response some clients attach.
function describeError (e, depth = 0) {
  if (!e || typeof e !== 'object') return String(e)
  let s = depth ? e.message : `${e.name || 'Error'}: ${e.message}`
  if (e.response) s += ` ${JSON.stringify(e.response, (k, v) => typeof v === 'bigint' ? String(v) : v).slice(0, 300)}`
  if (e.errors && e.errors.length && depth < 2) s += ` [${e.errors.map(x => describeError(x, depth + 1)).join('; ')}]`
  return s
}

// The same scenarios against each broker; the verdict (differential.py)
// fails a scenario whose result differs between kfkd and Apache Kafka
// unless docs/interop.md lists the difference.
class Differential {
  constructor (client) {
    this.client = client
    this.byKind = new Map() // kind -> Results
    this.meta = [] // [kind, scenario, detail]: __broker_missing__/__broker_failed__
    this.current = null // the Broker running now
    this.order = ['kfkd', 'kafka']
  }

  results (kind) {
    if (!this.byKind.has(kind)) this.byKind.set(kind, new Results(`${this.client} on ${kind}`))
    return this.byKind.get(kind)
  }

  // await fn(broker, results) once per broker, each started fresh with
  // these overrides and cleaned up afterwards.
  async eachBroker (overrides, fn) {
    let kinds
    try {
      kinds = brokerKinds()
    } catch (e) {
      this.meta.push(['kafka', '__broker_failed__', e.message])
      return
    }
    this.order = kinds.map(k => k.kind)
    for (const { kind, missing } of kinds) {
      if (missing) {
        console.log(`[SKIP] every scenario on ${kind}: ${missing}`)
        this.meta.push([kind, '__broker_missing__', missing])
        continue
      }
      const b = new Broker(kind, overrides)
      try {
        b.start()
      } catch (e) {
        console.log(`[FAIL] ${e.message}`)
        this.meta.push([kind, '__broker_failed__', e.message])
        b.cleanup()
        continue
      }
      console.log(`==== ${this.client} on ${kind}${b.version ? ' ' + b.version : ''}: ${b.bootstrap} (dir ${b.dir}) ====`)
      this.current = b
      const R = this.results(kind)
      const t0 = Date.now()
      try {
        await fn(b, R)
      } catch (e) {
        R.fail('test driver', `${e.name || 'Error'}: ${e.message}`)
      }
      console.log(`==== ${kind} done in ${((Date.now() - t0) / 1000).toFixed(1)} s ====`)
      if (R.failed().length) b.dumpLog()
      this.current = null
      b.cleanup()
    }
  }

  // "broker<TAB>status<TAB>scenario<TAB>detail" rows, broker by broker in
  // the order they ran (differential.py's column order).
  rows () {
    const clean = s => String(s).replace(/[\t\r\n]+/g, ' ')
    const kinds = []
    for (const k of [...this.meta.map(m => m[0]), ...this.byKind.keys()]) if (!kinds.includes(k)) kinds.push(k)
    kinds.sort((a, b) => this.order.indexOf(a) - this.order.indexOf(b))
    const out = []
    for (const kind of kinds) {
      for (const [k, sc, d] of this.meta) if (k === kind) out.push([k, 'FAIL', sc, clean(d)])
      const R = this.byKind.get(kind)
      for (const [sc, st, d] of R ? R.rows : []) out.push([kind, st, clean(sc), clean(d)])
    }
    return out
  }

  // Print the differential table; returns the exit code (0 or 1).
  report () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfk-interop-node-'))
    const file = path.join(dir, 'rows.tsv')
    try {
      fs.writeFileSync(file, this.rows().map(r => r.join('\t')).join('\n') + '\n')
      const r = spawnSync('python3', [DIFFERENTIAL, 'report', this.client, file], { stdio: 'inherit', timeout: 60000 })
      return r.status === 0 ? 0 : 1
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  // Bound the whole test: fail the broker running now, print the verdict
  // and exit if it is not done in time.
  watchdog (ms) {
    const t = setTimeout(() => {
      const b = this.current
      this.results(b ? b.kind : 'kfkd').fail('whole test', `not finished after ${ms / 1000} s`)
      if (b) b.dumpLog()
      this.report()
      process.exit(1)
    }, ms)
    t.unref()
  }
}

// Bound the whole test: print the table and fail if it is not done in time.
function watchdog (results, kfkd, ms) {
  const t = setTimeout(() => {
    results.fail('whole test', `not finished after ${ms / 1000} s`)
    if (kfkd) kfkd.dumpLog()
    results.table()
    process.exit(1)
  }, ms)
  t.unref()
}

module.exports = { Broker, Differential, Kfkd, Results, Skip, TOPIC_DEFAULTS, brokerKinds, check, describeError, eventually, importClient, optionalClient, requireClient, skipTest, watchdog }
