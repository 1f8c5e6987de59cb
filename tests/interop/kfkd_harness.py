#!/usr/bin/env python3
"""kfkd_harness.py -- start a real kfkd for the interop tests.

Python tests import it:

    from kfkd_harness import Kfkd, Results
    with Kfkd(overrides={"num.partitions": "1"}) as k:
        bootstrap = k.bootstrap          # "127.0.0.1:<port>"
        k.stop(); k.restart(); k.kill9(); k.restart()

Shell (and other) tests use its command line, which keeps the broker's
state in a file inside the broker's temporary directory:

    eval "$(python3 kfkd_harness.py start [key=value ...])"
        # sets KFKD_DIR KFKD_PORT KFKD_PID KFKD_BOOTSTRAP
    python3 kfkd_harness.py stop    "$KFKD_DIR"   # SIGTERM and wait
    python3 kfkd_harness.py kill9   "$KFKD_DIR"   # SIGKILL, as a crash
    eval "$(python3 kfkd_harness.py restart "$KFKD_DIR")"  # same port, same data
    python3 kfkd_harness.py log     "$KFKD_DIR"   # the broker's output
    python3 kfkd_harness.py cleanup "$KFKD_DIR"   # stop if running, rm -rf

The broker is $KFK_BUILD_DIR/bin/kfkd (ctest sets KFK_BUILD_DIR), else
build/bin/kfkd of the source tree this file is in.  It listens on an
ephemeral port of 127.0.0.1 (listeners=PLAINTEXT://127.0.0.1:0) and keeps
its data in <tmpdir>/data; its stdout and stderr go to <tmpdir>/kfkd.log.
Python standard library only.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("KFK_SOURCE_DIR") or os.path.normpath(
    os.path.join(HERE, "..", ".."))
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_LISTEN_RE = re.compile(r"kfkd listening on port (\d+)")


def build_dir():
    return os.environ.get("KFK_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")


def kfkd_binary():
    return os.path.join(build_dir(), "bin", "kfkd")


def _set_pdeathsig():
    """In the child: receive SIGTERM when the parent dies, so a test killed
    by a timeout does not leave a broker behind (Linux only)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class KfkdError(RuntimeError):
    pass


