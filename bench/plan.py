"""bench/plan: loading the sample plan cold (parse and check every file) against loading it
unchanged (read and hash the files, reuse the checked plan), as the scheduler does every tick.

Prints both timings per load and the ratio. Runs in a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

from newsletter.agencies import read_agencies
from newsletter.plan import load_plan
from newsletter.plan import loader as plan_loader

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "campaigns"


def _per_load(runs: int, *, cold: bool, agencies: tuple[str, ...]) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        if cold:
            plan_loader._cache.clear()
        result = load_plan(SAMPLE, agencies=agencies)
        assert result.ok, result.errors
    return (time.perf_counter() - start) / runs


def main() -> None:
    agencies = tuple(a.slug for a in read_agencies(REPO / "subscribers" / "agencies.yaml"))
    load_plan(SAMPLE, agencies=agencies)  # warm imports and the holiday tables
    cold = _per_load(5, cold=True, agencies=agencies)
    warm = _per_load(200, cold=False, agencies=agencies)
    files = len(load_plan(SAMPLE, agencies=agencies).plan.files)  # type: ignore[union-attr]
    print(f"sample plan: {files} files")
    print(f"cold load (parse and check):        {cold * 1000:8.1f} ms")
    print(f"unchanged load (read, hash, reuse): {warm * 1000:8.2f} ms")
    print(f"ratio: unchanged load is {cold / warm:.0f}x cheaper")


if __name__ == "__main__":
    main()
