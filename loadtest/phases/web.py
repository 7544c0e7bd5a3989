"""Web: the browser client's first screen on a warm edge, against a fat page, in one browser.

``web.content_visible_ms_<n>``: from navigation to the sidebar and the first channel's messages
rendered (the page's own ``content-visible`` mark, on its navigation clock), the thin client
booting from the hello through the router; ``web.fat_content_visible_ms_<n>``: the same first
screen booted from ``rtm.start`` (``/web/static/fat.html``), in the same Chromium, alternating,
same run; ``web.over_fat`` is their ratio. ``web.switcher_ms``: a keystroke in the quick switcher
to its results drawn (the edge's prefix searches, over the page's WebSocket). Medians; the
first thin boot warms the edge and is not counted. Both pages hold the same signed-in session
(the large workspace's typical user's token as the session cookie).

The probe stays out of the page while it boots: the end is awaited by one DevTools
``Runtime.evaluate`` of a ``PerformanceObserver`` for the mark (not Playwright's
``wait_for_function``, whose injected script, ~40 ms of the page's main thread on a loaded
core, used to be evaluated in the middle of the boot, for either page). The steps:
``web.thin_connected_ms`` the page's WebSocket open, ``web.thin_hello_ms`` its hello received.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from loadtest.phases import Context
from loadtest.stats import median, ratio
from router.webclient import COOKIE, CSRF_COOKIE, csrf_of

CHROMIUM = Path(os.environ.get("FLANNEL_CHROMIUM", "/usr/bin/chromium"))
PREFIXES = ("a", "b", "ch", "d", "e", "ma", "s", "t", "jo", "ro")
#: The page's navigation-clock time of its ``content-visible`` mark, once it is set.
MARK = "() => performance.getEntriesByName('content-visible').map(e => e.startTime)[0] ?? null"
MARKED = "() => performance.getEntriesByName('content-visible').length > 0"
#: The mark awaited from outside the page (DevTools), without polling in it.
AWAIT_MARK = (
    "new Promise((resolve) => new PerformanceObserver((list, seen) => {"
    " if (list.getEntriesByName('content-visible').length) { seen.disconnect(); resolve(true); }"
    " }).observe({ type: 'mark', buffered: true }))"
)
#: One switcher keystroke, timed in the page: the input event to the results drawn.
SWITCH = """async (prefix) => {
  const box = document.getElementById('switcher');
  const input = document.getElementById('switcher-input');
  const before = box.dataset.ready;
  const drawn = new Promise((resolve) => {
    const seen = new MutationObserver(() => {
      if (box.dataset.ready !== before) { seen.disconnect(); resolve(performance.now()); }
    });
    seen.observe(box, { attributes: true, attributeFilter: ['data-ready'] });
  });
  const started = performance.now();
  input.value = prefix;
  input.dispatchEvent(new Event('input'));
  return (await drawn) - started;
}"""


#: Where the thin page's time went: its socket open, its hello in (navigation clock).
STEPS = "() => ['connected', 'hello'].map(n => performance.getEntriesByName(n)[0]?.startTime ?? null)"


async def _visible_ms(context: Any, url: str, steps: list[list[float]] | None = None) -> float:
    page = await context.new_page()
    try:
        devtools = await context.new_cdp_session(page)
        await page.goto(url)
        async with asyncio.timeout(60):
            await devtools.send("Runtime.evaluate", {"expression": AWAIT_MARK, "awaitPromise": True})
        await devtools.detach()
        if steps is not None:
            steps.append([float(x) for x in await page.evaluate(STEPS)])
        return float(await page.evaluate(MARK))
    finally:
        await page.close()


async def run(ctx: Context) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing (scripts/bootstrap installs Debian's chromium)")
    router = ctx.stack.router_url
    if router is None:
        raise RuntimeError("the web phase needs the router (it serves the page)")
    ws, label = ctx.large, "32000"  # the large workspace (quick runs seed fewer: see web.users)
    reps = max(3, ctx.plan.thin_reps // 2)
    ctx.say(f"web: {ws.users} users, {reps} thin and {reps} fat page boots in Chromium ...")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            # Playwright's polling needs eval, which the page's CSP forbids: lifted for the probe.
            context = await browser.new_context(bypass_csp=True)
            token = ws.tokens[1]  # signed in, as /web/signin leaves a browser
            csrf = csrf_of(ctx.stack.cfg.secret, token)
            await context.add_cookies(
                [
                    {"name": COOKIE, "value": token, "url": router},
                    {"name": CSRF_COOKIE, "value": csrf, "url": router},
                ]
            )
            cold = await _visible_ms(context, router + "/")  # warms the edge (and the browser's cache)
            thin: list[float] = []
            fat: list[float] = []
            steps: list[list[float]] = []
            for _ in range(reps):
                thin.append(await _visible_ms(context, router + "/", steps))
                fat.append(await _visible_ms(context, router + "/web/static/fat.html"))
            page = await context.new_page()
            await page.goto(router + "/")
            await page.wait_for_function(MARKED, timeout=60_000)
            await page.keyboard.press("Control+k")
            switch = [float(await page.evaluate(SWITCH, prefix)) for prefix in PREFIXES * 2]
            await context.close()
        finally:
            await browser.close()
    thin_ms, fat_ms = median(thin), median(fat)
    return {
        "web.users": ws.users,
        f"web.content_visible_ms_{label}": round(thin_ms, 1),
        f"web.fat_content_visible_ms_{label}": round(fat_ms, 1),
        "web.content_visible_cold_ms": round(cold, 1),
        "web.over_fat": ratio(fat_ms, thin_ms),
        "web.switcher_ms": round(median(switch), 2),
        "web.thin_connected_ms": round(median([s[0] for s in steps]), 1),
        "web.thin_hello_ms": round(median([s[1] for s in steps]), 1),
    }
