#!/usr/bin/env python3
"""differential.py -- the verdict of an interop test that ran the same
scenarios against kfkd and Apache Kafka.

Every scenario is a check written to what Apache Kafka does; running it
against both brokers checks kfkd and the check itself.  Per scenario:

    kfkd   kafka   verdict
    PASS   PASS    pass
    FAIL   FAIL    fail (the check, or the client, is wrong)
    PASS   FAIL    fail: kfkd differs from Kafka ...
    FAIL   PASS    ... unless docs/interop.md lists the difference under
                   "Deliberate differences from Apache Kafka" (then: pass,
                   shown as DIFF with the listed reason).  A "deliberate:"
                   row excuses only kfkd PASS / Kafka FAIL (kfkd doing
                   more), a "not yet:" row only kfkd FAIL / Kafka PASS.
    one side SKIP  that side's result stands (a broker-specific scenario,
                   or a broker that is not installed)

Python tests use the class:

    D = Differential("kcat")
    for b in each_broker(D, overrides):     # brokers.py
        R = D.results()                     # this broker's Results
        R.run("scenario", fn, b.bootstrap)
    D.table(); sys.exit(D.exit_code())

Shell and node tests write rows "broker<TAB>status<TAB>scenario<TAB>detail"
to a file and call `differential.py report CLIENT FILE`, which prints the
table and exits 0 or 1.

The listed differences are the rows of the markdown table in the section
"## Deliberate differences from Apache Kafka" of docs/interop.md, columns
client | scenario | kfkd | Apache Kafka | reason; client `*` matches every
client, and scenario may end in `*` to match every scenario that starts so.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("KFK_SOURCE_DIR") or os.path.normpath(
    os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

from kfkd_harness import Results  # noqa: E402

SECTION = "## Deliberate differences from Apache Kafka"


def _cells(line):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return [c.strip("`").strip() for c in cells]


def listed_differences(path=None):
    """[(client, scenario, reason)] from docs/interop.md."""
    path = path or os.path.join(SOURCE_DIR, "docs", "interop.md")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    i = text.find(SECTION)
    if i < 0:
        return []
    body = text[i + len(SECTION):]
    j = re.search(r"^## ", body, re.M)
    if j:
        body = body[:j.start()]
    out = []
    rows = [l for l in body.splitlines() if l.strip().startswith("|")]
    for line in rows[2:]:  # after the header and the --- row
        c = _cells(line)
        if len(c) >= 5:
            out.append((c[0], c[1], c[4]))
    return out


def _matches(pattern, s):
    if pattern.endswith("*"):
        return s.startswith(pattern[:-1])
    return pattern == s


class Differential:
    def __init__(self, client, docs=None):
        self.client = client
        self.known = [d for d in listed_differences(docs)
                      if d[0] in ("*", client)]
        self.by_broker = {}      # kind -> Results
        self.order = []          # scenario names in first-seen order
        self.kinds = []
        self.current = None
        self.notes = []
        self.failed_brokers = []

    # -- collecting --------------------------------------------------------
    def begin(self, kind, broker=None):
        self.current = kind
        if kind not in self.kinds:
            self.kinds.append(kind)
        r = self.by_broker.get(kind)
        if r is None:
            r = Results("%s on %s" % (self.client, kind))
            self.by_broker[kind] = r
        print("==== %s on %s%s ====" % (
            self.client, kind,
            (" " + broker.version) if getattr(broker, "version", "") else ""),
            flush=True)
        return r

    def end(self, kind):
        self.current = None

    def results(self, kind=None):
        kind = kind or self.current
        return self.by_broker.get(kind) or self.begin(kind)

    def broker_missing(self, kind, why):
        if os.environ.get("KFK_REQUIRE_PEERS") == "1":
            self.broker_failed(kind, why + " (KFK_REQUIRE_PEERS=1)")
            return
        self.notes.append("%s: skipped: %s" % (kind, why))
        if kind not in self.kinds:
            self.kinds.append(kind)
        print("[SKIP] every scenario on %s: %s" % (kind, why), flush=True)

    def broker_failed(self, kind, why):
        self.failed_brokers.append((kind, why))
        if kind not in self.kinds:
            self.kinds.append(kind)
        print("[FAIL] %s: %s" % (kind, why), flush=True)

    def add_row(self, kind, status, scenario, detail=""):
        self.results(kind).add(scenario, status, detail)

    # -- the verdict -------------------------------------------------------
    def _listed(self, scenario):
        for client, pat, reason in self.known:
            if _matches(pat, scenario):
                return reason
        return None

    @staticmethod
    def _wrong_way(reason, sts):
        """A listed difference excuses only its own direction: a
        "deliberate:" one is kfkd doing more than Kafka (kfkd passes, Kafka
        fails), a "not yet:" one kfkd lacking what Kafka has (kfkd fails).
        Returns why the observed difference is the other way, or None."""
        if not reason or "kfkd" not in sts:
            return None
        if reason.startswith("deliberate") and sts["kfkd"] == "FAIL":
            return ("kfkd fails a scenario listed as a deliberate difference "
                    "(where kfkd does more than Kafka): a regression")
        if reason.startswith("not yet") and sts["kfkd"] == "PASS":
            return ("kfkd now passes a scenario listed as \"not yet\": "
                    "remove its row from docs/interop.md")
        return None

    def verdicts(self):
        """[(scenario, {kind: (status, detail)}, verdict, note)]."""
        names = []
        for kind in self.kinds:
            r = self.by_broker.get(kind)
            for s, _, _ in (r.rows if r else []):
                if s not in names:
                    names.append(s)
        out = []
        for s in names:
            per = {}
            for kind in self.kinds:
                r = self.by_broker.get(kind)
                for name, st, d in (r.rows if r else []):
                    if name == s:
                        per[kind] = (st, d)  # the last row of that name wins
            sts = {k: v[0] for k, v in per.items() if v[0] != "SKIP"}
            if not sts:
                out.append((s, per, "SKIP", ""))
                continue
            vals = set(sts.values())
            if vals == {"PASS"}:
                out.append((s, per, "PASS", ""))
            elif vals == {"FAIL"} and list(sts) == ["kfkd"] and \
                    self._listed(s):
                # Kafka did not run it (not installed): kfkd's listed
                # difference stands.
                out.append((s, per, "DIFF", "listed: " + self._listed(s)))
            elif vals == {"FAIL"}:
                out.append((s, per, "FAIL", "fails on every broker"))
            else:
                reason = self._listed(s)
                wrong = self._wrong_way(reason, sts)
                if reason and wrong:
                    out.append((s, per, "FAIL", wrong))
                elif reason:
                    out.append((s, per, "DIFF", "listed: " + reason))
                else:
                    bad = ",".join(k for k, v in sts.items() if v == "FAIL")
                    out.append((s, per, "FAIL",
                                "differs from Apache Kafka (fails on %s); "
                                "fix it or list it in docs/interop.md" % bad))
        return out

    def table(self, out=None):
        out = out or sys.stdout
        vs = self.verdicts()
        w = max([len(v[0]) for v in vs] + [8])
        out.write("\n%s interop results (%s)\n" % (self.client,
                                                  " vs ".join(self.kinds)))
        head = "%-*s  %s  %-4s  %s\n" % (
            w, "scenario", "  ".join("%-5s" % k[:5] for k in self.kinds),
            "", "detail")
        out.write(head)
        out.write("%s\n" % ("-" * min(len(head) + 20, 160)))
        for s, per, verdict, note in vs:
            cols = "  ".join("%-5s" % per.get(k, ("-", ""))[0][:5]
                             for k in self.kinds)
            detail = note
            if not detail:
                ds = [(k, per[k][1]) for k in self.kinds
                      if k in per and per[k][1] and per[k][0] != "SKIP"]
                ds = ds or [(k, per[k][1]) for k in self.kinds
                            if k in per and per[k][1]]
                if len(set(d for _, d in ds)) > 1:
                    detail = " | ".join("%s: %s" % kd for kd in ds)
                else:
                    detail = ds[0][1] if ds else ""
            if verdict == "FAIL":
                fd = ["%s: %s" % (k, per[k][1]) for k in self.kinds
                      if k in per and per[k][0] == "FAIL" and per[k][1]]
                if fd:
                    detail += " | " + " | ".join(fd)
            out.write("%-*s  %s  %-4s  %s\n" % (w, s, cols, verdict,
                                               detail[:400]))
        for kind, why in self.failed_brokers:
            out.write("broker %s: FAIL: %s\n" % (kind, why))
        for n in self.notes:
            out.write("note: %s\n" % n)
        nf = len([v for v in vs if v[2] == "FAIL"]) + len(self.failed_brokers)
        nd = len([v for v in vs if v[2] == "DIFF"])
        ns = len([v for v in vs if v[2] == "SKIP"])
        npass = len([v for v in vs if v[2] == "PASS"]) + nd
        try:
            self.save()
        except OSError as e:
            out.write("note: results not saved: %s\n" % e)
        out.write("%d scenarios: %d passed, %d failed, %d skipped "
                  "(%d of the passed are listed differences)\n"
                  % (len(vs), npass, nf, ns, nd))
        out.flush()

    def save(self, d=None):
        """Write the verdicts to <d>/<client>.json (d: KFK_INTEROP_RESULTS,
        which ctest sets to <build>/interop-results), for summary.py."""
        import json
        d = d or os.environ.get("KFK_INTEROP_RESULTS")
        if not d:
            return
        os.makedirs(d, exist_ok=True)
        rows = [{"scenario": s, "verdict": v, "note": n,
                 "brokers": {k: {"status": st, "detail": de}
                             for k, (st, de) in per.items()}}
                for s, per, v, n in self.verdicts()]
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.client)
        tmp = os.path.join(d, name + ".json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"client": self.client, "brokers": self.kinds,
                       "failed_brokers": self.failed_brokers,
                       "notes": self.notes, "scenarios": rows}, f, indent=1)
        os.replace(tmp, os.path.join(d, name + ".json"))

    def exit_code(self):
        vs = self.verdicts()
        if self.failed_brokers or not vs:
            return 1
        return 1 if any(v[2] == "FAIL" for v in vs) else 0


def main(argv):
    if len(argv) != 4 or argv[1] != "report":
        print("usage: differential.py report CLIENT ROWS_FILE",
              file=sys.stderr)
        return 2
    d = Differential(argv[2])
    with open(argv[3], encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            kind, st, sc = parts[:3]
            de = parts[3] if len(parts) > 3 else ""
            if sc == "__broker_missing__":
                d.broker_missing(kind, de)
            elif sc == "__broker_failed__":
                d.broker_failed(kind, de)
            else:
                if kind not in d.kinds:
                    d.kinds.append(kind)
                d.add_row(kind, st, sc, de)
    d.table()
    return d.exit_code()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
