// The page's first moves, before its modules have loaded. The router inlines this script
// (under the page's CSP nonce) into the page it serves a signed-in session, after
// `window.flannelBoot = {url, edge, csrf}`: the WebSocket URL of an `rtm.connect` it answered
// for that session while serving the page (and the session's CSRF value, which its cookie holds
// too: app.js need not read the cookies). So the socket opens while the HTML is still being
// parsed, and on the hello the first channel's history is asked at once, not after the modules
// and a round trip to `rtm.connect`. Frames are kept until `rtm.js` adopts the socket
// (Connection.start), which replays them in order. A sign-in link in the address means another
// session is about to replace this one: the socket is not opened.
(() => {
  const boot = window.flannelBoot;
  if (!boot || !boot.url || location.hash.includes("signin=")) { window.flannelBoot = null; return; }
  const ws = new WebSocket(boot.url);
  Object.assign(boot, { ws, frames: [], closed: null, history: null });
  ws.onopen = () => performance.mark("connected");
  ws.onmessage = (msg) => {
    boot.frames.push(msg.data);
    if (boot.frames.length !== 1) return;
    let hello;
    try { hello = JSON.parse(msg.data); } catch { return; }
    boot.hello = hello; // parsed once: rtm.js uses it as the first frame
    if (hello.type !== "hello") return;
    performance.mark("hello");
    // The channel the page opens first (app.js firstChannel): #general when the user is in it.
    const general = (hello.channels || []).find((c) => c.name === "general" && !c.is_im && !c.is_mpim);
    if (!general) return;
    boot.history = { id: 1, channel: general.id }; // rtm.js starts its ids after it
    ws.send(JSON.stringify({ id: 1, type: "query", method: "conversations.history", args: { channel: general.id, limit: 40 } }));
  };
  ws.onclose = (ev) => { boot.closed = ev; };
  ws.onerror = () => {};
})();
