"""bench/hostile: refusing hostile plan files, against reading the July sample theme.

The "billion laughs" theme file (nine aliases of nine aliases, nine deep: about 320 bytes
standing for 387 million strings) and a file of 100,000 opening brackets are checked the way
`plan check` checks any theme file; the baseline is the same check of the July sample theme,
measured in the same run. Before the limits, the bomb took `plan check` 86 s and 1.24 GB.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from newsletter.plan.yamlfile import read_yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE = (REPO / "campaigns" / "themes" / "2026-07.yaml").read_bytes()
BOMB = (
    "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
).encode()
BRACKETS = b"intro: " + b"[" * 100_000


def _per_read(data: bytes, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        read_yaml(data, "theme.yaml")
    return (time.perf_counter() - start) / runs


def _peak(data: bytes) -> int:
    tracemalloc.start()
    try:
        read_yaml(data, "theme.yaml")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    _, errors = read_yaml(BOMB, "bomb.yaml")
    assert errors, "the bomb must be refused"
    read_yaml(SAMPLE, "theme.yaml")  # warm imports
    sample = _per_read(SAMPLE, 20)
    bomb = _per_read(BOMB, 20)
    brackets = _per_read(BRACKETS, 5)
    print(f"bomb file: {len(BOMB)} bytes; refused with: {errors[0].message}")
    print(f"read the July sample theme (baseline):  {sample * 1000:8.2f} ms")
    print(f"refuse the alias bomb:                  {bomb * 1000:8.2f} ms")
    print(f"refuse 100,000 nested brackets:         {brackets * 1000:8.2f} ms")
    print(f"ratio: refusing the bomb costs {bomb / sample:.2f}x reading the sample theme")
    print(f"ratio: refusing the brackets costs {brackets / sample:.2f}x reading the sample theme")
    print(
        f"peak memory: sample {_peak(SAMPLE) / 1024:.0f} KB, bomb {_peak(BOMB) / 1024:.0f} KB, "
        f"brackets {_peak(BRACKETS) / 1024:.0f} KB"
    )


if __name__ == "__main__":
    main()
