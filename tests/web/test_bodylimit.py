"""Request bodies are capped while they stream, per route, before a handler holds them."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from newsletter.web.bodylimit import BodyLimit


def _app(received: list[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/small")
    async def small(request: Request) -> dict[str, int]:
        body = await request.body()
        received.append(len(body))
        return {"bytes": len(body)}

    @app.post("/uploads/file")
    async def upload(request: Request) -> dict[str, int]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        received.append(total)
        return {"bytes": total}

    app.add_middleware(BodyLimit, default=1000, limits={"/uploads": 10_000})
    return app


def _chunks(size: int, chunk: int = 100) -> Iterator[bytes]:
    for _ in range(size // chunk):
        yield b"x" * chunk


def test_a_declared_length_over_the_limit_is_refused_before_the_handler_runs() -> None:
    received: list[int] = []
    with TestClient(_app(received)) as client:
        assert client.post("/small", content=b"x" * 1000).json() == {"bytes": 1000}
        refused = client.post("/small", content=b"x" * 1001)
    assert refused.status_code == 413
    assert received == [1000]


def test_a_streamed_body_without_a_length_is_cut_off_as_it_crosses_the_limit() -> None:
    received: list[int] = []
    with TestClient(_app(received)) as client:
        assert client.post("/small", content=_chunks(900)).json() == {"bytes": 900}
        refused = client.post("/small", content=_chunks(5000))
        assert refused.status_code == 413
        streamed = client.post("/uploads/file", content=_chunks(20_000))
        assert streamed.status_code == 413
    assert received == [900]


def test_a_route_with_its_own_limit_takes_more_than_the_default() -> None:
    received: list[int] = []
    with TestClient(_app(received)) as client:
        assert client.post("/uploads/file", content=b"x" * 9000).json() == {"bytes": 9000}
        assert client.post("/uploads/file", content=_chunks(9000)).json() == {"bytes": 9000}
        assert client.post("/small", content=b"x" * 9000).status_code == 413


def test_the_service_caps_a_form_post_to_the_staff_pages(settings, engine, clock) -> None:
    from newsletter.web.app import create_app

    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        response = client.post(
            "/admin/sign-in",
            content=_chunks(2 << 20, 4096),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