class Kfkd:
    """One kfkd in a private temporary directory."""

    def __init__(self, overrides=None, log_level=None, tmpdir=None,
                 tie_to_parent=True):
        self.overrides = dict(overrides or {})
        self.log_level = log_level
        self.dir = tmpdir or tempfile.mkdtemp(prefix="kfk-interop-")
        self.datadir = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "kfkd.log")
        self.port = 0
        self.proc = None
        self.pid = 0
        self.tie_to_parent = tie_to_parent

    # -- life cycle --------------------------------------------------------
    def start(self, port=0):
        binary = kfkd_binary()
        if not os.access(binary, os.X_OK):
            raise KfkdError("kfkd not found at %s (set KFK_BUILD_DIR)" % binary)
        args = [binary,
                "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
                "--override", "log.dirs=%s" % self.datadir]
        for k, v in self.overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        if self.log_level:
            args += ["--log-level", self.log_level]
        # Append, so the log of a restarted broker follows the earlier one.
        log = open(self.logpath, "ab")
        start_at = log.tell()
        try:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.dir, close_fds=True,
                preexec_fn=_set_pdeathsig if self.tie_to_parent else None,
                start_new_session=not self.tie_to_parent)
        finally:
            log.close()
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(self.logpath, "rb") as f:
                f.seek(start_at)
                text = f.read().decode("utf-8", "replace")
            m = _LISTEN_RE.search(text)
            if m:
                self.port = int(m.group(1))
                self._save_state()
                return self.bootstrap
            if self.proc.poll() is not None:
                raise KfkdError("kfkd exited with %s before listening:\n%s"
                                % (self.proc.returncode, text))
            if time.monotonic() > deadline:
                self.kill9()
                raise KfkdError("kfkd did not listen within %.0f s:\n%s"
                                % (START_TIMEOUT, text))
            time.sleep(0.02)

    def restart(self):
        """Start again on the same port over the same data directory."""
        if self.running():
            raise KfkdError("restart: kfkd is still running")
        if not self.port:
            raise KfkdError("restart: never started")
        port = self.port
        # The port was just released; a connection lingering in TIME_WAIT
        # does not stop a listener that sets SO_REUSEADDR, but retry a few
        # times in case another process grabbed it meanwhile.
        last = None
        for _ in range(20):
            try:
                return self.start(port)
            except KfkdError as e:
                last = e
                time.sleep(0.25)
        raise last

    def running(self):
        if self.proc is not None:
            return self.proc.poll() is None
        if self.pid:
            try:
                os.kill(self.pid, 0)
            except OSError:
                return False
            # A zombie would still answer; check /proc.
            try:
                with open("/proc/%d/stat" % self.pid) as f:
                    return f.read().split(")")[-1].split()[0] != "Z"
            except OSError:
                return False
        return False

    def _wait(self, timeout):
        if self.proc is not None:
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return 0
            time.sleep(0.02)
        return None

    def stop(self):
        """SIGTERM, wait (then SIGKILL).  Returns the exit status
        (0 after a clean shutdown, 128+signal when killed)."""
        if not self.pid or not self.running():
            return self._status()
        os.kill(self.pid, signal.SIGTERM)
        if self._wait(STOP_TIMEOUT) is None:
            self.kill9()
        return self._status()

    def kill9(self):
        if self.pid and self.running():
            os.kill(self.pid, signal.SIGKILL)
            self._wait(STOP_TIMEOUT)
        return self._status()

    def _status(self):
        if self.proc is None or self.proc.returncode is None:
            return 0
        rc = self.proc.returncode
        return 128 - rc if rc < 0 else rc

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers -----------------------------------------------------------
    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump_log(self, out=None, tail=200):
        out = out or sys.stderr
        lines = self.log().splitlines()[-tail:]
        out.write("---- kfkd log (%s) ----\n" % self.logpath)
        for line in lines:
            out.write(line + "\n")
        out.write("---- end of kfkd log ----\n")

    def _save_state(self):
        state = {"pid": self.pid, "port": self.port,
                 "overrides": self.overrides, "log_level": self.log_level}
        with open(os.path.join(self.dir, "harness.json"), "w") as f:
            json.dump(state, f)

    @classmethod
    def from_dir(cls, d):
        with open(os.path.join(d, "harness.json")) as f:
            st = json.load(f)
        k = cls(overrides=st["overrides"], log_level=st.get("log_level"),
                tmpdir=d, tie_to_parent=False)
        k.pid = st["pid"]
        k.port = st["port"]
        return k

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


class Results:
    """Collects scenario outcomes and prints the result table."""

    def __init__(self, client):
        self.client = client
        self.rows = []  # (scenario, status, detail)

    def add(self, scenario, status, detail=""):
        self.rows.append((scenario, status, detail))
        print("[%s] %s%s" % (status, scenario,
                             (": " + detail) if detail else ""), flush=True)

    def ok(self, scenario, detail=""):
        self.add(scenario, "PASS", detail)

    def fail(self, scenario, detail=""):
        self.add(scenario, "FAIL", detail)

    def skip(self, scenario, detail=""):
        self.add(scenario, "SKIP", detail)

    def run(self, scenario, fn, *args, **kw):
        """Run fn; PASS with its (string) return value as detail, FAIL with
        the exception.  Returns fn's value or None."""
        t0 = time.monotonic()
        try:
            detail = fn(*args, **kw)
        except SkipScenario as e:
            self.skip(scenario, str(e))
            return None
        except Exception as e:  # a failed check or a client error
            self.fail(scenario, "%s: %s (after %.1f s)" % (
                type(e).__name__, e, time.monotonic() - t0))
            return None
        self.ok(scenario, detail if isinstance(detail, str) else "")
        return detail

    def failed(self):
        return [r for r in self.rows if r[1] == "FAIL"]

    def table(self, out=None):
        out = out or sys.stdout
        w = max([len(r[0]) for r in self.rows] + [8])
        out.write("\n%s interop results\n" % self.client)
        out.write("%-*s  %-4s  %s\n" % (w, "scenario", "", "detail"))
        out.write("%s  ----  ------\n" % ("-" * w))
        for s, st, d in self.rows:
            out.write("%-*s  %-4s  %s\n" % (w, s, st, d))
        n = len(self.rows)
        nf = len(self.failed())
        ns = len([r for r in self.rows if r[1] == "SKIP"])
        out.write("%d scenarios: %d passed, %d failed, %d skipped\n"
                  % (n, n - nf - ns, nf, ns))
        out.flush()

    def exit_code(self):
        return 1 if self.failed() or not self.rows else 0


