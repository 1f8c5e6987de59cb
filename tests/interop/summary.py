#!/usr/bin/env python3
"""summary.py -- the client x scenario x broker totals of an interop run.

    python3 tests/interop/summary.py [DIR]     (default build/interop-results)

Reads the <client>.json files the differential tests leave in DIR (ctest
sets KFK_INTEROP_RESULTS to <build>/interop-results) and prints a markdown
table: per client, how many scenarios ran, passed on every broker, passed
as a listed difference, failed and were skipped, and each broker's own
pass/fail/skip counts.  docs/interop.md carries its output.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    d = argv[1] if len(argv) > 1 else os.path.join(
        os.environ.get("KFK_BUILD_DIR") or os.path.join(HERE, "..", "..",
                                                        "build"),
        "interop-results")
    files = sorted(f for f in os.listdir(d) if f.endswith(".json"))
    kinds = ["kfkd", "kafka"]
    print("| client | scenarios | pass (same on both) | listed differences "
          "| fail | skip | " + " | ".join("%s pass/fail/skip" % k
                                           for k in kinds) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(kinds))
    tot = [0] * 5
    tb = {k: [0, 0, 0] for k in kinds}
    for f in files:
        with open(os.path.join(d, f), encoding="utf-8") as fh:
            r = json.load(fh)
        sc = r["scenarios"]
        v = [s["verdict"] for s in sc]
        row = [len(sc), v.count("PASS"), v.count("DIFF"),
               v.count("FAIL") + len(r.get("failed_brokers", [])),
               v.count("SKIP")]
        per = {}
        for k in kinds:
            st = [s["brokers"].get(k, {}).get("status") for s in sc]
            per[k] = [st.count("PASS"), st.count("FAIL"), st.count("SKIP")]
            for i in range(3):
                tb[k][i] += per[k][i]
        for i in range(5):
            tot[i] += row[i]
        print("| %s | %s | %s |" % (
            r["client"], " | ".join(str(x) for x in row),
            " | ".join("%d/%d/%d" % tuple(per[k]) for k in kinds)))
    print("| **total** | %s | %s |" % (
        " | ".join("**%d**" % x for x in tot),
        " | ".join("**%d/%d/%d**" % tuple(tb[k]) for k in kinds)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
