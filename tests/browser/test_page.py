"""The page and everything it loads come from parley itself, with the right types."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from parley.server import create_app
from parley.server.routes import browser as routes

from .harness import fake_providers, settings

pytestmark = pytest.mark.asyncio


def client() -> httpx.AsyncClient:
    app = create_app(settings(), providers=fake_providers())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_page_loads_only_what_parley_serves() -> None:
    async with client() as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert "/vendor/vad/bundle.min.js" in urls and "/vendor/ort/ort.wasm.min.js" in urls
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url  # no CDN, no host
            assert (await http.get(url)).status_code == 200, url
        # The modules the page imports, and the worklets and assets it fetches, exist.
        for script in routes.WEB_DIR.glob("*.js"):
            source = script.read_text()
            for name in re.findall(r'from "\./([\w-]+\.js)"', source):
                assert (routes.WEB_DIR / name).is_file(), name
            for url in re.findall(r'"(/(?:static|vendor)/[\w/.-]+)"', source):
                if not url.endswith("/"):
                    assert (await http.get(url)).status_code == 200, url
            assert "://" not in re.sub(r"`\$\{scheme\}://", "", source), script.name


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/vendor/ort/ort-wasm-simd-threaded.mjs", "text/javascript; charset=utf-8"),
        ("/vendor/ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
        ("/vendor/vad/vad.worklet.bundle.min.js", "text/javascript; charset=utf-8"),
        ("/vendor/vad/silero_vad_v5.onnx", "application/octet-stream"),
    ],
)
async def test_files_are_served_with_their_types(url: str, media_type: str) -> None:
    async with client() as http:
        response = await http.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        assert len(response.content) > 100


@pytest.mark.parametrize(
    "url",
    [
        "/static/package.json",  # not a type the page needs
        "/static/..%2F..%2Fsettings.py",
        "/static/.hidden.js",
        "/static/missing.js",
        "/vendor/ort/..%2Fpackage.json",
        "/vendor/nope/bundle.min.js",
        "/vendor/vad/package.json",
    ],
)
async def test_nothing_else_is_served(url: str) -> None:
    async with client() as http:
        assert (await http.get(url)).status_code == 404


async def test_missing_npm_packages_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(routes.VENDOR_DIRS, "vad", tmp_path / "not-installed")
    async with client() as http:
        response = await http.get("/vendor/vad/bundle.min.js")
        assert response.status_code == 404
        assert "make setup" in response.json()["detail"]
