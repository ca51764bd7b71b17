"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

Each page is opened against a live server on 127.0.0.1; the key numbers must be on screen,
charts must draw, the token must be enforced when one is configured, and no request may leave
the machine. Screenshots land in test-artifacts/web/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from .live import serve, stop
from .seed import BTC, FED

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("KALBOT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
TOKEN = "browser-token-0123456789abcdef"


def _chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        msg = f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def browser_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exports = tmp_path_factory.mktemp("exports")
    run = exports / "2026-11-20_standard"
    run.mkdir()
    (run / "metrics.json").write_text('{"total_return": "0.042", "sharpe": "1.31", "trades": 17}')
    (run / "report.html").write_text(
        "<!doctype html><title>report</title><h1>Backtest 2026-11-20</h1>"
        '<img alt="equity" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf'
        'FcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">'
    )
    return exports


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser: Browser, requests: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)  # shared CI machines can be very busy
    page.on("request", lambda req: requests.append(req.url))

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    return page


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _only_local(requests: list[str], base: str) -> None:
    outside = [u for u in requests if not u.startswith((base, "data:"))]
    assert outside == [], f"requests left the machine: {outside}"
    assert requests, "no request recorded"


def test_every_page_shows_its_numbers_and_charts(
    playwright_browser: Browser, sqlite_seeded: str, browser_exports: Path
) -> None:
    live = serve(sqlite_seeded, browser_exports, token=None)
    requests: list[str] = []
    p = _page(playwright_browser, requests)
    try:
        p.goto(live.base + "/")
        body = p.inner_text("main")
        for expected in ("PAPER", "ACTIVE", "$10,035.45", "$10,047.20", "$12.75", "+$1.60",
                         "−$2.43", "+$3.86", "+$1.89", "$0.0413", "$10.00",
                         "no_edge_after_fees", "spread_too_wide"):  # fmt: skip
            assert expected in body, expected
        _shot(p, "overview")

        p.goto(live.base + "/positions")
        table = p.inner_text("[data-testid=positions-table]")
        for expected in (BTC, FED, "+$0.60", "+$1.00", "settled_yes", "−$3.75", "+$6.29"):
            assert expected in table, expected
        _shot(p, "positions")
        p.select_option("select[name=status]", "closed")
        p.click("form.filters button")
        p.wait_for_url(lambda url: "status=closed" in url)
        assert "unrealised" not in p.inner_text("[data-testid=positions-table]")

        p.goto(live.base + "/analyses")
        text = p.inner_text("[data-testid=analyses-table]")
        assert "gpt-4o-mini" in text and "62.0%" in text and "OPEN_YES" in text
        details = p.locator("details#rationale-1")
        assert not details.evaluate("d => d.open")
        details.locator("summary").click()
        assert details.evaluate("d => d.open")
        assert "implied vol" in details.inner_text()
        _shot(p, "analyses")

        p.goto(live.base + "/performance")
        assert "50.0%" in p.inner_text("[data-testid=win-rate]")
        for chart in ("equity-chart", "drawdown-chart"):
            n = p.locator(f"[data-testid={chart}] svg.chart polyline.series").count()
            assert n >= 1, chart
        assert p.locator("[data-testid=pnl-chart] svg rect.bar").count() == 3
        # The 1 s refresh may swap the chart out just as it is measured: measure again then.
        box = None
        for _ in range(10):
            box = p.locator("[data-testid=equity-chart] svg").bounding_box()
            if box is not None:
                break
            p.wait_for_timeout(200)
        assert box is not None and box["width"] > 300 and box["height"] > 100
        _shot(p, "performance")

        p.goto(live.base + "/markets")
        assert BTC in p.inner_text("[data-testid=markets-table]")
        p.click(f"text={FED}")
        p.wait_for_url(f"**/markets/{FED}")
        price_chart = p.locator("[data-testid=price-chart] svg.chart")
        assert price_chart.locator("polyline.series").count() == 3
        assert price_chart.locator("polygon.marker").count() == 3  # two entries, one exit
        _shot(p, "market")

        p.goto(live.base + "/backtests")
        assert "2026-11-20_standard" in p.inner_text("main")
        _shot(p, "backtests")
        p.click("text=Open report")
        p.wait_for_url("**/report.html")
        assert "Backtest 2026-11-20" in p.inner_text("h1")
    finally:
        stop(live)
    _only_local(requests, live.base)


def test_numbers_refresh_without_a_full_reload(
    playwright_browser: Browser, sqlite_seeded: str, browser_exports: Path
) -> None:
    live = serve(sqlite_seeded, browser_exports, token=None)
    requests: list[str] = []
    p = _page(playwright_browser, requests)
    try:
        p.goto(live.base + "/")
        p.evaluate("window.__sameDocument = 42")
        # Set by static/app.js after it swapped in fresh content.
        p.locator("body[data-refreshed-at]").wait_for(state="attached", timeout=10_000)
        assert p.evaluate("window.__sameDocument") == 42
        assert "−$2.43" in p.inner_text("[data-testid=pnl-today]")
    finally:
        stop(live)
    _only_local(requests, live.base)


def test_the_token_is_enforced_off_loopback(
    playwright_browser: Browser, sqlite_seeded: str, browser_exports: Path
) -> None:
    live = serve(sqlite_seeded, browser_exports, token=TOKEN)
    requests: list[str] = []
    p = _page(playwright_browser, requests)
    try:
        resp = p.goto(live.base + "/")
        assert resp is not None and resp.status == 401 and "token" in p.inner_text("body")
        _shot(p, "token-required")
        resp = p.goto(live.base + "/?token=wrong-token-000000000")
        assert resp is not None and resp.status == 401
        resp = p.goto(f"{live.base}/?token={TOKEN}")
        assert resp is not None and resp.status == 200 and p.url == live.base + "/"
        assert "$10,047.20" in p.inner_text("main")
        resp = p.goto(live.base + "/performance")
        assert resp is not None and resp.status == 200  # the cookie carries the token from now on
        assert TOKEN not in " ".join(requests[-3:])
    finally:
        stop(live)
    _only_local(requests, live.base)
