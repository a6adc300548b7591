"""bench/cli: how long the ``newsletter`` command takes to start, as a ratio to ``python -c pass``.

Each command runs as a fresh process, as a person runs it: ``--help`` screens (the whole command
tree is built, nothing else is imported) and light commands that read the plan or settings but
touch no database. Prints the median wall time and CPU time (user + system, which a busy machine
disturbs less) of BENCH_CLI_RUNS runs (default 7) and each as a ratio to the interpreter's own
start-up measured in the same run. A command imports what it needs when it runs
(``newsletter/cli/``), so a ``--help`` should cost a small multiple of bare Python, well under
half a second on an idle machine.

    python -m bench cli
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

COMMANDS: list[tuple[str, list[str]]] = [
    ("newsletter --help", ["--help"]),
    ("newsletter bulletin send --help", ["bulletin", "send", "--help"]),
    ("newsletter report training --help", ["report", "training", "--help"]),
    ("newsletter schedule next --help", ["schedule", "next", "--help"]),
    ("newsletter plan check campaigns/", ["plan", "check", str(REPO / "campaigns")]),
]


def _time(argv: list[str], *, env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median(argv: list[str], runs: int, *, env: dict[str, str], cwd: str) -> tuple[float, float]:
    samples = [_time(argv, env=env, cwd=cwd) for _ in range(runs)]
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
    )


def main() -> None:
    runs = int(os.environ.get("BENCH_CLI_RUNS", "7"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        env.update(
            NEWSLETTER_DATA_DIR=str(Path(tmp) / "var"),
            NEWSLETTER_SUBSCRIBERS_DIR=str(REPO / "subscribers"),
            NEWSLETTER_SECRET_KEY="bench-cli-secret-0123456789",  # noqa: S106 (a throwaway dir)
        )
        base_wall, base_cpu = _median([sys.executable, "-c", "pass"], runs, env=env, cwd=tmp)
        print(
            f"baseline `python -c pass`: {base_wall * 1000:.0f} ms wall, "
            f"{base_cpu * 1000:.0f} ms CPU (median of {runs})"
        )
        print(f"{'command':<38} {'wall ms':>8} {'x base':>7} {'CPU ms':>8} {'x base':>7}")
        for label, args in COMMANDS:
            wall, cpu = _median(
                [sys.executable, "-m", "newsletter.cli", *args], runs, env=env, cwd=tmp
            )
            print(
                f"{label:<38} {wall * 1000:>8.0f} {wall / base_wall:>6.1f}x "
                f"{cpu * 1000:>8.0f} {cpu / max(base_cpu, 1e-3):>6.1f}x"
            )


if __name__ == "__main__":
    main()
