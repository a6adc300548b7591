"""Click redirects per second: the real app against a bare ASGI app returning the same redirect.

Both run under uvicorn (one worker) on loopback; the load comes from a SECOND process (this
module's ``load`` command: an asyncio load generator with keep-alive connections). The real app
runs on the embedded default (SQLite file in a temporary DATA_DIR), resolves signed tokens,
judges machine activity and commits every click through the group-commit recorder before it
answers. Printed: requests/second, p50 and p99 latency for each, the ratio real/bare (target
>= 0.5), and the number of click events in the database after the burst (must equal the number
of redirects answered: every answered click is durable).

Then click latency during a 100,000-row subscriber import (``--import-rows``): p50/p99 of
clicks with no import running, during ``newsletter subscribers import`` (checked and staged
first, then short write transactions: newsletter.shortwrites) and, for comparison, during the
same import written in ONE transaction, as it was before.

    python -m bench tracking                       # the default run (50,000 clicks, < ~2 min)
    python -m bench.tracking --clicks 10000        # a smaller run
    python -m bench.tracking load --help           # the load generator on its own

The load generator speaks HTTP/1.1 over asyncio streams (``--client raw``, the default) because
an httpx client costs more CPU per request than the bare app does, and on a shared two-core
machine it would cap both servers at the client's own rate and hide the ratio;
``--client httpx`` is there to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 -- a throw-away benchmark database
AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 Edg/126.0"
)
COURSE_URL = "https://learning.example.org/courses/icon?level=2"
LINKS = 3


# --- the two servers -------------------------------------------------------------------------


def real_app() -> Any:
    """uvicorn factory: the real web app, configured from NEWSLETTER_* variables."""
    from newsletter.config import get_settings
    from newsletter.web.app import create_app

    return create_app(get_settings())


def bare_factory() -> Any:
    """uvicorn factory: the baseline, answering every request with the same 302 the real app
    sends (same Location and cache headers) and doing nothing else."""
    from newsletter.urls import with_utm

    location = with_utm(COURSE_URL, month="2026-07", agency="health").encode()
    headers = [
        (b"location", location),
        (b"content-length", b"0"),
        (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0, private"),
    ]

    async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return bare_app


# --- the load generator (runs in its own process) ----------------------------------------------


async def _raw_worker(
    host: str, port: int, paths: list[str], state: dict[str, Any], deadline: float
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    latencies: list[float] = state["latencies"]
    try:
        while time.monotonic() < deadline:
            index = state["next"]
            if index >= len(paths):
                return
            state["next"] = index + 1
            request = (
                f"GET {paths[index]} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"User-Agent: {AGENT}\r\nAccept: */*\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(head[9:12])
            state["status"][status] = state["status"].get(status, 0) + 1
    finally:
        writer.close()


async def _httpx_worker(
    client: Any, base: str, paths: list[str], state: dict[str, Any], deadline: float
) -> None:
    while time.monotonic() < deadline:
        index = state["next"]
        if index >= len(paths):
            return
        state["next"] = index + 1
        started = time.perf_counter()
        response = await client.get(base + paths[index])
        state["latencies"].append(time.perf_counter() - started)
        state["status"][response.status_code] = state["status"].get(response.status_code, 0) + 1


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    paths = Path(args.paths).read_text().split()[: args.count]
    state: dict[str, Any] = {"next": 0, "latencies": [], "status": {}}
    deadline = time.monotonic() + args.max_seconds
    started = time.perf_counter()
    if args.client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(limits=limits, headers={"User-Agent": AGENT}) as client:
            base = f"http://{args.host}:{args.port}"
            await asyncio.gather(
                *(
                    _httpx_worker(client, base, paths, state, deadline)
                    for _ in range(args.concurrency)
                )
            )
    else:
        await asyncio.gather(
            *(
                _raw_worker(args.host, args.port, paths, state, deadline)
                for _ in range(args.concurrency)
            )
        )
    elapsed = time.perf_counter() - started
    latencies = sorted(state["latencies"])
    done = len(latencies)
    return {
        "requests": done,
        "seconds": elapsed,
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": latencies[done // 2] * 1000 if done else None,
        "p99_ms": latencies[min(done - 1, int(done * 0.99))] * 1000 if done else None,
        "status": {str(k): v for k, v in state["status"].items()},
    }


def load_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracking load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", required=True, help="file of request paths, one per line")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_load(args))))
    return 0


# --- orchestration -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _seed(url: str, deliveries: int) -> tuple[list[str], list[str]]:
    """A sent bulletin with LINKS course links and ``deliveries`` deliveries; returns the
    click paths (one link per delivery, so no burst rule fires) and pixel paths."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from newsletter.db import make_engine, migrate
    from newsletter.models import (
        Agency,
        Bulletin,
        BulletinStatus,
        Delivery,
        Link,
        LinkKind,
        Subscriber,
        Variant,
    )
    from newsletter.tokens import delivery_token

    migrate(url)
    engine = make_engine(url)
    sent_at = datetime.now(UTC) - timedelta(hours=2)
    with Session(engine) as session:
        session.add(Agency(slug="health", name="Health", domains=[]))
        bulletin = Bulletin(
            month="2026-07",
            theme="Non-accidental injuries",
            subject="July",
            status=BulletinStatus.sent,
        )
        session.add(bulletin)
        session.flush()
        assert bulletin.id is not None
        variant = Variant(
            bulletin_id=bulletin.id, agency="health", subject="July", html="", text=""
        )
        session.add(variant)
        links = [
            Link(bulletin_id=bulletin.id, position=i, kind=LinkKind.course, url=COURSE_URL)
            for i in range(LINKS)
        ]
        session.add_all(links)
        session.flush()
        subscribers = [
            {
                "email": f"p{i}@nhs.example",
                "name": f"P {i}",
                "agency": "health",
                "token": f"tok-{i}",
                "status": "active",
                "serves_children": True,
                "serves_adults": False,
                "consent_source": "bench",
                "created_at": sent_at,
                "updated_at": sent_at,
            }
            for i in range(deliveries)
        ]
        session.execute(insert(Subscriber.__table__), subscribers)  # type: ignore[attr-defined]
        session.execute(
            insert(Delivery.__table__),  # type: ignore[attr-defined]
            [
                {
                    "bulletin_id": bulletin.id,
                    "subscriber_id": i + 1,
                    "agency": "health",
                    "variant_id": variant.id,
                    "status": "sent",
                    "attempts": 1,
                    "created_at": sent_at,
                    "sent_at": sent_at,
                }
                for i in range(deliveries)
            ],
        )
        session.commit()
        link_ids = [link.id for link in links]
    engine.dispose()
    key = SECRET.encode()
    tokens = [delivery_token(key, i + 1) for i in range(deliveries)]
    clicks = [f"/c/{t}/{link_ids[i % LINKS]}" for i, t in enumerate(tokens)]
    opens = [f"/o/{t}.gif" for t in tokens]
    return clicks, opens


