"""Rebuild bench/RESULTS.md from the per-benchmark tables each bench script writes (bench/results_*.md).

    python bench/collect.py
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["codec", "consensus", "fanout", "chain", "validator", "reliability", "fuzz"]


def main() -> None:
    parts = {p.stem.removeprefix("results_"): p for p in HERE.glob("results_*.md")}
    names = [n for n in ORDER if n in parts] + sorted(set(parts) - set(ORDER))
    out = ["# Benchmark results", "",
           "Each section is written by its benchmark (`bench/<name>.py` → `bench/results_<name>.md`) and copied here "
           "by `python bench/collect.py`. Every figure has its baseline measured in the same run.", ""]
    for n in names:
        out += [parts[n].read_text().strip(), ""]
    (HERE / "RESULTS.md").write_text("\n".join(out))
    print(f"wrote {HERE / 'RESULTS.md'} ({', '.join(names)})")


if __name__ == "__main__":
    main()
