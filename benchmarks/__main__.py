"""Runs every benchmark on every available backend and prints ratios against the seed system.

    python -m benchmarks            # what `make bench` runs
"""

from __future__ import annotations

import platform

from benchmarks import backends, module_overhead

BENCHMARKS = [module_overhead]


def main() -> int:
    found = backends.available()
    print(f"backends: {', '.join(found)}   python {platform.python_version()}   {platform.machine()}")
    if "seed" not in found:
        print("(the seed system is not installed: ratios need `pip install -e '.[bench]'`)")
    for bench in BENCHMARKS:
        rows = bench.run(found)
        peer = {row["figure"]: row["seconds"] for row in rows if row["backend"] == "seed"}
        print(f"\n{bench.__name__}")
        print(f"  {'figure':<32} {'backend':<8} {'time':>12} {'vs seed':>9}")
        for row in rows:
            ratio = f"{row['seconds'] / peer[row['figure']]:.2f}x" if row["figure"] in peer else "-"
            print(f"  {row['figure']:<32} {row['backend']:<8} {row['seconds'] * 1e3:>9.3f} ms {ratio:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
