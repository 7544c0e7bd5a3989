"""The web client in a real browser: two people in two browser contexts.

Alice signs in with her password, Bob with a one-time link. They see their sidebars with
badges, open #general, talk live, react, reply in a thread, see each other typing, quick-switch
and search; then the edge they are on is killed, and the page reconnects (to the other edge)
and shows every message exactly once, including one posted while it was away.
"""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PASSWORD, World, off_loop

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000


def shot(page: Any, world: World, name: str) -> None:
    page.screenshot(path=str(world.shots / f"{name}.png"))


def sign_in(page: Any, world: World, email: str, password: str = PASSWORD) -> None:
    page.goto(world.router_url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def message(page: Any, text: str, panel: str = "#messages") -> Any:
    return page.locator(f"{panel} article", has_text=text)


def open_channel(page: Any, name: str) -> None:
    page.locator("#sidebar a", has_text=re.compile(rf"^\W*{re.escape(name)}")).first.click()
    page.wait_for_function(
        "name => document.getElementById('channel-title').textContent.includes(name)", arg=name
    )


def edge_holding_connections(world: World, wait_s: float = 15.0) -> str:
    """The one edge the router sees holding connections. The router learns each edge's count
    from its heartbeats (every 2 s here) and reads the edge list at most every refresh, so a
    count can lag the connections by a few seconds: asked again until it shows."""
    deadline = time.monotonic() + wait_s
    while True:
        stats = httpx.get(
            world.router_url + "/internal/stats", headers={"x-flannel-service-secret": world.stack.cfg.secret}
        ).json()
        busy = [e["id"] for e in stats["edges"] if e["connections"] > 0]
        if len(busy) == 1 or time.monotonic() > deadline:
            assert len(busy) == 1, stats["edges"]
            return str(busy[0])
        time.sleep(0.25)


def test_sign_in_refuses_a_wrong_password_and_a_spent_link(world: World, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, world, "alice@example.com", "not the password")
    alert = page.get_by_role("alert")
    alert.filter(has_text="don't match").wait_for(timeout=WAIT_MS)
    page.goto("about:blank")
    sign_in(page, world, "nobody@example.com")  # the same words: no hint the email is unknown
    alert.filter(has_text="don't match").wait_for(timeout=WAIT_MS)
    shot(page, world, "signin")
    link = world.link(world.team.carol.id)
    page.goto(link)
    page.locator("#sidebar a").first.wait_for(timeout=WAIT_MS)
    assert "#signin" not in page.url  # the spent secret is not left in the address bar
    # Signed in, the page comes with its socket (a nonce'd boot script the policy allows):
    # reloaded, it opens it at once and asks no rtm.connect; the first channel's history was
    # asked by the boot script, on the hello.
    asked: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.reload()
    message(page, "history line 44").wait_for(timeout=WAIT_MS)
    assert not [url for url in asked if "/api/" in url], asked
    assert page.evaluate("() => window.flannel.conn.edge") and errors == []
    assert page.evaluate("() => performance.getEntriesByName('content-visible').length") == 1
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").wait_for(timeout=WAIT_MS)
    other = browser.new_context().new_page()
    other.goto(link)
    other.get_by_role("alert").filter(has_text="used or has expired").wait_for(timeout=WAIT_MS)
    context.close()
    other.context.close()


def test_the_page_is_revalidated_and_its_files_cached_a_minute(world: World) -> None:
    from router.webclient import STATIC_CACHE

    page = httpx.get(world.router_url + "/")
    assert page.headers["cache-control"] == "no-cache"
    for path in ("/web/static/js/app.js", "/web/static/style.css"):
        got = httpx.get(world.router_url + path)
        assert got.status_code == 200 and got.headers["cache-control"] == STATIC_CACHE == "public, max-age=60"
        assert got.headers["etag"]  # then revalidated


#: Records the page's desktop notifications (the real constructor's permission, as the
#: context granted it): headless Chromium shows none, so the page's calls are what we observe.
NOTIFICATION_SPY = """(() => {
  const Real = window.Notification;
  const shown = [];
  function Spy(title, options = {}) {
    this.title = title; this.body = options.body ?? ""; this.tag = options.tag ?? ""; this.onclick = null;
    shown.push(this);
  }
  Object.defineProperty(Spy, "permission", { get: () => (Real ? Real.permission : "denied") });
  Spy.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Spy;
  window.__notifications = shown;
})();"""


def publish_desktop(world: World, user_id: str, frame: dict[str, Any]) -> None:
    """What the notifier does: a ``desktop_notification`` for ``user_id`` on the ephemeral bus."""
    from ephemeral.redis_bus import RedisBus
    from wire.bus import UserFrame

    async def publish() -> None:
        assert world.stack.cfg.redis_url is not None
        bus = RedisBus(world.stack.cfg.redis_url, world.stack.cfg.prefix)
        try:
            await bus.publish(UserFrame(world.team.id, "notifier", user_id, frame))
            assert bus.published == 1
        finally:
            await bus.close()

    off_loop(publish())


def presence_of(page: Any, user_id: str) -> Any:
    return page.locator(f'#messages .dot[data-presence="{user_id}"]').first


def test_presence_notifications_and_editing_own_messages(world: World, browser: Any) -> None:
    from notifier.decide import Channel, Message
    from notifier.render import desktop_frame

    team = world.team
    origin = world.stack.origin_url
    bob_says = httpx.post(  # a message of Bob's on Carol's screen: his presence is shown by it
        origin + "/api/chat.postMessage",
        headers={"authorization": f"Bearer {team.bob.token}"},
        data={"channel": team.general, "text": "bob checking in"},
    ).json()
    assert bob_says["ok"] is True
    c_ctx = browser.new_context(permissions=["notifications"])
    c_ctx.add_init_script(NOTIFICATION_SPY)
    b_ctx = browser.new_context()
    carol, bob = c_ctx.new_page(), b_ctx.new_page()
    errors: list[str] = []
    for page in (carol, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    carol.goto(world.link(team.carol.id))
    message(carol, "bob checking in").wait_for(timeout=WAIT_MS)
    assert carol.evaluate("() => Notification.permission") == "granted"

    # Presence: subscribed for the people on screen; Bob is away until he signs in.
    dot = presence_of(carol, team.bob.id)
    dot.and_(carol.locator('[title="away"]')).wait_for(timeout=WAIT_MS)
    assert "active" not in (dot.get_attribute("class") or "").split()
    bob.goto(world.link(team.bob.id))
    message(bob, "bob checking in").wait_for(timeout=WAIT_MS)
    carol.locator(f'#messages .dot.active[data-presence="{team.bob.id}"]').first.wait_for(timeout=WAIT_MS)
    shot(carol, world, "presence")
    for presence, shown in (("away", "away"), ("auto", "active")):  # users.setPresence, live
        answer = httpx.post(
            origin + "/api/users.setPresence",
            headers={"authorization": f"Bearer {team.bob.token}"},
            data={"presence": presence},
        ).json()
        assert answer["ok"] is True, answer
        dot.and_(carol.locator(f'[title="{shown}"]')).wait_for(timeout=WAIT_MS)

    # Edit and delete: only on one's own messages, seen live by the other.
    carol.locator("#compose").fill("a message with a typo")
    carol.locator("#compose").press("Enter")
    mine = message(carol, "a message with a typo")
    mine.locator("time", has_text=re.compile(r"\d")).wait_for(timeout=WAIT_MS)  # sent, not pending
    theirs = message(bob, "a message with a typo")
    theirs.wait_for(timeout=WAIT_MS)
    assert theirs.get_by_role("button", name="Edit message").count() == 0
    assert theirs.get_by_role("button", name="Delete message").count() == 0
    carol.once("dialog", lambda dialog: dialog.accept("a message without a typo"))
    mine.hover()
    mine.get_by_role("button", name="Edit message").click()
    edited = message(bob, "a message without a typo")
    edited.wait_for(timeout=WAIT_MS)
    assert message(bob, "with a typo").count() == 0
    message(carol, "a message without a typo").wait_for(timeout=WAIT_MS)
    confirmed: list[str] = []

    def confirm(dialog: Any) -> None:
        confirmed.append(dialog.message)
        dialog.accept()

    carol.once("dialog", confirm)
    gone = message(carol, "a message without a typo")
    gone.hover()
    gone.get_by_role("button", name="Delete message").click()
    edited.wait_for(state="detached", timeout=WAIT_MS)
    gone.wait_for(state="detached", timeout=WAIT_MS)
    assert confirmed == ["Delete this message?"]
    assert message(carol, "bob checking in").count() == 1  # only that one went

    # Desktop notifications: a desktop_notification frame (as the notifier renders it) becomes
    # one Notification; clicking it opens its channel.
    channel = Channel(world.random, "channel", frozenset({team.carol.id, team.bob.id}), False, "random")
    said = Message(team.id, world.random, team.bob.id, "lunch at noon?", "1700000000.000100")
    publish_desktop(
        world, team.carol.id, desktop_frame("Flannel", team.id, channel, said, "bob", "lunch at noon?")
    )
    carol.wait_for_function("() => window.__notifications.length > 0", timeout=WAIT_MS)
    shown = carol.evaluate("() => window.__notifications.map(n => [n.title, n.body, n.tag])")
    assert shown == [["Flannel", "bob: lunch at noon?", "1700000000.000100"]]
    assert bob.evaluate("() => window.__notifications === undefined")  # and none for Bob
    carol.evaluate("() => window.__notifications[0].onclick()")
    carol.wait_for_function("() => document.getElementById('channel-title').textContent.includes('random')")

    # Bob signs out: Carol sees him away (open #general again, where his message is).
    bob.get_by_role("button", name="Sign out").click()
    bob.get_by_label("Email").wait_for(timeout=WAIT_MS)
    open_channel(carol, "general")
    presence_of(carol, team.bob.id).and_(carol.locator('[title="away"]')).wait_for(timeout=WAIT_MS)
    assert errors == []
    c_ctx.close()
    b_ctx.close()


def test_two_people_talk_live_and_survive_an_edge_kill(world: World, browser: Any) -> None:
    team = world.team
    a_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    b_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    alice, bob = a_ctx.new_page(), b_ctx.new_page()
    errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Sign in: Alice with her password, Bob with a one-time link.
    sign_in(alice, world, "alice@example.com")
    bob.goto(world.link(team.bob.id))
    for page in (alice, bob):
        page.locator("#sidebar a").first.wait_for(timeout=WAIT_MS)

    # The sidebar: sections, and a mention badge on #general (Carol mentioned Alice) until read.
    sidebar = alice.locator("#sidebar")
    assert sidebar.get_by_role("heading", name="Channels", exact=True).is_visible()
    assert sidebar.get_by_role("heading", name="Private channels", exact=True).is_visible()
    badge = alice.locator("#sidebar a", has_text="general").locator('[data-badge="mentions"]')
    assert badge.inner_text() == "1"
    random_link = alice.locator("#sidebar a", has_text="random")
    assert "unread" in (random_link.get_attribute("class") or "")
    shot(alice, world, "sidebar")

    # Open #general: its last page of messages, older ones on scroll up.
    for page in (alice, bob):
        open_channel(page, "general")
        message(page, "welcome aboard").wait_for(timeout=WAIT_MS)
    assert alice.locator("#messages article").count() == 40
    alice.locator("#messages").evaluate(
        "box => { box.scrollTop = 0; box.dispatchEvent(new Event('scroll')); }"
    )
    message(alice, "history line 0").wait_for(timeout=WAIT_MS)
    # The mention is rendered as Alice's name, and clickable.
    assert message(alice, "welcome aboard").locator("button.mention", has_text="@alice").count() == 1

    # Typing: Bob types, Alice sees it.
    bob.locator("#compose").press_sequentially("hel")
    alice.locator("#typing", has_text="bob is typing").wait_for(timeout=WAIT_MS)

    # Send: Alice's message (with markup that must stay text) reaches Bob live.
    text = "hello from alice *bold* <img src=x onerror=alert(1)>"
    alice.locator("#compose").fill(text)
    alice.locator("#compose").press("Enter")
    got = message(bob, "hello from alice")
    got.wait_for(timeout=WAIT_MS)
    assert got.locator("strong", has_text="bold").count() == 1
    assert got.locator("img").count() == 0 and "<img src=x" in got.inner_text()
    message(alice, "hello from alice").locator("time", has_text=re.compile(r"\d")).wait_for(timeout=WAIT_MS)
    assert message(alice, "hello from alice").count() == 1  # the local echo was reconciled
    shot(bob, world, "channel")

    # React: Bob +1s it, Alice sees the count.
    got.hover()
    got.get_by_role("button", name="React with +1").click()
    message(alice, "hello from alice").locator('[data-reaction="+1"]', has_text="1").wait_for(timeout=WAIT_MS)

    # Thread: Bob replies in the side panel; Alice sees the reply count, opens the thread.
    got.hover()
    got.get_by_role("button", name="Reply in thread").click()
    bob.locator("#thread-compose").fill("a reply in the thread")
    bob.locator("#thread-compose").press("Enter")
    message(bob, "a reply in the thread", "#thread-messages").wait_for(timeout=WAIT_MS)
    replies = message(alice, "hello from alice").get_by_role("button", name="1 reply")
    replies.wait_for(timeout=WAIT_MS)
    replies.click()
    message(alice, "a reply in the thread", "#thread-messages").wait_for(timeout=WAIT_MS)
    shot(alice, world, "thread")
    alice.get_by_role("button", name="Close thread").click()

    # Quick switcher: Ctrl-K, a prefix, Enter.
    alice.keyboard.press("Control+k")
    alice.locator("#switcher-input").press_sequentially("desig")
    alice.locator("#switcher-list li", has_text="design-reviews").wait_for(timeout=WAIT_MS)
    shot(alice, world, "switcher")
    alice.keyboard.press("Enter")
    alice.wait_for_function(
        "() => document.getElementById('channel-title').textContent.includes('design-reviews')"
    )
    open_channel(alice, "general")

    # Search: the message Alice sent is found (the index may lag its commit a little).
    deadline = time.monotonic() + 20
    while True:
        alice.locator("#search").fill("hello from alice")
        alice.locator("#search").press("Enter")
        result = alice.locator("#results-list div.result", has_text="hello from alice")
        try:
            result.wait_for(timeout=2000)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
    shot(alice, world, "search")
    alice.get_by_role("button", name="Close search results").click()

    # Kill the edge both are on: the pages say so, reconnect (to the other edge) and resume.
    victim = edge_holding_connections(world)
    server = next(s for s in world.stack.servers if s.name.startswith("edge") and victim.startswith(s.name))
    os.kill(server.pid, signal.SIGKILL)
    alice.locator("#status", has_text="Reconnecting").wait_for(timeout=WAIT_MS)
    posted = httpx.post(  # while Alice is away: she must get it on resume, once
        world.stack.origin_url + "/api/chat.postMessage",
        headers={"authorization": f"Bearer {team.carol.token}"},
        data={"channel": team.general, "text": "posted while you were away"},
    ).json()
    assert posted["ok"] is True
    for page in (alice, bob):
        page.locator("#status").wait_for(state="hidden", timeout=30_000)
    for page in (alice, bob):  # the router's record of the dead edge outlives it a while
        assert page.evaluate("() => window.flannel.conn.edge") not in (None, victim)
    message(alice, "posted while you were away").wait_for(timeout=WAIT_MS)
    bob.locator("#compose").fill("after the failover")
    bob.locator("#compose").press("Enter")
    message(alice, "after the failover").wait_for(timeout=WAIT_MS)
    alice.wait_for_timeout(500)
    for text in ("hello from alice", "posted while you were away", "after the failover", "welcome aboard"):
        assert message(alice, text).count() == 1, text
    stamps = alice.locator("#messages article").evaluate_all("nodes => nodes.map(n => n.dataset.ts)")
    assert len(stamps) == len(set(stamps))
    shot(alice, world, "after-failover")

    # A session revoked elsewhere (an operator, another tab): Bob's page goes to sign-in.
    token = next(c["value"] for c in b_ctx.cookies() if c["name"] == "flannel_session")
    revoked = httpx.post(
        world.stack.origin_url + "/api/auth.revoke", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert revoked == {"ok": True, "revoked": True}
    bob.get_by_role("alert").filter(has_text="session ended").wait_for(timeout=45_000)

    # Signing out revokes the session: the page goes back to sign-in.
    alice.get_by_role("button", name="Sign out").click()
    alice.get_by_label("Email").wait_for(timeout=WAIT_MS)
    assert errors == []
    a_ctx.close()
    b_ctx.close()


def test_the_dashboard_shows_edges_by_region(world: World, browser: Any) -> None:
    page = browser.new_context().new_page()
    page.goto(world.router_url + "/dashboard")
    page.get_by_label("Service secret").fill("wrong")
    page.get_by_role("button", name="Open").click()
    page.get_by_role("alert").filter(has_text="wrong").wait_for(timeout=WAIT_MS)
    page.get_by_label("Service secret").fill(world.stack.cfg.secret)
    page.get_by_role("button", name="Open").click()
    # Region b's edge is alive (a's was killed above: listed as unreachable until its record expires).
    page.locator("caption", has_text=re.compile(r"^b — 1 edge, \d+ connections")).wait_for(timeout=WAIT_MS)
    assert page.locator("td", has_text="serving").count() >= 1
    for row in page.locator("tr", has_text="edge-a-").all():
        assert "unreachable" in row.inner_text()
    assert page.locator("#router dt", has_text="warm share").count() == 1
    assert page.locator("#origin dt", has_text="relay backlog").count() == 1
    shot(page, world, "dashboard")
    page.context.close()


#: Every frame the page sends on a WebSocket, with when (the page's clock).
SEND_SPY = """(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sent.push([performance.now(), data]);
    return send.call(this, data);
  };
})()"""


def test_a_reload_opens_the_last_channel_from_the_page_itself(world: World, browser: Any) -> None:
    """The page remembers the channel it showed (a cookie the router reads); the next page the
    router serves comes with that channel's messages (its first screen), drawn without asking
    the socket for them."""
    team = world.team
    ctx = browser.new_context()
    ctx.add_init_script(SEND_SPY)
    page = ctx.new_page()
    page.goto(world.link(team.alice.id))
    page.locator("#sidebar a", has_text="general").first.wait_for(timeout=WAIT_MS)
    open_channel(page, "secret-plans")
    assert {c["name"]: c["value"] for c in ctx.cookies()}["flannel_channel"] == team.private
    page.reload()
    page.wait_for_function(
        "() => performance.getEntriesByName('content-visible').length > 0", timeout=WAIT_MS
    )
    assert "secret-plans" in page.locator("#channel-title").text_content()
    page.locator("#status").wait_for(state="hidden", timeout=WAIT_MS)  # the socket is up too
    sent = page.evaluate("() => window.__sent.map(([t, d]) => JSON.parse(d))")
    assert not [d for d in sent if d.get("method") == "conversations.history"]  # it came with the page
    ctx.close()


def test_the_first_screen_needs_no_socket_and_misses_nothing(world: World, browser: Any) -> None:
    """The page draws #general's messages before its socket has answered anything; a message
    posted after the page was served comes once the socket connects (it resumes from the
    page's hello), once; and a live one after it, once."""
    team = world.team
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(world.link(team.bob.id))
    message(page, "welcome aboard").wait_for(timeout=WAIT_MS)
    held: list[Any] = []
    sent: list[str] = []
    server: list[Any] = []

    def hold(ws: Any) -> None:  # the page's socket: not put through to the edge until told
        held.append(ws)
        ws.on_message(lambda frame: (sent.append(frame), server and server[0].send(frame)))

    page.route_web_socket(re.compile(r"/rtm\?ticket="), hold)
    page.reload()
    page.wait_for_function(
        "() => performance.getEntriesByName('content-visible').length > 0", timeout=WAIT_MS
    )
    assert (
        message(page, "welcome aboard").count() == 1
        and "general" in page.locator("#channel-title").text_content()
    )
    assert len(held) == 1 and not [f for f in sent if "conversations.history" in str(f)]
    posted = httpx.post(
        world.stack.origin_url + "/api/chat.postMessage",
        headers={"authorization": f"Bearer {team.carol.token}"},
        data={"channel": team.general, "text": "posted after the page was served"},
    ).json()
    assert posted["ok"] is True
    server.append(held[0].connect_to_server())
    message(page, "posted after the page was served").wait_for(timeout=WAIT_MS)
    again = httpx.post(
        world.stack.origin_url + "/api/chat.postMessage",
        headers={"authorization": f"Bearer {team.carol.token}"},
        data={"channel": team.general, "text": "and one more, live"},
    ).json()
    assert again["ok"] is True
    message(page, "and one more, live").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(300)
    for text in ("posted after the page was served", "and one more, live", "welcome aboard"):
        assert message(page, text).count() == 1, text
    stamps = page.locator("#messages article").evaluate_all("nodes => nodes.map(n => n.dataset.ts)")
    assert len(stamps) == len(set(stamps))
    ctx.close()
