// kfkd_harness.js -- what the node interop tests share: start/stop a kfkd
// through kfkd_harness.py (same directory), load the pinned client modules
// from tests/interop/node/node_modules, and keep the result table.
'use strict'

const { execFileSync } = require('child_process')
const fs = require('fs')
const { createRequire } = require('module')
const path = require('path')
const { pathToFileURL } = require('url')

const HERE = __dirname
const HARNESS = path.join(HERE, 'kfkd_harness.py')
const NODE_MODULES = path.join(HERE, 'node', 'node_modules')

function skipTest (reason) {
  console.log(`SKIP: ${reason}`)
  process.exit(0)
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
      this.fail(scenario, `${e.name || 'Error'}: ${e.message} (after ${((Date.now() - t0) / 1000).toFixed(1)} s)`)
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

module.exports = { Kfkd, Results, Skip, check, importClient, requireClient, skipTest, watchdog }
