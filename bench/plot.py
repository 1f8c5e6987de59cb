#!/usr/bin/env python3
"""SVG line charts of bench results (python3 stdlib only).

    plot.py latest.json OUTDIR

Writes throughput_vs_record_size.svg, throughput_vs_partitions.svg,
throughput_vs_producers.svg and latency_vs_rate.svg.
"""
import json
import math
import os
import sys

W, H = 640, 400
ML, MR, MT, MB = 80, 150, 40, 55
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
          "#e377c2", "#7f7f7f", "#17becf"]
# The brokers of a series, in legend order; "kafka" is Apache Kafka.
BROKERS = (("kfkd", "kfkd"), ("kafka", "Kafka"), ("mock", "mock"))


def values(series, key, field):
    """(legend name, ys) per broker present in series[key]; a point that
    was not measured (None) is left out of the line."""
    return [(name, [r[field] if r else None for r in series[key][w]])
            for w, name in BROKERS
            if any(series[key].get(w) or [])]


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def nice(v):
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:g}G"
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def ticks(lo, hi, log):
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        return [10 ** e for e in range(a, b + 1)]
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / 4))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 6:
            step *= m
            break
    t, v = [], math.floor(lo / step) * step
    while v <= hi + step * 1e-9:
        t.append(v)
        v += step
    return t


def chart(path, title, xlabel, ylabel, xs, series, logx=False, logy=False,
          dashed=()):
    """series: list of (name, ys); None values are skipped."""
    pts = [y for _, ys in series for y in ys if y is not None and y > 0]
    if not pts:
        return
    ylo, yhi = (min(pts), max(pts)) if logy else (0, max(pts) * 1.1)
    xlo, xhi = min(xs), max(xs)
    xt, yt = ticks(xlo, xhi, logx), ticks(ylo, yhi, logy)
    xlo, xhi = (min(xt[0], xlo), max(xt[-1], xhi)) if logx else (xlo, xhi)
    ylo, yhi = (yt[0], yt[-1]) if logy else (0, max(yt[-1], yhi))
    pw, ph = W - ML - MR, H - MT - MB

    def fx(x):
        if xhi == xlo:
            return ML + pw / 2
        if logx:
            return ML + pw * (math.log10(x) - math.log10(xlo)) / (
                math.log10(xhi) - math.log10(xlo))
        return ML + pw * (x - xlo) / (xhi - xlo)

    def fy(y):
        if logy:
            return MT + ph - ph * (math.log10(y) - math.log10(ylo)) / (
                math.log10(yhi) - math.log10(ylo))
        return MT + ph - ph * (y - ylo) / (yhi - ylo)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">'
         f'{esc(title)}</text>']
    for t in yt:
        if ylo <= t <= yhi:
            y = fy(t)
            o.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML + pw}" '
                     f'y2="{y:.1f}" stroke="#ddd"/>')
            o.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{nice(t)}</text>')
    xt_draw = xs if not logx else [t for t in xt if xlo <= t <= xhi]
    for t in xt_draw:
        x = fx(t)
        o.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" '
                 f'y2="{MT + ph}" stroke="#eee"/>')
        o.append(f'<text x="{x:.1f}" y="{MT + ph + 16}" '
                 f'text-anchor="middle">{nice(t)}</text>')
    o.append(f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" '
             f'fill="none" stroke="#333"/>')
    o.append(f'<text x="{ML + pw / 2}" y="{H - 12}" text-anchor="middle">'
             f'{esc(xlabel)}</text>')
    o.append(f'<text transform="translate(16,{MT + ph / 2}) rotate(-90)" '
             f'text-anchor="middle">{esc(ylabel)}</text>')
    for i, (name, ys) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        dash = ' stroke-dasharray="6,4"' if name in dashed else ""
        p = [(fx(x), fy(y)) for x, y in zip(xs, ys)
             if y is not None and y > 0]
        if not p:
            continue
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in p)
        o.append(f'<polyline points="{d}" fill="none" stroke="{c}" '
                 f'stroke-width="2"{dash}/>')
        for x, y in p:
            o.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
        ly = MT + 10 + 18 * i
        o.append(f'<line x1="{ML + pw + 10}" y1="{ly}" x2="{ML + pw + 30}" '
                 f'y2="{ly}" stroke="{c}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{ML + pw + 35}" y="{ly + 4}">{esc(name)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    res = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    s = res.get("series", {})
    ceil = res.get("ceiling", {})
    if "size" in s:
        xs = s["size"]["x"]
        ser = values(s, "size", "mbps")
        if ceil.get("pagecache_mbps"):
            ser.append(("page cache", [ceil["pagecache_mbps"]] * len(xs)))
        if ceil.get("loopback_mbps"):
            ser.append(("loopback", [ceil["loopback_mbps"]] * len(xs)))
        chart(os.path.join(out, "throughput_vs_record_size.svg"),
              "Produce throughput vs record size (acks=1)",
              "record value size (bytes)", "MB/s of record values", xs, ser,
              logx=True, logy=True, dashed=("page cache", "loopback"))
    for key, fname, title, xl in [
            ("partitions", "throughput_vs_partitions.svg",
             "Produce 100 B records vs partitions (acks=1)", "partitions"),
            ("producers", "throughput_vs_producers.svg",
             "Produce 100 B records vs concurrent producers (acks=1)",
             "producers (one librdkafka instance each)")]:
        if key in s:
            chart(os.path.join(out, fname), title, xl, "records/s",
                  s[key]["x"],
                  values(s, key, "rate"),
                  logx=key == "partitions")
    if "latency" in s:
        lat = s["latency"]
        ser = []
        for w, name in BROKERS:
            if not any(lat.get(w) or []):
                continue
            for p in ("p50", "p99", "p999"):
                ser.append((f"{name} {p}", [r[p + "_us"] if r else None
                                            for r in lat[w]]))
        chart(os.path.join(out, "latency_vs_rate.svg"),
              "End-to-end latency vs produce rate (100 B)",
              "records/s", "latency (µs)", lat["rates"], ser,
              logx=True, logy=True,
              dashed=("mock p50", "mock p99", "mock p999"))


if __name__ == "__main__":
    main()
