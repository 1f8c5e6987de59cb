#!/usr/bin/env python3
"""groups_lib.py -- consumer-group scenarios against kfkd and Apache Kafka in
the same run (brokers.each_broker, a differential.Differential verdict: a
difference fails unless docs/interop.md lists it), driven the same way for
every client.  Both brokers get the same settings (OVERRIDES).

Each groups_*_test.* file provides a *member command*: a program of its own
client that takes one argument, a JSON object, and does what its "op" says:

  {"op": "create", "bootstrap", "topic", "partitions"}      create the topic
  {"op": "produce", "bootstrap", "topic", "partitions", "n", "prefix", "start"}
        n records, record i (i from start) to partition i % partitions with
        value "<prefix>-<i>"; prints {"ev": "produced", "n": n}
  {"op": "admin", "bootstrap", "group", "topic"}
        ListGroups + DescribeGroups through the client's admin API; prints
        {"ev": "admin", "list": [{"group", "protocol_type"}],
         "describe": {"state", "protocol_type", "protocol",
                      "members": [{"member_id", "client_id", "parts"}]}}
        ("parts": the member's partitions of "topic" in its assignment)
        or {"ev": "unsupported", "why": "..."}
  {"op": "offsets", "bootstrap", "group", "topic", "partitions"}
        the group's committed offsets (OffsetFetch), then DeleteGroups, then
        ListGroups and the offsets again; prints {"ev": "offsets",
        "offsets": {"<p>": offset}, "deleted": true, or null with "why" when
        the client cannot delete groups, "listed_after": bool,
        "offsets_after": {"<p>": offset}} (-1 or absent: none)
  {"op": "member", "bootstrap", "topic", "group", "name", "session_ms",
   "heartbeat_ms", "instance_id" (optional), "commit" (bool), "max" (0 = no limit)}
        subscribes to the topic in the group and prints one JSON line per
        event, "t" being the wall clock in milliseconds:
          {"ev": "assigned", "t", "parts": [..]}    (its rebalance callback)
          {"ev": "revoked", "t"}
          {"ev": "rec", "p", "o", "v"}
          {"ev": "committed", "p", "o"}            (after a synchronous commit)
          {"ev": "done"}      (after "max" records, all committed; it then
                               stays in the group without reading more)
          {"ev": "closed"}
          {"ev": "fatal", "why"}  (the client gave up: fenced, ...)
        and closes cleanly (LeaveGroup) when it reads "close" or end of file
        on its standard input.

The scenarios (one result row each):
  split 2 / split 3     members' assignments: union = all partitions, disjoint
  cooperative           (variants with the cooperative-sticky strategy) while
                        the third member joins, the first two only give
                        partitions up, one at a time, never all (KIP-429)
  admin list/describe   ListGroups/DescribeGroups show the members and their
                        assignments (as the members themselves reported them)
  SIGKILL member        the others take its partitions; time from the kill to
                        the new assignment, limit session timeout + 1 s
  clean close           the same after a close (LeaveGroup): time
  two groups            two groups each read every record of the topic
  commit + restarts     commit synchronously, SIGKILL the consumer, kill -9
                        the broker, restart it on the same port and data, produce
                        more, a new consumer resumes: nothing skipped,
                        duplicates counted (0 expected)
  group offsets, DeleteGroups
                        after that: the group's committed offsets through
                        the admin API are the end offsets; DeleteGroups
                        removes the group and its offsets
  static membership     group.instance.id: SIGKILL a member and restart it
                        within the session timeout; the other member sees no
                        rebalance and the restarted one gets its partitions back;
                        a second member with the same instance id fences the first

Python tests call run(); other languages run this file:

  groups_lib.py --client NAME [--static-skip WHY] [--no-leave-group WHY]
                [--variant NAME JSON]... -- MEMBER-COMMAND...

--static-skip: the client has no static membership (that scenario is
skipped); --no-leave-group: the client's close sends no LeaveGroup (the
clean-close scenario then only checks the takeover by the session timeout
and reports SKIP with the time); --variant: run the first scenarios (split,
admin, SIGKILL, close) again with JSON's keys added to each member's
configuration (say another protocol version or assignment strategy).

Standard library only.  KFK_GROUPS_LOG_LEVEL=debug runs kfkd with that
log level (the end of a broker's log is printed when a scenario fails);
KFK_GROUPS_BROKER_LOG=<file> keeps each broker's whole log in <file>.kfkd
and <file>.kafka; KFK_INTEROP_BROKERS picks the brokers (brokers.py); the
whole run stops after KFK_GROUPS_DEADLINE seconds (300).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import SkipScenario, check  # noqa: E402
# brokers and differential are imported by run(): they put tests/harness
# (whose kafka.py would hide kafka-python) on the path, which a member
# program must not see.

try:  # resolved here: the child of a threaded process should not dlopen
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except Exception:
    _prctl = None


def _die_with_parent():
    """In a member process: SIGTERM when the test dies (Linux)."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