def _start(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", target,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # graceful: the app's lifespan flushes the recorder
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run_load(
    port: int, paths_file: Path, count: int, *, concurrency: int, client: str, env: dict[str, str]
) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.tracking", "load", "--port", str(port),
        "--paths", str(paths_file), "--count", str(count),
        "--concurrency", str(concurrency), "--client", client, "--max-seconds", "100",
    ]  # fmt: skip
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _cpu_seconds(server: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU seconds of a server process so far (Linux /proc; 0 elsewhere)."""
    if server is None:
        return 0.0
    try:
        stat = Path(f"/proc/{server.pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count_clicks(url: str) -> int:
    from sqlmodel import Session, func, select

    from newsletter.db import make_engine
    from newsletter.models import Event

    engine = make_engine(url)
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(Event).where(Event.type == "click")
        ).one()
    engine.dispose()
    return count


def _line(name: str, result: dict[str, Any]) -> str:
    return (
        f"{name:<34} {result['rps']:>8.0f} req/s   p50 {result['p50_ms']:>6.2f} ms   "
        f"p99 {result['p99_ms']:>7.2f} ms   ({result['requests']} requests, "
        f"statuses {result['status']})"
    )


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over rounds; latency percentiles as the median of the rounds' percentiles."""
    requests = sum(r["requests"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    status: dict[str, int] = {}
    for r in results:
        for code, n in r["status"].items():
            status[code] = status.get(code, 0) + n
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "p99_ms": statistics.median(r["p99_ms"] for r in results),
        "status": status,
    }


_ONE_TRANSACTION_IMPORT = """
import sys
from pathlib import Path
from sqlmodel import Session
from newsletter.db import make_engine
from newsletter.models import utcnow
from newsletter.subscribers import import_csv
engine = make_engine(sys.argv[1])
with Session(engine) as session:  # the whole file in one write transaction (before 0.2.0)
    import_csv(session, Path(sys.argv[2]), now=utcnow(), consent_source="bench")
    session.commit()
"""


def _write_import(path: Path, rows: int, prefix: str) -> None:
    with path.open("w") as fh:
        fh.write("email,name,agency,audiences\n")
        for i in range(rows):
            fh.write(f"{prefix}{i}@nhs.example,Imported {i},health,children\n")


def _clicks_during(
    command: list[str] | None,
    load: Any,
    *,
    port: int,
    paths_file: Path,
    chunk: int,
    env: dict[str, str],
) -> tuple[dict[str, Any], float]:
    """Clicks in chunks of ``chunk`` while ``command`` runs (or 3 chunks with none)."""
    results = []
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env) if command else None
    try:
        while True:
            results.append(load(port, paths_file, chunk))
            if process is None:
                if len(results) >= 3:
                    break
            elif process.poll() is not None:
                break
    finally:
        if process is not None:
            process.wait()
    took = time.perf_counter() - started
    if process is not None and process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode})")
    merged = _merge(results)
    merged["worst_p99_ms"] = max(r["p99_ms"] for r in results)
    return merged, took


