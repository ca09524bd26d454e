"""Prints the benchmark table from results.jsonl (medians of the repeated runs).

Each line of results.jsonl is one wrk run: {"server", "conc", "rep", "rps", "p50_ms",
"p99_ms", "errors", ...}. Servers named seed-* are the seed's design; every other server is
compared with each of them (ratio = atelier / seed). "others" is the most CPU (in cores)
that other processes used during any of a configuration's runs: above ~0.2 the figures are
disturbed. Standard library only.
Usage: python3 summarize.py results.jsonl [more.jsonl ...]  (e.g. the seed's and atelier's runs)
"""

import json
import sys
from statistics import median

GOAL_RPS_CONC, GOAL_P50_CONC = 8, 1


def load(paths):
    runs = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    runs.setdefault((r["server"], r["conc"]), []).append(r)
    return runs


def main(paths):
    runs = load(paths)
    servers = list(dict.fromkeys(s for s, _ in runs))
    seeds = [s for s in servers if s.startswith("seed-")]
    med = {
        key: {k: median(r[k] for r in rs) for k in ("rps", "p50_ms", "p99_ms")}
        | {"errors": sum(r["errors"] for r in rs), "runs": [r["rps"] for r in rs]}
        | {"others": max(r.get("others_cpu", 0) for r in rs)}
        for key, rs in runs.items()
    }

    head = f"{'server':<32}{'conc':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}{'others':>7}"
    head += "".join(f"{'req/s ×' + s[5:]:>25}{'p50 ×' + s[5:]:>23}" for s in seeds)
    print(head + "   req/s of each run")
    for (server, conc), m in sorted(med.items(), key=lambda kv: (servers.index(kv[0][0]), kv[0][1])):
        line = f"{server:<32}{conc:>5}{m['rps']:>9.2f}{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}{m['errors']:>7}{m['others']:>7.2f}"
        for seed in seeds:
            base = med.get((seed, conc))
            if server in seeds or not base:
                line += f"{'':>25}{'':>23}"
            else:
                line += f"{m['rps'] / base['rps']:>25.2f}{m['p50_ms'] / base['p50_ms']:>23.2f}"
        print(line + "   " + " ".join(f"{x:.2f}" for x in m["runs"]))

    contenders = [s for s in servers if s not in seeds and "densenet" in s]
    if not seeds or not contenders:
        return
    # Goals (issue 7), judged against the better seed configuration at each point.
    best_rps = max((med[(s, GOAL_RPS_CONC)]["rps"] for s in seeds if (s, GOAL_RPS_CONC) in med), default=None)
    best_p50 = min((med[(s, GOAL_P50_CONC)]["p50_ms"] for s in seeds if (s, GOAL_P50_CONC) in med), default=None)
    if best_rps is None or best_p50 is None:
        return
    print(f"\nGoals against the better seed figure (req/s at c={GOAL_RPS_CONC}: {best_rps:.2f}, "
          f"p50 at c={GOAL_P50_CONC}: {best_p50:.1f} ms):")
    for server in contenders:
        rps = med.get((server, GOAL_RPS_CONC), {}).get("rps")
        p50 = med.get((server, GOAL_P50_CONC), {}).get("p50_ms")
        if rps is None or p50 is None:
            continue
        print(f"  {server:<32} req/s ×{rps / best_rps:.2f} (goal ≥ 2: {'met' if rps >= 2 * best_rps else 'NOT met'}),"
              f" p50 ×{p50 / best_p50:.2f} (goal ≤ 0.5: {'met' if p50 <= 0.5 * best_p50 else 'NOT met'})")


if __name__ == "__main__":
    main(sys.argv[1:])
