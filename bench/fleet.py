"""Click redirects per second on PostgreSQL with 1 and 2 web workers, against a bare ASGI redirect.

For each worker count N, two servers run under the same uvicorn with N worker processes: the
real app (`newsletter serve --workers N`: signed tokens, machine-activity rules, every click
committed to PostgreSQL by each worker's group-commit recorder before the answer) and a bare
ASGI app answering the same 302 and nothing else. The load comes from a second process (the
raw HTTP/1.1 load generator of bench/tracking). Rounds alternate bare and real, since the
machine is shared. Printed per N: requests/second of each, the ratio real/bare (target: at
least 0.5 per worker count), server CPU per request, and the load generator's own CPU use: on
a 2-core machine the generator competes with the workers for the same cores, so a second
worker cannot double the rate; the figures say how much of the machine each side used rather
than being tuned to a number. Every answered click is counted in the database afterwards.

    NEWSLETTER_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        python -m bench fleet

The database named is emptied (its public schema dropped and recreated): use a scratch one.
Without the variable the benchmark says so and does nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.tracking import SECRET, _count_clicks, _free_port, _run_load, _seed, _stop

ENV_URL = "NEWSLETTER_BENCH_DATABASE_URL"


def _reset(url: str) -> None:
    from sqlalchemy import text

    from newsletter.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    import socket

    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(1.0)  # the other workers finish starting too
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fleet")
    parser.add_argument("--clicks", type=int, default=12_000, help="per worker count and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args(argv if argv is not None else [])
    url = os.environ.get(ENV_URL)
    if not url or not url.startswith("postgresql"):
        print(f"bench/fleet needs {ENV_URL}=postgresql+psycopg://... (a scratch database)")
        return
    per_round = args.clicks // args.rounds
    _reset(url)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        data_dir = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
            "NEWSLETTER_DATA_DIR": str(data_dir),
            "NEWSLETTER_SECRET_KEY": SECRET,
            "NEWSLETTER_DATABASE_URL": url,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        clicks, opens = _seed(url, args.deliveries)
        opens_file = data_dir / "opens.txt"
        # Each worker warms its own lookup caches: every delivery opened a few times over.
        opens_file.write_text("\n".join(opens * 3))
        print(
            f"PostgreSQL, uvicorn with N workers for both servers, {args.rounds} rounds of "
            f"{per_round} clicks alternating bare and real, concurrency {args.concurrency}, "
            f"load from a second process on the same {os.cpu_count()}-core machine",
            flush=True,
        )
        summary: list[str] = []
        rng = random.Random(11)
        for workers in [int(w) for w in args.workers.split(",")]:
            bare_port, real_port = _free_port(), _free_port()
            bare = _start(
                [
                    sys.executable, "-m", "uvicorn", "--factory", "bench.tracking:bare_factory",
                    "--host", "127.0.0.1", "--port", str(bare_port),
                    "--workers", str(workers), "--no-access-log", "--log-level", "warning",
                ],
                bare_port,
                env,
            )  # fmt: skip
            real = _start(
                [
                    sys.executable, "-c", "from newsletter.cli import main; main()",
                    "serve", "--port", str(real_port), "--workers", str(workers),
                ],
                real_port,
                env,
            )  # fmt: skip
            # Warm-up, not measured: the bare server, and the real one's caches (opens, which
            # are not clicks: the click count below is unaffected).
            _run_load(
                bare_port, opens_file, 2_000, concurrency=args.concurrency, client="raw", env=env
            )
            _run_load(
                real_port, opens_file, len(opens) * 3,
                concurrency=args.concurrency, client="raw", env=env,
            )  # fmt: skip
            answered_before = _count_clicks(url)
            answered = 0
            rows: dict[str, list[dict[str, Any]]] = {"bare": [], "real": []}
            try:
                for n in range(args.rounds):
                    paths = rng.sample(clicks, k=min(per_round, len(clicks)))
                    while len(paths) < per_round:
                        paths.append(rng.choice(clicks))
                    path_file = data_dir / f"w{workers}-r{n}.txt"
                    path_file.write_text("\n".join(paths))
                    for name, port, server in (
                        ("bare", bare_port, bare),
                        ("real", real_port, real),
                    ):
                        server_before, load_before = _tree_cpu(server.pid), _children_cpu()
                        result = _run_load(
                            port, path_file, per_round,
                            concurrency=args.concurrency, client="raw", env=env,
                        )  # fmt: skip
                        result["server_cpu_us"] = (
                            (_tree_cpu(server.pid) - server_before) / result["requests"] * 1e6
                        )
                        result["load_cpu"] = (_children_cpu() - load_before) / result["seconds"]
                        rows[name].append(result)
                        if name == "real":
                            answered += result["status"].get("302", 0)
            finally:
                _stop(bare)
                _stop(real)
            stored = _count_clicks(url) - answered_before
            bare_rps = statistics.median(r["rps"] for r in rows["bare"])
            real_rps = statistics.median(r["rps"] for r in rows["real"])
            ratio = statistics.median(
                r["rps"] / b["rps"] for r, b in zip(rows["real"], rows["bare"], strict=True)
            )
            for name in ("bare", "real"):
                med = rows[name]
                print(
                    f"{workers} worker(s), {name:<4}: "
                    f"{statistics.median(r['rps'] for r in med):>7.0f} req/s, "
                    f"p50 {statistics.median(r['p50_ms'] for r in med):>6.1f} ms, "
                    f"p99 {statistics.median(r['p99_ms'] for r in med):>7.1f} ms, "
                    f"server CPU {statistics.median(r['server_cpu_us'] for r in med):>5.0f} us "
                    f"per request, load generator using "
                    f"{statistics.median(r['load_cpu'] for r in med):.2f} cores",
                    flush=True,
                )
            verdict = "meets" if ratio >= 0.5 else "BELOW"
            line = (
                f"{workers} worker(s): real {real_rps:.0f} req/s, bare {bare_rps:.0f} req/s, "
                f"ratio real/bare {ratio:.2f} ({verdict} 0.5); clicks stored {stored} of "
                f"{answered} answered ({'exact' if stored == answered else 'MISMATCH'})"
            )
            print(line, flush=True)
            summary.append(line)
        print("\n".join(["summary:", *summary]))
        if len(summary) >= 2:
            print(
                "scaling: see the real req/s of 1 and 2 workers above; with the load generator "
                "on the same two cores, the second worker competes with it for CPU"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