def _import_phase(
    args: argparse.Namespace, *, data_dir: Path, url: str, port: int, paths: list[str],
    env: dict[str, str], load: Any,
) -> int:  # fmt: skip
    chunk = 1_000
    paths_file = data_dir / "import-clicks.txt"
    paths_file.write_text("\n".join(paths[:chunk]))
    chunked_csv, single_csv = data_dir / "import-a.csv", data_dir / "import-b.csv"
    _write_import(chunked_csv, args.import_rows, "a")
    _write_import(single_csv, args.import_rows, "b")
    cli = [sys.executable, "-c", "from newsletter.cli import main; main()"]
    quiet, _ = _clicks_during(None, load, port=port, paths_file=paths_file, chunk=chunk, env=env)
    chunked, took_chunked = _clicks_during(
        [*cli, "subscribers", "import", str(chunked_csv)],
        load, port=port, paths_file=paths_file, chunk=chunk, env=env,
    )  # fmt: skip
    single, took_single = _clicks_during(
        [sys.executable, "-c", _ONE_TRANSACTION_IMPORT, url, str(single_csv)],
        load, port=port, paths_file=paths_file, chunk=chunk, env=env,
    )  # fmt: skip
    print(
        f"\nclick latency during a {args.import_rows:,}-row subscriber import "
        f"(concurrency {args.import_concurrency}, clicks in chunks of {chunk} while it runs; "
        "p50/p99: the median of the chunks'):"
    )
    for name, result in (
        ("no import (baseline)", quiet),
        (f"import, short transactions ({took_chunked:.0f} s)", chunked),
        (f"import, one transaction ({took_single:.0f} s)", single),
    ):
        print(f"{_line(name, result)}; worst chunk p99 {result['worst_p99_ms']:.0f} ms")
    if quiet["p99_ms"]:
        print(
            f"p99 against the baseline: short transactions {chunked['p99_ms'] / quiet['p99_ms']:.1f}x, "
            f"one transaction {single['p99_ms'] / quiet['p99_ms']:.1f}x"
        )
    lost = [r for r in (quiet, chunked, single) if set(r["status"]) != {"302"}]
    print(f"every click answered 302: {'yes' if not lost else 'NO'}")
    return sum(r["status"].get("302", 0) for r in (quiet, chunked, single))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracking")
    parser.add_argument("--clicks", type=int, default=50_000, help="the real app's burst")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/real rounds")
    parser.add_argument("--deliveries", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    parser.add_argument("--import-rows", type=int, default=100_000, help="0: no import phase")
    parser.add_argument("--import-concurrency", type=int, default=16)
    args = parser.parse_args(argv if argv is not None else [])
    per_round = args.clicks // args.rounds
    clicks_total = per_round * args.rounds

    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'newsletter.db'}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
            "NEWSLETTER_DATA_DIR": str(data_dir),
            "NEWSLETTER_SECRET_KEY": SECRET,
            "NEWSLETTER_DATABASE_URL": url,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        clicks, opens = _seed(url, args.deliveries)
        click_paths = [clicks[i % len(clicks)] for i in range(clicks_total)]
        random.Random(7).shuffle(click_paths)
        rounds_files = []
        for n in range(args.rounds):
            path = data_dir / f"clicks-{n}.txt"
            path.write_text("\n".join(click_paths[n * per_round : (n + 1) * per_round]))
            rounds_files.append(path)
        opens_file = data_dir / "opens.txt"
        opens_file.write_text("\n".join(opens))
        print(
            f"{clicks_total} clicks over {args.deliveries} deliveries in {args.rounds} rounds "
            f"alternating bare and real (this machine is shared: a ratio needs both measured "
            f"under the same load), concurrency {args.concurrency}, load from a second process "
            f"({args.client} client), uvicorn with one worker, SQLite (WAL) on loopback",
            flush=True,
        )

        def load(
            port: int, path: Path, count: int, server: subprocess.Popen[bytes] | None = None
        ) -> dict[str, Any]:
            before = _cpu_seconds(server)
            result = _run_load(
                port, path, count, concurrency=args.concurrency, client=args.client, env=env
            )
            used = _cpu_seconds(server) - before
            result["cpu_us"] = used / result["requests"] * 1e6 if result["requests"] else 0.0
            return result

        bare_port, real_port = _free_port(), _free_port()
        bare = _start("bench.tracking:bare_factory", bare_port, env)
        real = _start("bench.tracking:real_app", real_port, env)
        try:
            load(bare_port, rounds_files[0], 2_000)  # warm-up
            # Warm the caches with one open per delivery (opens are not clicks: no effect on
            # the click count below), as readers' mail clients would before they click.
            warm = load(real_port, opens_file, len(opens))
            print(_line("real app: open pixel (cold cache)", warm), flush=True)
            bare_runs, real_runs, ratios, cpu_ratios = [], [], [], []
            for n, path in enumerate(rounds_files):
                b = load(bare_port, path, per_round, bare)
                r = load(real_port, path, per_round, real)
                bare_runs.append(b)
                real_runs.append(r)
                ratios.append(r["rps"] / b["rps"] if b["rps"] else 0.0)
                cpu_ratios.append(b["cpu_us"] / r["cpu_us"] if r["cpu_us"] else 0.0)
                print(
                    f"  round {n + 1}: bare {b['rps']:.0f} req/s ({b['cpu_us']:.0f} us CPU each), "
                    f"real {r['rps']:.0f} req/s ({r['cpu_us']:.0f} us CPU each), "
                    f"ratio {ratios[-1]:.2f}",
                    flush=True,
                )
            real_total = _merge(real_runs)
            answered = real_total["status"].get("302", 0)
            stored_live = _count_clicks(url)
            import_answered = 0
            if args.import_rows:

                def import_load(port: int, path: Path, count: int) -> dict[str, Any]:
                    return _run_load(
                        port, path, count,
                        concurrency=args.import_concurrency, client=args.client, env=env,
                    )  # fmt: skip

                import_answered = _import_phase(
                    args, data_dir=data_dir, url=url, port=real_port, paths=click_paths,
                    env=env, load=import_load,
                )  # fmt: skip
        finally:
            _stop(bare)
            _stop(real)
        total_after = _count_clicks(url)
        stored_after = total_after - import_answered  # the burst's clicks, after shutdown
        if args.import_rows:
            # Clicks answered while an import held the lock are committed too (some after their
            # answer, once the lock was released): none lost.
            kept = total_after - stored_live
            print(
                f"click events of the import phase in the database after shutdown: {kept} of "
                f"{import_answered} answered ({'exact' if kept == import_answered else 'MISMATCH'})"
            )
        print(_line("bare ASGI redirect (baseline)", _merge(bare_runs)))
        print(_line("real app: click redirect", real_total))
        ratio = statistics.median(ratios)
        verdict = "meets" if ratio >= 0.5 else "BELOW"
        print(f"ratio real/bare (median of rounds): {ratio:.2f} ({verdict} the 0.5 target)")
        if all(cpu_ratios):
            # Server CPU per request does not depend on what else the machine is doing.
            print(
                "ratio by server CPU per request, bare/real (median of rounds): "
                f"{statistics.median(cpu_ratios):.2f}"
            )
        exact = stored_live == answered == clicks_total == stored_after
        print(
            f"click events in the database: {stored_live} while serving, {stored_after} after "
            f"shutdown; redirects answered: {answered} of {clicks_total} "
            f"({'exact' if exact else 'MISMATCH'})"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        raise SystemExit(load_main(sys.argv[2:]))
    main(sys.argv[1:])