PARTITIONS = 6
ALL = set(range(PARTITIONS))
# The same settings for both brokers (Kafka's property names).
OVERRIDES = {
    "num.partitions": str(PARTITIONS),
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    # Kafka creates __consumer_offsets on the first FindCoordinator and
    # recovers every partition of it after kill -9: one is enough here.
    "offsets.topic.num.partitions": "1",
    # After kill -9, Kafka's restarted broker cannot register again until
    # the controller has given up its old registration (9 s by default).
    # kfkd ignores both.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "4000",
}
SESSION_MS = 3000
HEARTBEAT_MS = 200
STATIC_SESSION_MS = 6000
OVERLAP_S = 10
DEADLINE_S = int(os.environ.get("KFK_GROUPS_DEADLINE", "300"))


def now_ms():
    return time.time() * 1000.0


class Member:
    """One member process and the events it printed."""

    def __init__(self, cmd, conf, logdir):
        self.name = conf.get("name") or conf["op"]
        self.conf = conf
        self.errpath = os.path.join(logdir, "member-%s-%d.err" % (
            self.name, int(time.time() * 1000) % 100000000))
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(
            cmd + [json.dumps(conf)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.err, close_fds=True,
            preexec_fn=_die_with_parent)
        self.events = []
        self.cv = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.decode("utf-8", "replace").strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ev["_rt"] = now_ms()
            ev.setdefault("t", ev["_rt"])
            with self.cv:
                self.events.append(ev)
                self.cv.notify_all()
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    # -- queries ------------------------------------------------------------
    def snapshot(self):
        with self.cv:
            return list(self.events)

    def assignment(self):
        """Partitions held now (None before the first assignment)."""
        for ev in reversed(self.snapshot()):
            if ev["ev"] == "assigned":
                return set(ev.get("parts") or [])
            if ev["ev"] == "revoked":
                return set()
        return None

    def last_assigned(self):
        for ev in reversed(self.snapshot()):
            if ev["ev"] == "assigned":
                return ev
        return None

    def group_events(self):
        return [e for e in self.snapshot() if e["ev"] in ("assigned", "revoked")]

    def records(self):
        return [e for e in self.snapshot() if e["ev"] == "rec"]

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                if pred(self.events):
                    return
                if self.eof and self.proc.poll() is not None:
                    raise AssertionError("%s exited (status %s) waiting for %s: %s"
                                         % (self.name, self.proc.returncode, what,
                                            self.stderr_tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: no %s within %.0f s" % (self.name, what, timeout))
                self.cv.wait(min(left, 0.2))

    def stderr_tail(self, n=5):
        try:
            with open(self.errpath, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return " | ".join(lines[-n:])[-600:]
        except OSError:
            return ""

    # -- actions ------------------------------------------------------------
    def close(self, timeout=20):
        """Ask for a clean close; returns the wall time it was asked."""
        t = now_ms()
        try:
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
        return t

    def kill9(self):
        t = now_ms()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        return t

    def reap(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except Exception:
                pass
        try:
            self.err.close()
        except Exception:
            pass


class Orchestrator:
    def __init__(self, client, member_cmd, static_skip=None,
                 session_ms=SESSION_MS, no_leave=None, variants=(), fenced_skip=None):
        self.fenced_skip = fenced_skip
        self.no_leave = no_leave
        self.variants = list(variants)
        self.client = client
        self.cmd = list(member_cmd)
        self.static_skip = static_skip
        from differential import Differential
        self.D = Differential("%s groups" % client)  # its rows in docs/interop.md
        self.R = None          # the current broker's Results
        self.all_timings = {}  # broker kind -> {scenario: ms}
        self.took = {}         # broker kind -> seconds
        self.session_ms = session_ms
        self.members = []      # running, or not yet reaped
        self.all_members = []  # for their stderr when something failed
        self.k = None
        self.timings = {}

    # -- plumbing -----------------------------------------------------------
    def spawn(self, conf):
        conf = dict(conf)
        conf.setdefault("bootstrap", self.k.bootstrap)
        m = Member(self.cmd, conf, self.k.dir)
        self.members.append(m)
        self.all_members.append(m)
        return m

    def member(self, name, group, topic, **kw):
        conf = {"op": "member", "name": name, "group": group, "topic": topic,
                "session_ms": self.session_ms, "heartbeat_ms": HEARTBEAT_MS,
                "commit": False, "max": 0}
        conf.update(kw)
        return self.spawn(conf)

    def one_shot(self, conf, ev, timeout=60):
        """Run a create/produce/admin op to completion; returns its event."""
        m = self.spawn(conf)
        try:
            m.wait(lambda evs: any(e["ev"] in (ev, "unsupported", "error") for e in evs),
                   timeout, "'%s' from %s" % (ev, conf["op"]))
            m.proc.wait(timeout)
        finally:
            m.reap()
        for e in m.snapshot():
            if e["ev"] == "error":
                raise AssertionError("%s: %s" % (conf["op"], e.get("why")))
            if e["ev"] == "unsupported":
                raise SkipScenario(e.get("why", "unsupported"))
            if e["ev"] == ev:
                if m.proc.returncode not in (0, None):
                    raise AssertionError("%s exited with %s" % (conf["op"], m.proc.returncode))
                return e
        raise AssertionError("no %s" % ev)

    def create(self, topic):
        self.one_shot({"op": "create", "topic": topic, "partitions": PARTITIONS}, "created")

    def produce(self, topic, n, prefix, start=0):
        self.one_shot({"op": "produce", "topic": topic, "partitions": PARTITIONS,
                       "n": n, "prefix": prefix, "start": start}, "produced")
        return ["%s-%d" % (prefix, i) for i in range(start, start + n)]

    def wait_split(self, members, timeout, quiet=1.0):
        """Wait until the members' assignments are disjoint, none empty, and
        cover every partition, and stay so for `quiet` seconds.  Returns
        their sets."""
        deadline = time.monotonic() + timeout
        stable_since = None
        overlap_since = None
        last = None
        while time.monotonic() < deadline:
            for m in members:
                if m.proc.poll() is not None:
                    raise AssertionError("%s exited (status %s): %s" % (
                        m.name, m.proc.returncode, m.stderr_tail()))
            sets = [m.assignment() for m in members]
            ok = all(s is not None for s in sets)
            if ok:
                union = set().union(*sets)
                ok = union == ALL and sum(len(s) for s in sets) == PARTITIONS
                # Every assignor gives each of up to 6 members a partition.
                ok = ok and all(sets)
            state = [tuple(sorted(s)) if s is not None else None for s in sets]
            # Members holding the same partitions for long: never in a group
            # (a revoke comes before the new assignment), so fail early.
            held = [s for s in sets if s]
            if sum(len(s) for s in held) > len(set().union(*held)) if held else False:
                overlap_since = overlap_since or time.monotonic()
                if time.monotonic() - overlap_since > OVERLAP_S:
                    raise AssertionError("members hold the same partitions for %.0f s: %s" % (
                        OVERLAP_S, ", ".join("%s=%s" % (m.name, fmt(m.assignment()))
                                             for m in members)))
            else:
                overlap_since = None
            if ok and state == last:
                if stable_since is None:
                    stable_since = time.monotonic()
                if time.monotonic() - stable_since >= quiet:
                    return sets
            else:
                stable_since = time.monotonic() if ok else None
            last = state
            time.sleep(0.05)
        raise AssertionError("no complete disjoint assignment within %.0f s: %s" % (
            timeout, ", ".join("%s=%s" % (m.name, fmt(m.assignment())) for m in members)))

    def reassigned_at(self, members):
        """Wall time at which the survivors' current assignment was complete:
        the latest of their last 'assigned' events."""
        return max(m.last_assigned()["t"] for m in members)

    # -- scenarios ----------------------------------------------------------
    def chain(self, variant=None, extra=None):
        """split 2, split 3, admin, SIGKILL, clean close on one group.
        A variant (say an assignment strategy) adds `extra` to each
        member's configuration and its name to the rows."""
        topic, group = "gt-chain", "g-chain"
        if variant:
            tag = re.sub(r"[^A-Za-z0-9._-]+", "-", variant)
            topic, group = topic + "-" + tag, group + "-" + tag
        sfx = " (%s)" % variant if variant else ""
        extra = extra or {}
        ms = {}

        def split2():
            self.create(topic)
            self.produce(topic, 60, "chain")
            ms["a"] = self.member("a", group, topic, **extra)
            ms["b"] = self.member("b", group, topic, **extra)
            t0 = time.monotonic()
            sets = self.wait_split([ms["a"], ms["b"]], 45)
            return "a=%s b=%s (stable %.1f s after start)" % (
                fmt(sets[0]), fmt(sets[1]), time.monotonic() - t0 - 1.0)
        if self.R.run("split 6 partitions, 2 members" + sfx, split2) is None:
            return

        before = {}

        def split3():
            for n in "ab":
                before[n] = len(ms[n].group_events())
            ms["c"] = self.member("c", group, topic, **extra)
            sets = self.wait_split([ms["a"], ms["b"], ms["c"]], 45)
            return "a=%s b=%s c=%s" % tuple(fmt(s) for s in sets)
        if self.R.run("split 6 partitions, 3 members" + sfx, split3) is None:
            return

        def incremental():
            # KIP-429: the members already there give up only what moves to
            # the new one (never everything), and never hold a partition
            # the new one holds.
            out = []
            for n in "ab":
                evs = ms[n].group_events()
                prev = None
                for e in evs[:before[n]]:
                    prev = set(e.get("parts") or []) if e["ev"] == "assigned" else set()
                steps = [fmt(prev)]
                for e in evs[before[n]:]:
                    check(e["ev"] == "assigned", "%s: all its partitions revoked" % n)
                    cur = set(e.get("parts") or [])
                    check(prev is None or cur <= prev,
                          "%s: got %s while the third member joined (had %s)" % (
                              n, fmt(cur - prev), fmt(prev)))
                    check(cur, "%s: left with nothing" % n)
                    steps.append(fmt(cur))
                    prev = cur
                out.append("%s %s" % (n, " -> ".join(steps)))
            return "only the moved partitions revoked: " + "; ".join(out)
        if extra.get("strategy") == "cooperative-sticky" or extra.get("cooperative"):
            self.R.run("cooperative: a joining member takes only what moves" + sfx,
                       incremental)

        def admin():
            out = self.one_shot({"op": "admin", "group": group, "topic": topic}, "admin")
            listed = [g for g in out.get("list", []) if g.get("group") == group]
            check(listed, "ListGroups does not show %s: %s" % (group, out.get("list")))
            ptype = listed[0].get("protocol_type")
            check(ptype in (None, "consumer"), "ListGroups protocol type %r" % ptype)
            d = out.get("describe") or {}
            check(d.get("state") == "Stable", "DescribeGroups state %r" % d.get("state"))
            check(d.get("protocol_type") == "consumer",
                  "DescribeGroups protocol type %r" % d.get("protocol_type"))
            mem = d.get("members") or []
            check(len(mem) == 3, "DescribeGroups shows %d members, want 3" % len(mem))
            described = sorted(tuple(sorted(x.get("parts") or [])) for x in mem)
            reported = sorted(tuple(sorted(ms[n].assignment() or [])) for n in "abc")
            check(described == reported,
                  "DescribeGroups assignments %s, members report %s" % (described, reported))
            return "ListGroups has %s (%s); DescribeGroups: Stable, protocol %s, 3 members, assignments %s" % (
                group, ptype or "?", d.get("protocol"), " ".join(fmt(s) for s in described))
        self.R.run("ListGroups/DescribeGroups" + sfx, admin)

        def kill():
            t_kill = ms["c"].kill9()
            sets = self.wait_split([ms["a"], ms["b"]], self.session_ms / 1000.0 + 20, quiet=0.5)
            dt = self.reassigned_at([ms["a"], ms["b"]]) - t_kill
            self.timings["kill" + sfx] = dt
            limit = self.session_ms + 1000
            check(dt <= limit, "reassigned %.0f ms after the kill, limit %d ms (a=%s b=%s)"
                  % (dt, limit, fmt(sets[0]), fmt(sets[1])))
            return "a=%s b=%s %.0f ms after SIGKILL (session.timeout %d ms)" % (
                fmt(sets[0]), fmt(sets[1]), dt, self.session_ms)
        if self.R.run("SIGKILL a member: others take over" + sfx, kill) is None:
            return

        def close():
            t_close = ms["b"].close()
            check(ms["b"].proc.returncode == 0, "closing member exited with %s: %s"
                  % (ms["b"].proc.returncode, ms["b"].stderr_tail()))
            sets = self.wait_split([ms["a"]], 20, quiet=0.5)
            dt = self.reassigned_at([ms["a"]]) - t_close
            self.timings["close" + sfx] = dt
            if self.no_leave:
                check(dt <= self.session_ms + 1000, "reassigned %.0f ms after close, limit "
                      "%d ms" % (dt, self.session_ms + 1000))
                raise SkipScenario("%s: a=%s %.0f ms after close, by the session timeout"
                                   % (self.no_leave, fmt(sets[0]), dt))
            check(dt < self.session_ms, "reassigned %.0f ms after close: not before the session "
                  "timeout (%d ms)" % (dt, self.session_ms))
            return "a=%s %.0f ms after close" % (fmt(sets[0]), dt)
        self.R.run("clean close: rebalance at once" + sfx, close)
        ms["a"].close()

    def two_groups(self):
        topic = "gt-two"
        self.create(topic)
        values = set(self.produce(topic, 60, "two"))
        m1 = self.member("x", "g-two-1", topic)
        m2 = self.member("y", "g-two-2", topic)

        def full(evs):
            return values <= {e.get("v") for e in evs if e["ev"] == "rec"}
        m1.wait(full, 45, "all 60 records in g-two-1")
        m2.wait(full, 45, "all 60 records in g-two-2")
        r1, r2 = m1.records(), m2.records()
        m1.close()
        m2.close()
        check(len(r1) == len(values) and len(r2) == len(values),
              "duplicates: g-two-1 read %d, g-two-2 %d records" % (len(r1), len(r2)))
        return "g-two-1 read %d/%d, g-two-2 %d/%d" % (len(r1), len(values), len(r2), len(values))

    def commit_restart(self):
        topic, group = "gt-commit", "g-commit"
        self.create(topic)
        first = self.produce(topic, 60, "c")
        m1 = self.member("c1", group, topic, commit=True, max=30)
        m1.wait(lambda evs: any(e["ev"] == "done" for e in evs), 45, "30 records committed")
        run1 = [e["v"] for e in m1.records()]
        # Every record read must be covered by a confirmed commit (one per
        # record, or per partition for a client that commits in the
        # background and confirmed it with OffsetFetch).
        top = {}
        for e in m1.snapshot():
            if e["ev"] == "committed":
                top[e["p"]] = max(top.get(e["p"], -1), e["o"])
        uncommitted = [e for e in m1.records() if e["o"] > top.get(e["p"], -1)]
        check(not uncommitted, "read but not committed: %s" % [
            (e["p"], e["o"]) for e in uncommitted][:10])
        m1.kill9()
        self.k.kill9()
        t_restart = now_ms()
        self.k.restart()
        t_up = now_ms()
        more = self.produce(topic, 30, "c", start=60)
        allv = set(first) | set(more)
        m2 = self.member("c2", group, topic, commit=True)
        want = allv - set(run1)
        m2.wait(lambda evs: want <= {e.get("v") for e in evs if e["ev"] == "rec"},
                self.session_ms / 1000.0 + 40, "the %d records not read before" % len(want))
        time.sleep(0.3)
        run2 = [e["v"] for e in m2.records()]
        m2.close()
        skipped = allv - set(run1) - set(run2)
        # Records read more than once, across both runs and within each.
        dups = len(run1) + len(run2) - len(set(run1) | set(run2))
        first_rec = min(e["_rt"] for e in m2.records())
        detail = ("run 1 read and committed %d; consumer and broker killed, broker restarted "
                  "(ready in %.1f s); run 2 read %d; skipped %d, duplicates %d; first record "
                  "%.1f s after the broker was ready"
                  % (len(run1), (t_up - t_restart) / 1000.0, len(run2), len(skipped), dups,
                     (first_rec - t_up) / 1000.0))
        check(not skipped, "skipped %d records: %s" % (len(skipped), sorted(skipped)[:10]))
        check(dups == 0, "duplicates after a synchronous commit: " + detail)
        self.commit_ok = True
        return detail

    def offsets_delete(self):
        """The commit scenario's group, now Empty: committed offsets through
        the admin API, then DeleteGroups."""
        if not getattr(self, "commit_ok", False):
            raise SkipScenario("needs the commit scenario's group")
        topic, group = "gt-commit", "g-commit"
        out = self.one_shot({"op": "offsets", "group": group, "topic": topic,
                             "partitions": PARTITIONS}, "offsets")
        got = {int(p): o for p, o in (out.get("offsets") or {}).items()}
        want = {p: 15 for p in range(PARTITIONS)}  # 90 records, all read and committed
        check(got == want, "committed offsets %s, want %s" % (got, want))
        detail = "OffsetFetch: 15 on each of the 6 partitions"
        if out.get("deleted") is None:
            return detail + "; DeleteGroups: %s" % out.get("why", "no API")
        check(out["deleted"] is True, "DeleteGroups failed: %s" % out.get("why"))
        check(not out.get("listed_after"), "the group is still listed after DeleteGroups")
        left = {int(p): o for p, o in (out.get("offsets_after") or {}).items() if o >= 0}
        check(not left, "offsets left after DeleteGroups: %s" % left)
        return detail + "; DeleteGroups: deleted, no longer listed, no offsets left"

    def static(self):
        """Restart each of two static members in turn (one of them is the
        group's leader): SIGKILL, start again with the same
        group.instance.id within the session timeout."""
        if self.static_skip:
            raise SkipScenario(self.static_skip)
        topic, group = "gt-static", "g-static"
        self.create(topic)
        s = STATIC_SESSION_MS
        cur = {"inst-1": self.member("s1", group, topic, instance_id="inst-1", session_ms=s),
               "inst-2": self.member("s2", group, topic, instance_id="inst-2", session_ms=s)}
        sets = self.wait_split(list(cur.values()), 45)
        had = {"inst-1": sets[0], "inst-2": sets[1]}
        out = []
        try:
            for victim, other in (("inst-1", "inst-2"), ("inst-2", "inst-1")):
                o = cur[other]
                before = len(o.group_events())
                t_kill = cur[victim].kill9()
                again = self.member(victim + "-again", group, topic, instance_id=victim,
                                    session_ms=s)
                cur[victim] = again
                again.wait(lambda evs: any(e["ev"] == "assigned" for e in evs),
                           s / 1000.0 + 20, "an assignment after the restart")
                back = again.last_assigned()["t"] - t_kill
                # A rebalance, had there been one, would come by the session timeout.
                until = t_kill + s + 1000
                while now_ms() < until:
                    time.sleep(0.1)
                o_events = o.group_events()[before:]
                got = again.assignment()
                check(not o_events, "%s restarted: %s saw a rebalance: %s" % (
                    victim, other, [(e["ev"], e.get("parts")) for e in o_events]))
                check(got == had[victim], "%s restarted, got %s, had %s" % (
                    victim, fmt(got), fmt(had[victim])))
                check(back < s, "%s assigned %.0f ms after the kill" % (victim, back))
                out.append("%s got %s back %.0f ms after SIGKILL, %s kept %s" % (
                    victim, fmt(got), back, other, fmt(had[other])))
        finally:
            for m in cur.values():
                m.close()
        return "; ".join(out) + "; no rebalance within session.timeout (%d ms) + 1 s" % s

    def static_fenced(self):
        """A second member with a group.instance.id in use takes the
        identity over; the first is fenced (FENCED_INSTANCE_ID, fatal for
        the client: its member program prints a "fatal" event)."""
        if self.static_skip or self.fenced_skip:
            raise SkipScenario(self.static_skip or self.fenced_skip)
        topic, group = "gt-fence", "g-fence"
        self.create(topic)
        s = STATIC_SESSION_MS
        a = self.member("f1", group, topic, instance_id="inst-f", session_ms=s)
        try:
            a.wait(lambda evs: any(e["ev"] == "assigned" for e in evs), 30, "an assignment")
            b = self.member("f2", group, topic, instance_id="inst-f", session_ms=s)
            b.wait(lambda evs: any(e["ev"] == "assigned" for e in evs), 30,
                   "an assignment for the second member")
            a.wait(lambda evs: any(e["ev"] == "fatal" for e in evs), 15,
                   "the first member fenced")
            why = [e for e in a.snapshot() if e["ev"] == "fatal"][0].get("why", "")
            check("fenced" in why.lower() or "FENCED" in why,
                  "first member stopped, not fenced: %s" % why)
            return "second member got %s, the first stopped with: %s" % (
                fmt(b.assignment()), why[:120])
        finally:
            for m in self.members:
                if m.conf.get("group") == group:
                    m.close(5)

    # -- driver -------------------------------------------------------------
    def scenarios(self):
        """Every scenario, in order, against the broker self.k."""
        self.commit_ok = False
        self.chain()
        self.reap()
        for name, extra in self.variants:
            self.chain(name, extra)
            self.reap()
        self.R.run("two groups read the topic independently", self.two_groups)
        self.reap()
        self.R.run("commit, SIGKILL consumer + kill -9 broker, resume", self.commit_restart)
        self.reap()
        self.R.run("group offsets and DeleteGroups through admin", self.offsets_delete)
        self.reap()
        self.R.run("static membership: restart without rebalance", self.static)
        self.reap()
        self.R.run("static membership: duplicate instance id fenced", self.static_fenced)
        self.reap()

    def on_broker(self, b):
        """The scenarios against one broker; its log and the members'
        standard error are printed when one failed."""
        self.k = b
        self.R = self.D.results()
        self.timings = self.all_timings.setdefault(b.kind, {})
        self.all_members = []
        print("%s on %s (dir %s)" % (b.kind, b.bootstrap, b.dir), flush=True)
        t0 = time.monotonic()
        try:
            self.scenarios()
        except SystemExit:
            raise
        except Exception as e:  # the broker itself failed
            self.R.fail("broker", "%s: %s" % (type(e).__name__, e))
        finally:
            self.reap()
            self.took[b.kind] = time.monotonic() - t0
            print("scenarios on %s took %.1f s" % (b.kind, self.took[b.kind]), flush=True)
            if self.R.failed():
                for m in self.all_members:
                    tail = m.stderr_tail(20)
                    if tail:
                        sys.stderr.write("---- %s stderr: %s\n" % (m.name, tail))
                b.dump_log(tail=150)
            keep = os.environ.get("KFK_GROUPS_BROKER_LOG")
            if keep:
                with open("%s.%s" % (keep, b.kind), "w") as f:
                    f.write(b.log())

    def run(self):
        # A timeout's SIGTERM unwinds through the finally below, so the
        # members and the broker are stopped and its directory removed.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        # The whole run is bounded too (a hung client cannot hold it).
        signal.signal(signal.SIGALRM, lambda *_: sys.exit(142))
        signal.alarm(DEADLINE_S)
        terminated = False
        level = os.environ.get("KFK_GROUPS_LOG_LEVEL")
        from brokers import each_broker
        brokers = each_broker(self.D, OVERRIDES, log_level=level)
        t0 = time.monotonic()
        try:
            for b in brokers:
                self.on_broker(b)
        except SystemExit as e:
            self.D.results().fail("whole test", "not finished after %d s" % DEADLINE_S
                                  if e.code == 142 else "terminated (SIGTERM)")
            terminated = True
        finally:
            self.reap()
            brokers.close()
        signal.alarm(0)
        self.D.table()
        for kind, tm in sorted(self.all_timings.items()):
            if tm:
                print("timings on %s: %s" % (kind, ", ".join(
                    "%s %.0f ms" % kv for kv in sorted(tm.items()))))
        print("run time: %s; %.1f s in all" % (", ".join(
            "%s %.1f s" % kv for kv in self.took.items()), time.monotonic() - t0), flush=True)
        return 1 if terminated else self.D.exit_code()

    def reap(self):
        for m in self.members:
            m.reap()
        self.members = [m for m in self.members if m.proc.poll() is None]


def fmt(s):
    if s is None:
        return "-"
    return "[" + ",".join(str(p) for p in sorted(s)) + "]"


def run(client, member_cmd, static_skip=None, no_leave=None, variants=(), fenced_skip=None):
    """variants: (name, {member conf}) pairs; the first scenarios (split,
    admin, SIGKILL, close) run again for each, say with another assignment
    strategy (the member takes "strategy" from its configuration)."""
    return Orchestrator(client, member_cmd, static_skip=static_skip, no_leave=no_leave,
                        variants=variants, fenced_skip=fenced_skip).run()


# -- which interpreter runs a Python member program -------------------------
SOURCE_DIR = os.environ.get("KFK_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def venv_python():
    """The interpreter of the peers' virtual environment (scripts/peers.sh
    python: today's Python clients), or None."""
    peers = os.environ.get("KFK_PEERS_DIR") or os.path.join(SOURCE_DIR, ".peers")
    py = os.path.join(peers, "venv", "bin", "python")
    return py if os.access(py, os.X_OK) else None


def client_version(python, module):
    """module.__version__ as `python` imports it (from a folder without a
    kafka.py), or None when it cannot."""
    code = ("import importlib, sys; m = importlib.import_module(sys.argv[1]); "
            "print(getattr(m, '__version__', None) or m.version()[0])")
    try:
        r = subprocess.run([python, "-c", code, module], capture_output=True, text=True,
                           timeout=60, cwd=os.path.dirname(os.path.abspath(__file__)))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def find_python(module, candidates):
    """The first interpreter of `candidates` (None entries skipped) that
    imports `module`: (python, version), or (None, None)."""
    for py in candidates:
        if py and os.access(py, os.X_OK):
            v = client_version(py, module)
            if v:
                return py, v
    return None, None


# -- helpers for member programs written in Python --------------------------
def emit(ev, **kw):
    kw["ev"] = ev
    kw.setdefault("t", now_ms())
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def watch_stdin(on_close):
    """Call on_close() when "close" or end of file arrives on stdin."""
    def loop():
        for line in sys.stdin:
            if line.strip() == "close":
                break
        on_close()
    threading.Thread(target=loop, daemon=True).start()


def decode_assignment(b):
    """ConsumerProtocolAssignment bytes -> {topic: [partitions]}."""
    import struct
    out = {}
    if not b:
        return out
    pos = 2  # version
    (nt,) = struct.unpack_from(">i", b, pos)
    pos += 4
    for _ in range(max(nt, 0)):
        (ln,) = struct.unpack_from(">h", b, pos)
        pos += 2
        topic = b[pos:pos + ln].decode("utf-8")
        pos += ln
        (np,) = struct.unpack_from(">i", b, pos)
        pos += 4
        parts = list(struct.unpack_from(">%di" % np, b, pos)) if np > 0 else []
        pos += 4 * max(np, 0)
        out[topic] = parts
    return out


def main(argv):
    client, static_skip, no_leave, variants = "client", None, None, []
    args = argv[1:]
    while args and args[0] != "--":
        if args[0] == "--client":
            client = args[1]
            args = args[2:]
        elif args[0] == "--static-skip":
            static_skip = args[1]
            args = args[2:]
        elif args[0] == "--variant":
            variants.append((args[1], json.loads(args[2])))
            args = args[3:]
        elif args[0] == "--no-leave-group":
            no_leave = args[1]
            args = args[2:]
        else:
            print("usage: groups_lib.py --client NAME [--static-skip WHY] "
                  "[--no-leave-group WHY] [--variant NAME JSON]... -- CMD...",
                  file=sys.stderr)
            return 2
    if not args[1:]:
        print("groups_lib.py: no member command", file=sys.stderr)
        return 2
    return run(client, args[1:], static_skip, no_leave, variants)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
