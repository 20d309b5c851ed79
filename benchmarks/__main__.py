"""Runs every benchmark on every available backend and prints ratios against the seed system.

python -m benchmarks                        # what `make bench` runs
python -m benchmarks --json out.json        # also write the results
python -m benchmarks --quick                # fewer repetitions (a smoke run)
python -m benchmarks --only remat_memory    # one benchmark (repeatable)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform

from benchmarks import (
    backends,
    checkpoint_io,
    debug_compare,
    module_overhead,
    nnref_apply,
    remat_memory,
    scale_memory,
    train_step,
)

BENCHMARKS = [module_overhead, remat_memory, train_step, scale_memory, checkpoint_io, nnref_apply, debug_compare]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "versions": {dist: _version(dist) for dist in ("jax", "jaxlib", "flax", "numpy")},
    }


def _format_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} us"


def table(rows: list[dict], names: list[str]) -> list[str]:
    """One line per figure: the time on each backend, then each backend's ratio to the seed system."""
    figures = list(dict.fromkeys(row["figure"] for row in rows))
    times = {(row["figure"], row["backend"]): row["seconds"] for row in rows}
    others = [n for n in names if n != "seed"]
    has_seed = "seed" in names
    head = f"  {'figure':<36}" + "".join(f"{n:>12}" for n in names)
    if has_seed:
        head += "".join(f"{n + '/seed':>12}" for n in others)
    lines = [head]
    for figure in figures:
        line = f"  {figure:<36}"
        line += "".join(f"{_format_time(times[figure, n]) if (figure, n) in times else '-':>12}" for n in names)
        if has_seed:
            peer = times.get((figure, "seed"))
            for n in others:
                ratio = f"{times[figure, n] / peer:.2f}x" if peer and (figure, n) in times else "-"
                line += f"{ratio:>12}"
        lines.append(line)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write machine, versions and every figure to PATH")
    parser.add_argument(
        "--repeat", type=int, default=20, help="at least this many timed runs per figure (best is kept)"
    )
    parser.add_argument("--min-seconds", type=float, default=1.0, help="and more runs until this much time per figure")
    parser.add_argument("--quick", action="store_true", help="3 runs per figure: a smoke test, not for numbers")
    known = [bench.__name__.rsplit(".", 1)[-1] for bench in BENCHMARKS]
    parser.add_argument(
        "--only",
        action="append",
        choices=known,
        metavar="NAME",
        help=f"run only this benchmark (repeatable; one of: {', '.join(known)})",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.min_seconds = 3, 0.0

    found = backends.available()
    names = list(found)
    info = machine()
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    print(f"backends: {', '.join(names)}   python {info['python']}   {info['cpu']} x{info['cpus']}   {versions}")
    if "seed" not in found:
        print("(the seed system is not installed: ratios need `pip install -e '.[bench]'`, or `make bench`)")
    results = {"machine": info, "repeat": args.repeat, "min_seconds": args.min_seconds, "benchmarks": {}}
    for bench in BENCHMARKS:
        short = bench.__name__.rsplit(".", 1)[-1]
        if args.only and short not in args.only:
            continue
        rows = bench.run(found, repeat=args.repeat, min_seconds=args.min_seconds)
        results["benchmarks"][short] = rows
        if hasattr(bench, "table"):  # a benchmark of other figures than times prints its own table
            print(f"\n{short}  ({bench.CAPTION})")
            lines = bench.table(rows)
        else:
            print(f"\n{short}  (best of >= {args.repeat} runs; ratios < 1 mean faster than the seed system)")
            lines = table(rows, names)
        for line in lines:
            print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
