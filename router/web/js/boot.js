// The page's first moves, before its modules have loaded. The router inlines this script
// (under the page's CSP nonce) into the page it serves a signed-in session, after
// `window.flannelBoot = {url, edge, csrf, me}`: the WebSocket URL of an `rtm.connect` it
// answered for that session while serving the page (and the session's CSRF value, which its
// cookie holds too: app.js need not read the cookies; and `TEAM:USER`, whose last channel this
// browser remembers). So the socket opens while the HTML is still being parsed, and the first
// channel's history is asked at once, not after the modules and a round trip to `rtm.connect`:
// the channel the page showed last (app.js remembers it), asked as soon as the socket is open,
// so the edge answers it right behind the hello; else, on the hello, #general. A page that
// opens another channel first (the remembered one is gone) drops the early answer and asks.
// Frames are kept until `rtm.js` adopts the socket (Connection.start), which replays them in
// order. A sign-in link in the address means another session is about to replace this one:
// the socket is not opened.
(() => {
  const boot = window.flannelBoot;
  if (!boot || !boot.url || location.hash.includes("signin=")) { window.flannelBoot = null; return; }
  const ws = new WebSocket(boot.url);
  Object.assign(boot, { ws, frames: [], closed: null, history: null });
  const ask = (id, channel) => {
    boot.history = { id, channel }; // rtm.js starts its ids after it
    ws.send(JSON.stringify({ id, type: "query", method: "conversations.history", args: { channel, limit: 40 } }));
  };
  let last = null;
  try { last = boot.me ? localStorage.getItem(`flannel.channel.${boot.me}`) : null; } catch { last = null; }
  ws.onopen = () => {
    performance.mark("connected");
    if (last) ask(1, last);
  };
  ws.onmessage = (msg) => {
    boot.frames.push(msg.data);
    if (boot.frames.length !== 1) return;
    let hello;
    try { hello = JSON.parse(msg.data); } catch { return; }
    boot.hello = hello; // parsed once: rtm.js uses it as the first frame
    if (hello.type !== "hello") return;
    performance.mark("hello");
    const channels = hello.channels || [];
    if (last && channels.some((c) => c.id === last && !c.is_archived)) return; // asked already
    // The channel the page opens first otherwise (app.js firstChannel): #general when the user is in it.
    const general = channels.find((c) => c.name === "general" && !c.is_im && !c.is_mpim);
    if (general) ask(2, general.id);
  };
  ws.onclose = (ev) => { boot.closed = ev; };
  ws.onerror = () => {};
})();
