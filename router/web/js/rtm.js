// The connection: rtm.connect through the router (the page's one origin), then the edge's
// WebSocket. Queries are Web API calls over the socket (answered from the edge's memory or
// forwarded). On a drop it reconnects with backoff and resumes from the last offset it
// applied, so the edge replays exactly what was missed; an event at or below that offset is
// a duplicate and is dropped here, never shown twice.

export class AuthLost extends Error {}

const AUTH_ERRORS = new Set(["not_authed", "invalid_auth", "token_revoked", "account_inactive", "invalid_csrf"]);

export class Connection {
  constructor({ csrf, onHello, onEvent, onState, onAuthLost }) {
    Object.assign(this, { csrf, onHello, onEvent, onState, onAuthLost });
    this.offset = null; // the last change-log offset applied
    this.nextId = 1;
    this.pending = new Map();
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
  }

  async api(method, args = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(args)) body.set(k, typeof v === "string" ? v : JSON.stringify(v));
    const resp = await fetch(`/api/${method}`, {
      method: "POST", credentials: "same-origin", headers: { "x-flannel-csrf": this.csrf }, body,
    });
    const answer = await resp.json().catch(() => ({ ok: false, error: `http_${resp.status}` }));
    if (!answer.ok && AUTH_ERRORS.has(answer.error)) throw new AuthLost(answer.error);
    return answer;
  }

  async start() {
    this.stopped = false;
    while (!this.stopped) {
      try {
        await this.connectOnce();
        return;
      } catch (err) {
        if (err instanceof AuthLost) { this.stop(); this.onAuthLost(err.message); return; }
        this.onState("reconnecting");
        await sleep(this.backoff());
      }
    }
  }

  backoff() {
    const base = Math.min(15000, 500 * 2 ** this.attempt++);
    return base / 2 + Math.random() * base / 2;
  }

  // The socket the page's inline boot script opened (router/web/js/boot.js), once: the first
  // connection skips rtm.connect. Later ones (reconnects) go through rtm.connect as usual.
  takeBoot() {
    const boot = window.flannelBoot;
    window.flannelBoot = null;
    const fromScreen = this.fromScreen;
    this.fromScreen = false;
    if (!boot?.ws || (this.offset !== null && !fromScreen)) { boot?.ws?.close(); return null; }
    if (boot.history) {
      this.nextId = Math.max(this.nextId, boot.history.id + 1);
      const reply = new Promise((resolve, reject) => this.pending.set(boot.history.id, { resolve, reject }));
      this.early = { channel: boot.history.channel, reply: this.checked(reply) };
      this.early.reply.catch(() => {}); // a socket lost before the page took it: not an error here
    }
    return boot;
  }

  // The first screen the router inlined in the page (router/webclient.py), once: its hello,
  // the first channel's page and the people they show. The page draws it before its socket is
  // open; the boot socket's ticket resumes from this hello's offset, so the socket replays
  // what came after it (the adopted socket is still taken by takeBoot).
  takeScreen() {
    const screen = window.flannelBoot?.screen;
    if (!screen?.hello) return null;
    window.flannelBoot.screen = null;
    this.offset = screen.hello.offset;
    this.fromScreen = true;
    if (screen.channel && screen.history) {
      this.early = { channel: screen.channel, reply: this.checked(Promise.resolve(screen.history)) };
      this.early.reply.catch(() => {});
    }
    return screen;
  }

  // The first channel's history, when the boot script asked it already (else null).
  takeEarly(channel) {
    const early = this.early;
    this.early = null;
    return early && early.channel === channel ? early.reply : null;
  }

  async connectOnce() {
    const boot = this.takeBoot();
    let url;
    if (boot) {
      url = boot.url;
      this.edge = boot.edge;
    } else {
      const args = this.offset === null ? {} : { resume_from: String(this.offset) };
      if (this.failedEdge) args.failed_edge = this.failedEdge; // not sent back to an edge we lost
      const answer = await this.api("rtm.connect", args);
      if (!answer.ok) throw new Error(answer.error || "connect_failed");
      url = answer.url;
      this.edge = answer.edge?.id;
    }
    await new Promise((resolve, reject) => {
      const ws = boot ? boot.ws : new WebSocket(url);
      let opened = false;
      this.ws = ws;
      const hello = (frame) => {
        opened = true;
        this.failedEdge = null;
        this.attempt = 0;
        this.onState("connected");
        const resumed = frame.resume_from !== null && frame.resume_from !== undefined && !frame.resync;
        if (!resumed) this.offset = frame.offset;
        this.onHello(frame, resumed);
        resolve();
      };
      ws.onopen = () => { if (!performance.getEntriesByName("connected").length) performance.mark("connected"); };
      ws.onmessage = (msg) => {
        let frame;
        try { frame = JSON.parse(msg.data); } catch { return; }
        if (frame.type === "hello") { hello(frame); return; }
        this.frame(frame);
      };
      ws.onclose = (ev) => {
        for (const [, p] of this.pending) p.reject(new Error("disconnected"));
        this.pending.clear();
        this.early = null;
        if (this.ws === ws) this.ws = null;
        if (!opened) { this.failedEdge = this.edge; reject(new Error(`closed ${ev.code}`)); return; }
        if (!ev.wasClean) this.failedEdge = this.edge; // dropped, not sent away with a goodbye
        if (!this.stopped) { this.onState("reconnecting"); this.start(); }
      };
      ws.onerror = () => {};
      if (!boot) return;
      // What came while the modules loaded, in order; the hello was parsed already.
      const [first, ...rest] = boot.frames;
      if (first !== undefined) {
        if (boot.hello?.type === "hello") hello(boot.hello);
        else ws.onmessage({ data: first });
      }
      for (const data of rest) ws.onmessage({ data });
      if (boot.closed) ws.onclose(boot.closed);
    });
  }

  frame(frame) {
    if (frame.reply_to !== undefined && frame.type === undefined) {
      const waiter = this.pending.get(frame.reply_to);
      if (waiter) { this.pending.delete(frame.reply_to); waiter.resolve(frame); }
      return;
    }
    if (frame.type === "error" && frame.reply_to !== undefined) {
      const waiter = this.pending.get(frame.reply_to);
      if (waiter) { this.pending.delete(frame.reply_to); waiter.resolve({ ok: false, error: frame.error }); }
      return;
    }
    if (frame.type === "goodbye") { this.ws?.close(); return; }
    if (frame.type === "resync") { this.offset = null; this.ws?.close(); return; }
    if (typeof frame.offset === "number") {
      if (this.offset !== null && frame.offset <= this.offset) return; // seen: a replay overlap
      this.offset = frame.offset;
    }
    this.onEvent(frame);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  query(method, args = {}) {
    const id = this.nextId++;
    return this.checked(new Promise((resolve, reject) => {
      if (!this.send({ id, type: "query", method, args })) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
    }));
  }

  checked(reply) {
    return reply.then((answer) => {
      if (!answer.ok && AUTH_ERRORS.has(answer.error?.code ?? answer.error)) throw new AuthLost(String(answer.error?.code));
      return answer;
    });
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
