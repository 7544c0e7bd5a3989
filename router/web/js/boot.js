// The page's first moves, before its modules have loaded. The router inlines this script
// (under the page's CSP nonce) into the page it serves a signed-in session, after a JSON data
// block (`#flannel-boot`, kept as `window.flannelBoot`: {url, edge, csrf, me, screen}): the WebSocket URL of an `rtm.connect` it
// answered for that session while serving the page (and the session's CSRF value, which its
// cookie holds too: app.js need not read the cookies; and `TEAM:USER`, whose last channel this
// browser remembers). So the socket opens while the HTML is still being parsed, and the first
// channel's history is asked at once, not after the modules and a round trip to `rtm.connect`:
// the channel the page showed last (app.js remembers it), asked as soon as the socket is open,
// so the edge answers it right behind the hello; else, on the hello, #general. A page that
// opens another channel first (the remembered one is gone) drops the early answer and asks.
// When the page came with its first screen (`boot.screen`: the hello, the first channel's
// page and its people, which the router read from the edge while serving the page), nothing is
// asked: the socket's ticket resumes from that hello's offset, and app.js draws the screen
// without waiting for the socket.
// Frames are kept until `rtm.js` adopts the socket (Connection.start), which replays them in
// order. A sign-in link in the address means another session is about to replace this one:
// the socket is not opened.
(() => {
  let boot = null;
  try { boot = JSON.parse(document.getElementById("flannel-boot")?.textContent || "null"); } catch { boot = null; }
  window.flannelBoot = boot;
  if (!boot || !boot.url || location.hash.includes("signin=")) { window.flannelBoot = null; return; }
  const ws = new WebSocket(boot.url);
  Object.assign(boot, { ws, frames: [], closed: null, history: null });
  const ask = (id, channel) => {
    boot.history = { id, channel }; // rtm.js starts its ids after it
    ws.send(JSON.stringify({ id, type: "query", method: "conversations.history", args: { channel, limit: 40 } }));
  };
  const drawn = !!boot.screen?.channel; // the page came with its first channel: nothing to ask
  let last = null; // (localStorage's first read in a new tab is not free: only when needed)
  try { last = boot.me && !drawn ? localStorage.getItem(`flannel.channel.${boot.me}`) : null; } catch { last = null; }
  ws.onopen = () => {
    performance.mark("connected");
    if (last && !drawn) ask(1, last);
  };
  ws.onmessage = (msg) => {
    boot.frames.push(msg.data);
    if (boot.frames.length !== 1) return;
    let hello;
    try { hello = JSON.parse(msg.data); } catch { return; }
    boot.hello = hello; // parsed once: rtm.js uses it as the first frame
    if (hello.type !== "hello") return;
    performance.mark("hello");
    if (drawn) return;
    const channels = hello.channels || [];
    if (last && channels.some((c) => c.id === last && !c.is_archived)) return; // asked already
    // The channel the page opens first otherwise (app.js firstChannel): #general when the user is in it.
    const general = channels.find((c) => c.name === "general" && !c.is_im && !c.is_mpim);
    if (general) ask(2, general.id);
  };
  ws.onclose = (ev) => { boot.closed = ev; };
  ws.onerror = () => {};
})();