class SkipScenario(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# Debian's python3-* client packages live in the system interpreter's
# dist-packages; a python3 found first on PATH (a virtualenv, pyenv) may
# not see them.
SYSTEM_PYTHON = "/usr/bin/python3"


def reexec_with_system_python(why):
    """If this is not the system interpreter, run the test again with it
    (once); otherwise return so the caller can skip."""
    if os.environ.get("KFK_INTEROP_REEXEC") or not os.access(SYSTEM_PYTHON, os.X_OK):
        return
    try:
        if os.path.samefile(sys.executable, SYSTEM_PYTHON):
            return
    except OSError:
        pass
    print("note: %s with %s; trying %s" % (why, sys.executable, SYSTEM_PYTHON),
          flush=True)
    os.environ["KFK_INTEROP_REEXEC"] = "1"
    os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)


# Which interpreter (and so which client release) a Python test runs
# under.  The Debian clients (confluent-kafka 1.7.0, kafka-python 2.0.2:
# the legacy protocol's coverage) are run by SYSTEM_PYTHON; today's releases
# by the virtual environment scripts/peers.sh python makes.  A test module
# calls select_python() before it imports its client; a *_latest_test.py
# wrapper calls run_latest("x_test.py"), which runs the same module with
# KFK_INTEROP_PYTHON=latest under the venv.
PEERS_HINT = "scripts/peers.sh python installs it"


def peers_python():
    """The venv's interpreter (KFK_PEERS_PYTHON, else <peers>/venv/bin/python
    with <peers> = KFK_PEERS_DIR or .peers of the source tree), or None."""
    p = os.environ.get("KFK_PEERS_PYTHON")
    if not p:
        peers = os.environ.get("KFK_PEERS_DIR") or os.path.join(SOURCE_DIR,
                                                                ".peers")
        p = os.path.join(peers, "venv", "bin", "python")
    return p if os.access(p, os.X_OK) else None


def _runs_under(interpreter):
    """Is this process that interpreter?  Compared by prefix (a venv's
    python is a symlink to the base interpreter, so the files are the same;
    the prefix tells them apart)."""
    want = os.path.dirname(os.path.dirname(os.path.abspath(interpreter)))
    return os.path.realpath(sys.prefix) == os.path.realpath(want)


