"""The link check against a real local HTTP server that answers 200, 301, 404, 500 and never."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from newsletter.assemble.linkcheck import LinkOutcome, LinkStatus, bulletin_targets, check_targets
from newsletter.cli import app
from newsletter.models import LinkKind
from tests.conftest import REPO, TEST_SECRET
from tests.factories import make_bulletin, make_link

# Released at teardown so the "never" handler's thread ends with the test.
_RELEASE = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    """Paths name the answer: /ok, /moved (301 to /ok), /gone (404), /fails (500), /never,
    /no-head (405 to HEAD, 200 to GET), /loop (redirects to itself)."""

    def _answer(self, head: bool) -> None:
        path = self.path
        if path == "/never":
            _RELEASE.wait(30)
            return
        if path == "/no-head" and head:
            self.send_response(405)
        elif path in {"/ok", "/no-head"}:
            self.send_response(200)
        elif path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        elif path == "/gone":
            self.send_response(404)
        else:
            self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def site() -> Iterator[str]:
    _RELEASE.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _RELEASE.set()
        server.shutdown()
        server.server_close()


def outcomes_by_path(site: str, paths: list[str]) -> dict[str, LinkOutcome]:
    results = check_targets(
        [site + path for path in paths], allow_private=True, timeout=1.0, slow_after=5.0
    )
    return {result.url.removeprefix(site): result for result in results}


def test_each_kind_of_answer_is_reported_as_a_person_would_need_it(site: str) -> None:
    got = outcomes_by_path(site, ["/ok", "/moved", "/gone", "/fails", "/never", "/no-head"])

    assert got["/ok"].status is LinkStatus.ok
    moved = got["/moved"]
    assert moved.status is LinkStatus.ok
    assert moved.final_url == site + "/ok"
    assert got["/gone"].status is LinkStatus.broken
    assert got["/gone"].problem == "the page answered 404"
    assert got["/fails"].code == 500
    assert got["/never"].problem == "no answer before the time limit"
    assert got["/no-head"].status is LinkStatus.ok


def test_a_redirect_loop_is_broken_not_followed_forever(site: str) -> None:
    got = outcomes_by_path(site, ["/loop"])

    assert got["/loop"].status is LinkStatus.broken
    assert "redirects" in got["/loop"].problem


def test_each_target_is_fetched_once_however_often_it_appears(site: str) -> None:
    results = check_targets([site + "/ok"] * 3, allow_private=True, timeout=1.0)

    assert len(results) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused_without_a_request(url: str) -> None:
    (result,) = check_targets([url], timeout=1.0)

    assert result.status is LinkStatus.broken
    assert result.problem.startswith("refused: ")
    assert result.code is None


def test_a_redirect_to_the_local_network_is_refused_too(site: str) -> None:
    # The first hop is allowed only because the test server itself is local; the point is that
    # every hop is checked, so check /moved with the policy on: its own address is refused.
    (result,) = check_targets([site + "/moved"], timeout=1.0)

    assert result.problem.startswith("refused: ")


def test_only_web_links_are_fetched() -> None:
    (result,) = check_targets(["ftp://files.example.org/a.pdf"], timeout=1.0)

    assert result.problem == "refused: only http and https links can be checked, not 'ftp'"


def test_a_variants_targets_are_its_own_and_the_shared_ones_without_our_pages(
    session: Session,
) -> None:
    bulletin = make_bulletin(session)
    shared = make_link(session, bulletin)
    police_only = make_link(session, bulletin, agencies=["police"])
    make_link(session, bulletin, agencies=["health"])
    make_link(session, bulletin, kind=LinkKind.feedback, url="http://127.0.0.1:8000/f")
    make_link(session, bulletin, kind=LinkKind.honeypot, url="http://127.0.0.1:8000/h")
    assert bulletin.id is not None

    targets = bulletin_targets(session, bulletin.id, agency="police")

    assert [link.id for link in targets] == [shared.id, police_only.id]


def test_check_links_exits_1_and_names_the_broken_target(
    session: Session,
    site: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bulletin = make_bulletin(session, month="2026-07")
    make_link(session, bulletin, url=site + "/ok", catalogue_id="course-ok")
    make_link(session, bulletin, url=site + "/gone", catalogue_id="course-gone")
    session.commit()
    for name, value in {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PLAN_DIR": str(REPO / "campaigns"),
        "LINKCHECK_ALLOW_PRIVATE": "true",
        "LINKCHECK_TIMEOUT": "1",
    }.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)

    result = CliRunner().invoke(app, ["bulletin", "check-links", "2026-07"])

    assert result.exit_code == 1, result.output
    assert "course-gone" in result.output
    assert "the page answered 404" in result.output
    assert "2 targets: 1 broken, 0 slow" in result.output
