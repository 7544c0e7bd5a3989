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
``web.thin_connected_ms`` the page's WebSocket open, ``web.thin_hello_ms`` its hello received
(a page that came with its first screen draws before it), and the navigation's own steps
(``web.thin_response_end_ms``, ``web.thin_dom_interactive_ms``, ``web.thin_first_paint_ms``...).

``web.floor_ms``: the same probe on ``/web/static/floor.html``, a static page that sets the mark
after its first frame, as the pages do: what this Chromium takes for any new page on this host
(its renderer's start, parse, first frame), measured beside the others; ``web.floor_over_fat``
is the ratio no page of this browser can beat. With ``FLANNEL_WEB_TRACE=<path>`` one more thin
boot is traced (Chromium's trace, for where the time goes).
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


#: Where the thin page's time went (navigation clock): its socket open, its hello in, and the
#: navigation's own steps (the HTML's first byte and last, the document parsed).
STEPS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return [
    ...['connected', 'hello'].map(n => performance.getEntriesByName(n)[0]?.startTime ?? -1),
    nav.requestStart, nav.responseStart, nav.responseEnd, nav.domInteractive, nav.domContentLoadedEventEnd,
    performance.getEntriesByName('first-paint')[0]?.startTime ?? -1,
  ];
}"""

#: The navigation's steps in :data:`STEPS` (by index), reported for the thin page and the floor.
NAV_STEPS = (
    (2, "request"),
    (3, "response_start"),
    (4, "response_end"),
    (5, "dom_interactive"),
    (6, "dom_loaded"),
    (7, "first_paint"),
)


async def _visible_ms(
    context: Any, url: str, steps: list[list[float]] | None = None, trace: Any = None
) -> float:
    page = await context.new_page()
    try:
        devtools = await context.new_cdp_session(page)
        if trace is not None:
            await trace.start_tracing(page=page, path=os.environ["FLANNEL_WEB_TRACE"])
        await page.goto(url)
        async with asyncio.timeout(60):
            await devtools.send("Runtime.evaluate", {"expression": AWAIT_MARK, "awaitPromise": True})
        if trace is not None:
            await trace.stop_tracing()
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
            if os.environ.get("FLANNEL_WEB_TRACE"):
                await _visible_ms(context, router + "/")
                await _visible_ms(context, router + "/", None, browser)
            thin: list[float] = []
            fat: list[float] = []
            steps: list[list[float]] = []
            floor: list[float] = []
            floor_steps: list[list[float]] = []
            for _ in range(reps):
                thin.append(await _visible_ms(context, router + "/", steps))
                fat.append(await _visible_ms(context, router + "/web/static/fat.html"))
                floor.append(await _visible_ms(context, router + "/web/static/floor.html", floor_steps))
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
        **{f"web.thin_{name}_ms": round(median([s[i] for s in steps]), 1) for i, name in NAV_STEPS},
        "web.floor_ms": round(median(floor), 1),
        **{f"web.floor_{name}_ms": round(median([s[i] for s in floor_steps]), 1) for i, name in NAV_STEPS},
        "web.floor_over_fat": ratio(fat_ms, median(floor)),
    }