def select_python(default="debian"):
    """Make sure this test runs under the interpreter of its flavour and
    return the flavour: KFK_INTEROP_PYTHON ("debian" or "latest"), else
    default.  Re-executes the test (once) when needed; skips the test when
    that interpreter is missing."""
    flavour = os.environ.get("KFK_INTEROP_PYTHON") or default
    if flavour == "latest":
        target = peers_python()
        if not target:
            skip_test("today's Python clients are not installed (%s)"
                      % PEERS_HINT)
    elif flavour == "debian":
        target = SYSTEM_PYTHON
        if not os.access(target, os.X_OK):
            skip_test("%s (Debian's python3 with its client packages) is "
                      "missing" % SYSTEM_PYTHON)
    else:
        raise SystemExit("KFK_INTEROP_PYTHON: unknown flavour %r" % flavour)
    if _runs_under(target):
        return flavour
    if os.environ.get("KFK_INTEROP_REEXEC") == flavour:
        raise SystemExit("re-executed with %s but running under %s"
                         % (target, sys.executable))
    os.environ["KFK_INTEROP_PYTHON"] = flavour
    os.environ["KFK_INTEROP_REEXEC"] = flavour
    sys.stdout.flush()
    os.execv(target, [target] + sys.argv)


def run_latest(module):
    """Run the test module next to this file (e.g. "confluent_kafka_test.py")
    with today's client release: under the venv, KFK_INTEROP_PYTHON=latest."""
    os.environ["KFK_INTEROP_PYTHON"] = "latest"
    os.environ.pop("KFK_INTEROP_REEXEC", None)
    target = peers_python()
    if not target:
        skip_test("today's Python clients are not installed (%s)" % PEERS_HINT)
    path = os.path.join(HERE, module)
    sys.stdout.flush()
    os.execv(target, [target, path] + sys.argv[1:])


# The exit status of a test that did not run: ctest's SKIP_RETURN_CODE for
# the interop tests (tests/CMakeLists.txt), so it is reported as skipped,
# never as passed.
SKIP_EXIT = 77


def skip_test(reason):
    """The whole test cannot run (client genuinely unavailable).  Under
    KFK_REQUIRE_PEERS=1 (CI) that is a failure: the project's own scripts
    install every client."""
    if os.environ.get("KFK_REQUIRE_PEERS") == "1":
        print("FAIL: %s (KFK_REQUIRE_PEERS=1)" % reason, flush=True)
        sys.exit(1)
    print("SKIP: %s" % reason, flush=True)
    sys.exit(SKIP_EXIT)


# -- command line ----------------------------------------------------------
def _shell_vars(k):
    return ("KFKD_DIR=%s\nKFKD_PORT=%d\nKFKD_PID=%d\nKFKD_BOOTSTRAP=%s\n"
            % (k.dir, k.port, k.pid, k.bootstrap))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    cmd, rest = argv[1], argv[2:]
    try:
        if cmd == "start":
            overrides = {}
            level = None
            for a in rest:
                if a.startswith("--log-level="):
                    level = a.split("=", 1)[1]
                    continue
                if "=" not in a:
                    print("start: expected key=value, got %r" % a,
                          file=sys.stderr)
                    return 2
                key, val = a.split("=", 1)
                overrides[key] = val
            k = Kfkd(overrides=overrides, log_level=level, tie_to_parent=False)
            try:
                k.start()
            except KfkdError:
                shutil.rmtree(k.dir, ignore_errors=True)
                raise
            sys.stdout.write(_shell_vars(k))
            return 0
        if not rest:
            print("%s: needs the broker directory" % cmd, file=sys.stderr)
            return 2
        if not os.path.exists(os.path.join(rest[0], "harness.json")):
            if cmd == "cleanup":  # already cleaned up
                shutil.rmtree(rest[0], ignore_errors=True)
                return 0
            print("%s: no broker state in %s" % (cmd, rest[0]), file=sys.stderr)
            return 1
        k = Kfkd.from_dir(rest[0])
        if cmd == "stop":
            k.stop()
            return 0
        if cmd == "kill9":
            k.kill9()
            return 0
        if cmd == "restart":
            k.stop()
            k.restart()
            sys.stdout.write(_shell_vars(k))
            return 0
        if cmd == "log":
            sys.stdout.write(k.log())
            return 0
        if cmd == "cleanup":
            k.cleanup()
            return 0
        print("unknown command %r" % cmd, file=sys.stderr)
        return 2
    except KfkdError as e:
        print("kfkd_harness: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
