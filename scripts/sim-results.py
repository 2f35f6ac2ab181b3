#!/usr/bin/env python3
# scripts/sim-results.py - the simulator's results in docs/performance.md: runs
# build/bin/ghost-sim (the rpc mix, 0.5 virtual s, seed 1) for shinjuku (30 us
# slice), fifo-centralized and fifo-percpu at 8, 64 and 256 CPUs over a sweep of
# loads, and shinjuku at load 0.5 over a sweep of CPU counts; prints the
# markdown tables and writes docs/sim-p99.svg (p99 against load, one panel per
# machine size). Deterministic: the same build gives the same figures.
# Usage: scripts/sim-results.py [SVG] (default docs/sim-p99.svg). Needs a built tree.
import json
import math
import subprocess
import sys

SIM = "build/bin/ghost-sim"
POLICIES = [("shinjuku", ["-o", "time_slice=30us"]), ("fifo-centralized", []), ("fifo-percpu", [])]
COLORS = {"shinjuku": "#1b7837", "fifo-centralized": "#b2182b", "fifo-percpu": "#2166ac"}
SIZES = (8, 64, 256)
LOADS = (0.2, 0.4, 0.6, 0.8, 0.9)
SCALE = (4, 8, 16, 32, 48, 64, 96, 128, 192, 256)


def run(cpus, policy, load, extra):
    cmd = [SIM, "--cpus", str(cpus), "--policy", policy, "--load", str(load),
           "--duration", "0.5", "--seed", "1", "--json"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def svg(res, path):
    w, h, pad = 300, 240, 50
    lo, hi = 1.0, 100000.0  # us, log scale

    def y(v):
        v = min(max(v, lo), hi)
        return pad / 2 + (h - pad) * (1 - (math.log10(v) - math.log10(lo)) /
                                      (math.log10(hi) - math.log10(lo)))

    def x(load):
        return pad + (w - pad - 10) * load

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(SIZES)}" '
             f'height="{h + 40}" font-family="sans-serif" font-size="11">',
             f'<rect width="100%" height="100%" fill="white"/>']
    for i, cpus in enumerate(SIZES):
        ox = i * w
        parts.append(f'<g transform="translate({ox},0)">')
        parts.append(f'<text x="{w / 2}" y="14" text-anchor="middle">{cpus} CPUs</text>')
        for dec in range(0, 6):
            v = 10 ** dec
            parts.append(f'<line x1="{pad}" x2="{w - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                         f'stroke="#ddd"/><text x="{pad - 4}" y="{y(v) + 4:.1f}" '
                         f'text-anchor="end">{v:g}</text>')
        for load in LOADS:
            parts.append(f'<text x="{x(load):.1f}" y="{h - 8}" text-anchor="middle">{load}</text>')
        for policy, _ in POLICIES:
            pts = " ".join(f"{x(load):.1f},{y(res[(cpus, policy, load)]['latency_us']['p99']):.1f}"
                           for load in LOADS)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[policy]}" '
                         f'stroke-width="2"/>')
        parts.append(f'<text x="{w / 2}" y="{h + 6}" text-anchor="middle">load (share of the '
                     f'CPUs busy)</text>')
        parts.append("</g>")
    for j, (policy, _) in enumerate(POLICIES):
        parts.append(f'<text x="{10 + 200 * j}" y="{h + 30}" fill="{COLORS[policy]}">'
                     f'{policy}</text>')
    parts.append(f'<text x="6" y="{h / 2}" transform="rotate(-90 8 {h / 2})" '
                 f'text-anchor="middle">p99 latency, us (log)</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/sim-p99.svg"
    res = {}
    for cpus in SIZES:
        for policy, extra in POLICIES:
            for load in LOADS:
                res[(cpus, policy, load)] = run(cpus, policy, load, extra)
    print("| CPUs | policy | " + " | ".join(f"p99 at {l}" for l in LOADS) +
          " | busiest agent at 0.9 |")
    print("| --- | --- |" + " --- |" * (len(LOADS) + 1))
    for cpus in SIZES:
        for policy, _ in POLICIES:
            cells = " | ".join(f"{res[(cpus, policy, l)]['latency_us']['p99']:.0f}" for l in LOADS)
            busy = res[(cpus, policy, 0.9)]["busiest_agent"]
            print(f"| {cpus} | {policy} | {cells} | {busy:.2f} |")
    print()
    print("| CPUs | p50 us | p99 us | wake-to-run p99 us | busiest agent |")
    print("| --- | --- | --- | --- | --- |")
    for cpus in SCALE:
        r = run(cpus, "shinjuku", 0.5, ["-o", "time_slice=30us"])
        print(f"| {cpus} | {r['latency_us']['p50']:.1f} | {r['latency_us']['p99']:.1f} | "
              f"{r['wake_to_run_us']['p99']:.1f} | {r['busiest_agent']:.2f} |")
    svg(res, path)


if __name__ == "__main__":
    main()
