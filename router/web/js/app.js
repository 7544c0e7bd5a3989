// The Flannel web client: boots from the thin hello and asks the edge only for what is on
// screen (the current channel's last messages, the users they show, their presence).
import { Connection, AuthLost, sleep } from "./rtm.js";
import { Users } from "./users.js";
import { render, mentionedUsers, timeOf, escapeHtml, markVisible, compareNames, loadLocale } from "./format.js";

const $ = (id) => document.getElementById(id);
const PAGE = 40;
const MARK_DELAY_MS = 1500;
const REVEAL_MS = 300; // the app shows empty ("Connecting…") when its first screen takes longer
const NAMES_WAIT_MS = 100; // the first screen waits this long at most for its people's names
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;

const state = {
  session: null, conn: null, self: null, team: null,
  channels: new Map(), current: null, messages: new Map(), hasMore: new Map(),
  thread: null, typing: new Map(), presence: new Map(), subscribed: "",
  markTimer: null, lastTyping: 0, pendingIds: new Map(), mentionIds: new Map(),
};
window.flannel = state; // for the browser tests and the curious

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : String(c));
  return node;
}

function status(text) {
  $("status").hidden = !text;
  $("status").textContent = text || "";
}

// -- sign-in ----------------------------------------------------------------------------

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", ...(state.session ? { "x-flannel-csrf": state.session.csrf } : {}) },
    body: JSON.stringify(body),
  });
  return resp.json().catch(() => ({ ok: false, error: `http_${resp.status}` }));
}

function showSignin(message = "") {
  state.conn?.stop();
  state.conn = null;
  clearTimeout(state.markTimer); // nothing is marked read for a session that ended
  clearTimeout(state.revealTimer);
  state.session = null;
  status("");
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("email").focus();
}

const SIGNIN_ERRORS = {
  invalid_credentials: "That email and password don't match. Try again.",
  ratelimited: "Too many attempts. Wait a few minutes, then try again.",
  invalid_arguments: "Enter your email and password.",
};

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-submit").disabled = true;
  try {
    const answer = await post("/web/signin", { email: $("email").value, password: $("password").value });
    if (!answer.ok) { $("signin-error").textContent = SIGNIN_ERRORS[answer.error] || `Sign-in failed (${answer.error}).`; return; }
    $("password").value = "";
    await start(answer);
  } finally {
    $("signin-submit").disabled = false;
  }
});

$("signout").addEventListener("click", async () => {
  await post("/web/signout", {});
  showSignin("You signed out.");
});

async function boot() {
  const link = new URLSearchParams(location.hash.slice(1)).get("signin");
  if (link) {
    history.replaceState(null, "", location.pathname); // the link is spent: don't keep it
    const answer = await post("/web/signin/link", { link });
    if (answer.ok) return start(answer);
    return showSignin("That sign-in link was used or has expired. Sign in with your password.");
  }
  // signed in: straight to the socket (the page came with it) or to rtm.connect (a dead session
  // lands on sign-in); the CSRF value came with the page too, else from its cookie
  const csrf = window.flannelBoot?.csrf || document.cookie.match(/(?:^|; )flannel_csrf=([0-9a-f]+)/)?.[1];
  if (csrf) return start({ csrf });
  const session = await (await fetch("/web/session", { credentials: "same-origin" })).json();
  if (session.ok) return start(session);
  showSignin();
}

async function start(session) {
  state.session = session;
  $("signin").hidden = true;
  // The app shows with its first screen (laid out and painted once, not empty first), or
  // empty with "Connecting…" if that takes a while.
  clearTimeout(state.revealTimer);
  state.connected = false;
  state.revealTimer = setTimeout(() => { if (reveal() && !state.connected) status("Connecting…"); }, REVEAL_MS);
  const conn = new Connection({
    csrf: session.csrf,
    onHello, onEvent,
    onState: (s) => { state.connected = s === "connected"; status(state.connected ? "" : "Reconnecting…"); },
    onAuthLost: () => showSignin("Your session ended. Sign in again."),
  });
  state.conn = conn;
  state.users = new Users((m, a) => conn.query(m, a), () => scheduleRender());
  // The first screen the page came with is drawn at once, before the socket is open: the
  // socket then resumes from its hello's offset (nothing lost, nothing twice).
  const screen = conn.takeScreen();
  if (screen) {
    state.holding = true; // drawn once, by firstScreen
    state.users.add(screen.users);
    if (screen.channel) state.current = screen.channel;
    state.screenOffset = screen.hello.offset;
    await onHello(screen.hello, false, true);
  }
  await conn.start();
}

// The app shown (true when it was hidden).
function reveal() {
  clearTimeout(state.revealTimer);
  if (!$("app").hidden) return false;
  $("app").hidden = false;
  return true;
}

// -- hello and live events ----------------------------------------------------------------

// `inline`: the hello the page came with (its first screen), not one from the socket.
function onHello(hello, resumed, inline = false) {
  if (!inline && !performance.getEntriesByName("hello").length) performance.mark("hello");
  const first = !resumed && !state.shown;
  if (first) state.holding = true; // nothing is drawn before the first screen (firstScreen)
  state.self = hello.self;
  state.team = hello.team;
  state.users.add([hello.self]);
  state.me = `${hello.team.id}:${hello.self.id}`; // whose last channel this browser remembers
  $("team-name").textContent = hello.team.name;
  $("me").textContent = `@${hello.self.name}`;
  if (!resumed) {
    state.channels = new Map(hello.channels.map((c) => [c.id, { ...c }]));
    state.messages.clear();
    state.hasMore.clear();
  }
  state.subscribed = "";
  if (resumed && state.shown && hello.resume_from === state.screenOffset) {
    // The socket resuming from the first screen the page came with: that screen is drawn and
    // nothing changed (the replayed events that follow draw what did), so it is not redrawn.
    state.screenOffset = null;
    subscribePresence();
    return;
  }
  const wanted = state.current && state.channels.has(state.current) ? state.current : firstChannel();
  for (const c of state.channels.values()) if (c.is_im) state.users.want(c.user);
  // openChannel asks for the history before it draws: the edge works while the page renders
  if (wanted && first) return firstScreen(wanted);
  state.holding = false;
  reveal();
  if (wanted && (!resumed || !state.messages.has(wanted))) openChannel(wanted, { focus: false });
  else { renderSidebar(); renderMessages(); subscribePresence(); }
}

// The channel the page showed last in this browser (as boot.js reads it, to ask its history
// at once), while the user still has it; else #general, else the first in the sidebar.
function firstChannel() {
  const last = state.channels.get(remembered());
  if (last && !last.is_archived) return last.id;
  const list = sorted([...state.channels.values()]);
  const general = list.find((c) => c.name === "general");
  return (general || list[0])?.id ?? null;
}

function remembered() {
  try { return localStorage.getItem(`flannel.channel.${state.me}`); } catch { return null; }
}

// Remembered twice: in localStorage for boot.js, and in a cookie for the router, which inlines
// that channel's messages in the page it serves next (router/webclient.py CHANNEL_COOKIE; the
// router checks that the session's user is in it). A channel id is letters and digits.
function remember(id) {
  try { localStorage.setItem(`flannel.channel.${state.me}`, id); } catch { /* storage off: #general next time */ }
  if (!/^[A-Z0-9]+$/.test(id)) return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `flannel_channel=${id}; Path=/; Max-Age=31536000; SameSite=Strict${secure}`;
}

function onEvent(ev) {
  const handlers = {
    message: onMessage, reaction_added: onReaction, reaction_removed: onReaction,
    channel_marked: onMarked, group_marked: onMarked, im_marked: onMarked, mpim_marked: onMarked,
    user_typing: onTyping, user_info: (e) => state.users.add(e.users),
    user_change: (e) => state.users.add([e.user]), team_join: (e) => state.users.add([e.user]),
    presence_change: onPresence, desktop_notification: onNotification,
    channel_joined: (e) => { state.channels.set(e.channel.id, { ...e.channel }); renderSidebar(); },
    channel_left: (e) => { state.channels.delete(e.channel); renderSidebar(); },
    channel_rename: (e) => { const c = state.channels.get(e.channel.id); if (c) { c.name = e.channel.name; renderSidebar(); } },
  };
  handlers[ev.type]?.(ev);
}

function list(channel) {
  if (!state.messages.has(channel)) state.messages.set(channel, new Map());
  return state.messages.get(channel);
}

function onMessage(ev) {
  const channel = ev.channel;
  if (ev.subtype === "message_changed") {
    const msgs = list(channel);
    const old = msgs.get(ev.message.ts);
    if (old) msgs.set(ev.message.ts, { ...old, ...ev.message });
    updateThreadMessage(ev.message);
    return scheduleRender();
  }
  if (ev.subtype === "message_deleted") {
    list(channel).delete(ev.deleted_ts);
    if (state.thread?.channel === channel) state.thread.replies.delete(ev.deleted_ts);
    return scheduleRender();
  }
  if (ev.is_ephemeral) return addMessage(channel, ev);
  const isReply = ev.thread_ts && ev.thread_ts !== ev.ts;
  if (isReply) {
    const parent = list(channel).get(ev.thread_ts);
    if (parent && !parent.replies_seen?.has(ev.ts)) {
      parent.replies_seen = parent.replies_seen || new Set();
      parent.replies_seen.add(ev.ts);
      parent.reply_count = (parent.reply_count || 0) + 1;
      parent.latest_reply = ev.ts;
    }
    if (state.thread && state.thread.channel === channel && state.thread.ts === ev.thread_ts) {
      state.thread.replies.set(ev.ts, ev);
      reconcile(state.thread.replies, ev);
    }
    return scheduleRender();
  }
  addMessage(channel, ev);
  const c = state.channels.get(channel);
  if (!c) return;
  c.latest = { ts: ev.ts, user: ev.user, text: ev.text };
  const mine = ev.user === state.self?.id;
  const visible = channel === state.current && document.visibilityState === "visible";
  if (mine || visible) { if (visible) scheduleMark(); }
  else {
    c.unread_count_display = (c.unread_count_display || 0) + 1;
    c.has_unreads = true;
    if (c.is_im || mentionedUsers(ev.text).includes(state.self?.id)) c.mention_count = (c.mention_count || 0) + 1;
  }
  renderSidebar();
}

function addMessage(channel, ev) {
  const msgs = list(channel);
  reconcile(msgs, ev);
  msgs.set(ev.ts, { ...(msgs.get(ev.ts) || {}), ...ev });
  if (ev.user) state.users.want(ev.user);
  scheduleRender();
}

// A message we sent comes back by its client_msg_id: the local echo it replaces goes away.
function reconcile(msgs, ev) {
  if (!ev.client_msg_id) return;
  const local = state.pendingIds.get(ev.client_msg_id);
  if (local) { msgs.delete(local); state.pendingIds.delete(ev.client_msg_id); }
}

function onReaction(ev) {
  const m = list(ev.item.channel).get(ev.item.ts) || state.thread?.replies.get(ev.item.ts);
  if (!m) return;
  const reactions = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
  let r = reactions.find((x) => x.name === ev.reaction);
  if (ev.type === "reaction_added") {
    if (!r) { r = { name: ev.reaction, users: [], count: 0 }; reactions.push(r); }
    if (!r.users.includes(ev.user)) { r.users.push(ev.user); r.count = r.users.length; }
  } else if (r) {
    r.users = r.users.filter((u) => u !== ev.user);
    r.count = r.users.length;
  }
  m.reactions = reactions.filter((x) => x.count > 0);
  scheduleRender();
}

function onMarked(ev) {
  const c = state.channels.get(ev.channel);
  if (!c) return;
  c.last_read = ev.ts;
  c.unread_count_display = ev.unread_count_display ?? 0;
  c.mention_count = ev.mention_count ?? 0;
  c.has_unreads = c.unread_count_display > 0;
  renderSidebar();
}

function onTyping(ev) {
  if (ev.user === state.self?.id) return;
  const key = `${ev.channel}:${ev.user}`;
  clearTimeout(state.typing.get(key));
  state.typing.set(key, setTimeout(() => { state.typing.delete(key); renderTyping(); }, TYPING_SHOWN_MS));
  state.users.want(ev.user);
  renderTyping();
}

function onPresence(ev) {
  for (const u of ev.users || [ev.user]) state.presence.set(u, ev.presence);
  scheduleRender();
}

function onNotification(ev) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const n = new Notification(ev.title || "Flannel", { body: ev.content || ev.subtitle || "", tag: ev.msg || ev.ts });
  n.onclick = () => { window.focus(); if (ev.channel) openChannel(ev.channel); };
}

$("notify").addEventListener("click", async () => {
  await Notification.requestPermission();
  $("notify").hidden = Notification.permission !== "default";
});

// -- the sidebar ---------------------------------------------------------------------------

function label(c) {
  if (c.is_im) return state.users.name(c.user) || "…";
  if (c.is_mpim) {
    const ids = (c.name || "").replace(/^mpdm-|-1$/g, "").split("--").filter((id) => id && id !== state.self?.id);
    return ids.map((id) => state.users.name(id) || "…").join(", ") || c.id;
  }
  return c.name || c.id;
}

function sorted(chs) {
  const labels = new Map(chs.map((c) => [c, label(c)]));
  return chs.sort((a, b) => compareNames(labels.get(a), labels.get(b)));
}

function renderSidebar() {
  const sections = [
    ["Channels", (c) => !c.is_im && !c.is_mpim && !c.is_private],
    ["Private channels", (c) => !c.is_im && !c.is_mpim && c.is_private],
    ["Direct messages", (c) => c.is_im],
    ["Group messages", (c) => c.is_mpim],
  ];
  const all = [...state.channels.values()].filter((c) => !c.is_archived);
  const nav = $("sidebar");
  const focused = document.activeElement?.dataset?.channel;
  nav.replaceChildren(...sections.map(([title, keep]) => {
    const chs = sorted(all.filter(keep));
    if (!chs.length) return null;
    const id = `section-${title.replace(/\s/g, "-").toLowerCase()}`;
    return el("section", { "aria-labelledby": id }, el("h3", { id }, title), el("ul", {}, chs.map(item)));
  }).filter(Boolean));
  if (focused) nav.querySelector(`a[data-channel="${focused}"]`)?.focus();
}

function item(c) {
  const unread = (c.unread_count_display || 0) > 0;
  const mentions = c.mention_count || 0;
  const prefix = c.is_im ? el("span", { class: `dot ${state.presence.get(c.user) === "active" ? "active" : ""}`, "aria-hidden": "true" })
    : c.is_mpim ? "⁘" : c.is_private ? "◆" : "#";
  const badgeText = mentions ? `${mentions} mention${mentions > 1 ? "s" : ""}` : unread ? "unread" : "";
  return el("li", {},
    el("a", {
      href: `#${c.id}`, "data-channel": c.id, class: unread ? "unread" : "",
      "aria-current": c.id === state.current ? "page" : null,
      "aria-label": `${label(c)}${badgeText ? `, ${badgeText}` : ""}`,
      onclick: (ev) => { ev.preventDefault(); openChannel(c.id); },
      onkeydown: sidebarKeys,
    }, prefix, el("span", {}, label(c)), mentions ? el("span", { class: "badge", "data-badge": "mentions" }, String(mentions)) : null));
}

function sidebarKeys(ev) {
  if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
  const links = [...$("sidebar").querySelectorAll("a")];
  const i = links.indexOf(ev.currentTarget);
  links[(i + (ev.key === "ArrowDown" ? 1 : links.length - 1)) % links.length]?.focus();
  ev.preventDefault();
}

$("menu").addEventListener("click", () => {
  const open = $("sidebar").classList.toggle("open");
  $("menu").setAttribute("aria-expanded", String(open));
});

// -- the first screen: drawn once, with its names -------------------------------------------

// The page's first channel: its history (asked by the boot script, or here) and
// the names it shows (the DMs' people, the messages' authors and mentions: one users.info
// each, sent at once) come in before anything is drawn; then the sidebar and the messages
// are drawn and laid out once. Nothing re-renders while it waits (scheduleRender holds).
async function firstScreen(id) {
  state.current = id; // remembered once it is drawn (afterFirstScreen)
  state.holding = true;
  const asked = state.conn.takeEarly(id) || askHistory(id);
  const names = [state.users.flushNow()];
  let answer;
  try {
    answer = await asked;
    for (const m of answer.ok ? answer.messages : []) {
      state.users.want(m.user);
      mentionedUsers(m.text).forEach((u) => state.users.want(u));
    }
    names.push(state.users.flushNow());
    await Promise.race([Promise.all(names), sleep(NAMES_WAIT_MS)]);
  } catch (err) {
    if (err instanceof AuthLost) showSignin("Your session ended. Sign in again.");
    return; // disconnected: the next hello draws it
  } finally {
    state.holding = false;
  }
  if (state.current !== id) return;
  state.shown = true;
  reveal();
  const c = state.channels.get(id);
  $("channel-title").textContent = c ? (c.is_im || c.is_mpim ? label(c) : `${c.is_private ? "◆" : "#"} ${label(c)}`) : id;
  renderSidebar();
  state.quiet = true; // presence is asked after the first screen is up
  try { showHistory(id, answer, false); } finally { state.quiet = false; }
  renderTyping();
  scheduleMark();
}

// -- a channel -----------------------------------------------------------------------------

async function openChannel(id, { focus = true } = {}) {
  state.current = id;
  remember(id);
  // sent first, drawn after (the boot script may have asked already, on the hello)
  const asked = state.messages.get(id)?.size ? null : state.conn.takeEarly(id) || askHistory(id);
  $("sidebar").classList.remove("open");
  $("menu").setAttribute("aria-expanded", "false");
  const c = state.channels.get(id);
  $("channel-title").textContent = c ? (c.is_im || c.is_mpim ? label(c) : `${c.is_private ? "◆" : "#"} ${label(c)}`) : id;
  $("channel-topic").textContent = "";
  renderSidebar();
  renderMessages();
  renderTyping();
  if (asked) await showHistory(id, await asked, false);
  if (focus) $("compose").focus();
  scheduleMark();
}

function askHistory(id, older = false) {
  const oldest = [...list(id).keys()].sort()[0];
  const args = { channel: id, limit: PAGE };
  if (older && oldest) args.latest = oldest;
  return state.conn.query("conversations.history", args);
}

async function loadHistory(id, older = false) {
  return showHistory(id, await askHistory(id, older), older);
}

function showHistory(id, answer, older) {
  const msgs = list(id);
  if (!answer.ok) { status(`Could not load messages (${answer.error?.code || answer.error}).`); return; }
  for (const m of answer.messages) if (!msgs.has(m.ts)) msgs.set(m.ts, { ...m, channel: id });
  state.hasMore.set(id, !!answer.has_more);
  if (state.current !== id) return;
  const box = $("messages");
  const fromBottom = older ? box.scrollHeight - box.scrollTop : 0; // read only when kept: a layout
  renderMessages();
  box.scrollTop = older ? box.scrollHeight - fromBottom : box.scrollHeight;
  (markVisible() || Promise.resolve()).then(afterFirstScreen); // the benchmark's end: this first screen painted
}

// What the first screen did without: presence for the people on it, the locale's time format
// and name order (ICU's objects cost more to build than the screen; format.js).
function afterFirstScreen() {
  if (state.current) remember(state.current);
  subscribePresence();
  if ("Notification" in window && Notification.permission === "default") $("notify").hidden = false; // asks the browser
  if (loadLocale()) scheduleRender();
}

let loadingOlder = false;
$("messages").addEventListener("scroll", async () => {
  const id = state.current;
  if ($("messages").scrollTop > 80 || loadingOlder || !state.hasMore.get(id)) return;
  loadingOlder = true;
  try { await loadHistory(id, true); } finally { loadingOlder = false; }
});

function scheduleMark() {
  clearTimeout(state.markTimer);
  state.markTimer = setTimeout(markRead, MARK_DELAY_MS); // debounced, as Slack advises
}

async function markRead() {
  const c = state.channels.get(state.current);
  const msgs = state.messages.get(state.current);
  if (!state.conn || !c || !msgs || !msgs.size || document.visibilityState !== "visible") return;
  const newest = [...msgs.keys()].filter((ts) => !ts.startsWith("local-")).sort().pop();
  if (!newest || (c.last_read && c.last_read >= newest && !c.unread_count_display && !c.mention_count)) return;
  c.last_read = newest;
  c.unread_count_display = 0;
  c.mention_count = 0;
  renderSidebar();
  await state.conn.query("conversations.mark", { channel: c.id, ts: newest }).catch(() => {});
}

document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") scheduleMark(); });

let renderQueued = false;
function scheduleRender() {
  if (renderQueued || state.holding) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderMessages(); renderThread(); renderSidebar(); renderTyping(); });
}

function renderMessages() {
  const box = $("messages");
  // An empty box (a channel just opened) has no place to keep: its layout is not read, so the
  // first screen is laid out once, when its messages are in.
  const atBottom = !box.firstChild || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const msgs = [...(state.messages.get(state.current)?.values() || [])]
    .filter((m) => !(m.thread_ts && m.thread_ts !== m.ts && !m.is_ephemeral))
    .sort((a, b) => (a.ts < b.ts ? -1 : 1));
  const older = state.hasMore.get(state.current) ? '<div class="older">Scroll up for older messages</div>' : "";
  box.innerHTML = older + msgs.map((m) => messageHtml(m, false)).join("");
  if (atBottom && msgs.length) box.scrollTop = box.scrollHeight;
  if (!state.quiet) subscribePresence();
}

// A message as markup: the screen's messages are written in one go (one parse, no element
// by element building), and their buttons answer through one listener per list (below).
// Every text is escaped here or by render().
function messageHtml(m, inThread) {
  const mine = m.user === state.self?.id;
  const name = state.users.name(m.user) || m.username || m.user || "someone";
  mentionedUsers(m.text).forEach((id) => state.users.want(id));
  const presence = state.presence.get(m.user);
  const dot = m.user ? `<span class="dot ${presence === "active" ? "active" : ""}" title="${escapeHtml(presence || "presence unknown")}" data-presence="${escapeHtml(m.user)}"></span>` : "";
  const at = new Date(Number(m.ts.split(".")[0]) * 1000 || Date.now()).toISOString();
  const classes = `msg ${m.pending ? "pending" : ""} ${m.failed ? "failed" : ""}`;
  const replies = !inThread && m.reply_count ? `<button class="replies" data-act="thread">${m.reply_count} repl${m.reply_count > 1 ? "ies" : "y"}</button>` : "";
  return `<article class="${classes}" data-ts="${escapeHtml(m.ts)}" data-user="${escapeHtml(m.user || "")}" aria-label="${escapeHtml(`${name} at ${timeOf(m.ts)}`)}" tabindex="-1">`
    + `<div class="avatar" aria-hidden="true">${escapeHtml(name.slice(0, 1).toUpperCase())}</div>`
    + `<div class="who">${escapeHtml(name)}${dot}<time datetime="${at}">${m.pending ? "sending…" : escapeHtml(timeOf(m.ts))}</time>${m.edited ? '<span class="topic">(edited)</span>' : ""}</div>`
    + `<div class="text">${render(m.text, (id) => state.users.name(id), state.self?.id)}</div>`
    + filesHtml(m) + reactionsHtml(m) + replies + (m.pending ? "" : actionsHtml(mine, inThread))
    + "</article>";
}

function filesHtml(m) {
  if (!m.files?.length) return "";
  return `<div class="files">${m.files.map((f) => {
    const url = f.url_private_download || f.url_private || f.permalink;
    const image = /^image\//.test(f.mimetype || "") ? `<img src="${escapeHtml(f.thumb_360 || f.url_private || url)}" alt="${escapeHtml(f.title || f.name || "image")}">` : "";
    const link = url ? `<a href="${escapeHtml(url)}" download="${escapeHtml(f.name || "")}" rel="noopener">⬇ ${escapeHtml(f.name || f.title || "file")}</a>` : `<span>${escapeHtml(f.name || "file")}</span>`;
    return `<div class="file">${image}${link}</div>`;
  }).join("")}</div>`;
}

function keepAtBottom(ev) {
  const box = ev.target.closest(".messages");
  if (box && box.scrollHeight - box.scrollTop - box.clientHeight < ev.target.height + 80) box.scrollTop = box.scrollHeight;
}

function reactionsHtml(m) {
  if (!m.reactions?.length) return "";
  return `<div class="reactions">${m.reactions.map((r) => {
    const mine = !!r.users?.includes(state.self?.id);
    return `<button aria-pressed="${mine}" aria-label="${escapeHtml(`${r.name} reaction, ${r.count}`)}" data-reaction="${escapeHtml(r.name)}">:${escapeHtml(r.name)}: ${r.count}</button>`;
  }).join("")}</div>`;
}

const QUICK = ["+1", "heart", "joy", "eyes"];

function actionsHtml(mine, inThread) {
  return '<div class="actions" role="toolbar" aria-label="Message actions">'
    + QUICK.slice(0, 2).map((name) => `<button aria-label="React with ${name}" data-act="react" data-name="${name}">${name === "+1" ? "+1" : "♥"}</button>`).join("")
    + (inThread ? "" : '<button aria-label="Reply in thread" data-act="reply">Reply</button>')
    + (mine ? '<button aria-label="Edit message" data-act="edit">Edit</button><button aria-label="Delete message" data-act="delete">Delete</button>' : "")
    + "</div>";
}

// The buttons of a list of messages: the message is found by its ts when clicked, in
// `find` (the channel's messages, or the open thread's).
function messageButtons(box, find) {
  box.addEventListener("click", (ev) => {
    const button = ev.target.closest?.("button[data-act], button[data-reaction]");
    const node = button?.closest("article[data-ts]");
    const m = node && box.contains(node) ? find(node.dataset.ts) : null;
    if (!m) return;
    const self = state.self?.id;
    const mineOn = (name) => !!m.reactions?.find((r) => r.name === name)?.users?.includes(self);
    if (button.dataset.reaction) return react(m, button.dataset.reaction, mineOn(button.dataset.reaction));
    const act = button.dataset.act;
    if (act === "react") return react(m, button.dataset.name, mineOn(button.dataset.name));
    if (act === "reply" || act === "thread") return openThread(m);
    if (act === "edit") return editMessage(m);
    if (act === "delete") return deleteMessage(m);
  });
  box.addEventListener("load", (ev) => { if (ev.target.tagName === "IMG") keepAtBottom(ev); }, true); // load does not bubble
}

messageButtons($("messages"), (ts) => {
  const m = list(state.current).get(ts);
  return m && { ...m, channel: m.channel || state.current };
});
messageButtons($("thread-messages"), (ts) => {
  const t = state.thread;
  const m = t && (t.replies.get(ts) || (ts === t.ts ? list(t.channel).get(ts) : null));
  return m && { ...m, channel: t.channel };
});

async function react(m, name, remove) {
  await state.conn.query(remove ? "reactions.remove" : "reactions.add", { channel: m.channel || state.current, timestamp: m.ts, name });
}

async function editMessage(m) {
  const text = prompt("Edit message", m.text);
  if (text === null || text === m.text) return;
  const answer = await state.conn.query("chat.update", { channel: m.channel || state.current, ts: m.ts, text });
  if (!answer.ok) status(`Could not edit (${answer.error?.code}).`);
}

async function deleteMessage(m) {
  if (!confirm("Delete this message?")) return;
  await state.conn.query("chat.delete", { channel: m.channel || state.current, ts: m.ts });
}

// -- sending -------------------------------------------------------------------------------

function toWire(text) {
  // @name picked from the autocomplete becomes <@U..> on the wire
  return text.replace(/(^|\s)@([\w.\-]+)/g, (all, pre, name) => (state.mentionIds.has(name) ? `${pre}<@${state.mentionIds.get(name)}>` : all));
}

async function send(channel, text, threadTs, into) {
  const clientMsgId = crypto.randomUUID();
  const local = `local-${clientMsgId}`;
  const wire = toWire(text);
  const echo = { ts: local, user: state.self.id, text: wire, channel, pending: true, client_msg_id: clientMsgId };
  state.pendingIds.set(clientMsgId, local);
  into.set(local, echo);
  scheduleRender();
  const args = { channel, text: wire, client_msg_id: clientMsgId };
  if (threadTs) args.thread_ts = threadTs;
  let answer;
  try { answer = await state.conn.query("chat.postMessage", args); } catch (err) { answer = { ok: false, error: { code: "not_connected" } }; }
  if (!answer.ok) {
    if (answer.error?.code === "not_connected") { // sent again once reconnected, same client_msg_id
      await waitConnected();
      try { answer = await state.conn.query("chat.postMessage", args); } catch { /* shown as failed */ }
    }
  }
  if (!answer?.ok) { echo.pending = false; echo.failed = true; echo.text = `${wire} (not sent: ${answer?.error?.code || "error"})`; scheduleRender(); return; }
  if (into.has(local) && state.pendingIds.has(clientMsgId)) { // the reply came before the event
    into.delete(local);
    state.pendingIds.delete(clientMsgId);
    if (!into.has(answer.ts)) into.set(answer.ts, { ...answer.message, channel });
  }
  scheduleRender();
}

async function waitConnected() {
  for (let i = 0; i < 60 && !(state.conn?.ws?.readyState === WebSocket.OPEN); i++) await sleep(250);
}

function composerKeys(textarea, submit) {
  textarea.addEventListener("keydown", (ev) => {
    if (!$("autocomplete").hidden && textarea === $("compose") && autocompleteKeys(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
  });
}

function submitMain() {
  const text = $("compose").value.trim();
  if (!text || !state.current) return;
  $("compose").value = "";
  send(state.current, text, null, list(state.current));
}

function submitThread() {
  const text = $("thread-compose").value.trim();
  if (!text || !state.thread) return;
  $("thread-compose").value = "";
  send(state.thread.channel, text, state.thread.ts, state.thread.replies);
}

$("composer").addEventListener("submit", (ev) => { ev.preventDefault(); submitMain(); });
$("thread-composer").addEventListener("submit", (ev) => { ev.preventDefault(); submitThread(); });
composerKeys($("compose"), submitMain);
composerKeys($("thread-compose"), submitThread);

$("compose").addEventListener("input", () => {
  const now = Date.now();
  if (state.current && now - state.lastTyping > TYPING_EVERY_MS) {
    state.lastTyping = now;
    state.conn?.send({ id: state.conn.nextId++, type: "typing", channel: state.current });
  }
  autocomplete();
});

function renderTyping() {
  const names = [...state.typing.keys()].filter((k) => k.startsWith(`${state.current}:`)).map((k) => state.users.name(k.split(":")[1]) || "someone");
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
}

// -- @-autocomplete (the edge's prefix search) ----------------------------------------------

let acItems = [];
let acIndex = 0;
async function autocomplete() {
  const box = $("compose");
  const before = box.value.slice(0, box.selectionStart);
  const m = /(^|\s)@([\w.\-]{1,30})$/.exec(before);
  if (!m) { $("autocomplete").hidden = true; return; }
  const answer = await state.conn.query("users.search", { query: m[2], limit: 8 }).catch(() => null);
  if (!answer?.ok || !answer.users.length) { $("autocomplete").hidden = true; return; }
  state.users.add(answer.users);
  acItems = answer.users;
  acIndex = 0;
  drawAutocomplete();
}

function drawAutocomplete() {
  $("autocomplete").replaceChildren(...acItems.map((u, i) => el("li", {
    role: "option", id: `ac-${i}`, "aria-selected": String(i === acIndex), onmousedown: (ev) => { ev.preventDefault(); pickMention(u); },
  }, `@${u.name}`, u.real_name ? ` — ${u.real_name}` : "")));
  $("autocomplete").hidden = false;
  $("compose").setAttribute("aria-activedescendant", `ac-${acIndex}`);
}

function autocompleteKeys(ev) {
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { acIndex = (acIndex + (ev.key === "ArrowDown" ? 1 : acItems.length - 1)) % acItems.length; drawAutocomplete(); ev.preventDefault(); return true; }
  if (ev.key === "Enter" || ev.key === "Tab") { pickMention(acItems[acIndex]); ev.preventDefault(); return true; }
  if (ev.key === "Escape") { $("autocomplete").hidden = true; return true; }
  return false;
}

function pickMention(u) {
  const box = $("compose");
  const before = box.value.slice(0, box.selectionStart).replace(/@[\w.\-]*$/, `@${u.name} `);
  box.value = before + box.value.slice(box.selectionStart);
  state.mentionIds.set(u.name, u.id);
  $("autocomplete").hidden = true;
  box.removeAttribute("aria-activedescendant");
  box.focus();
}

// -- threads -------------------------------------------------------------------------------

async function openThread(m) {
  const channel = m.channel || state.current;
  state.thread = { channel, ts: m.ts, replies: new Map() };
  $("results").hidden = true;
  $("thread").hidden = false;
  renderThread();
  const answer = await state.conn.query("conversations.replies", { channel, ts: m.ts, limit: 200 });
  if (answer.ok && state.thread?.ts === m.ts) for (const r of answer.messages) if (!state.thread.replies.has(r.ts)) state.thread.replies.set(r.ts, { ...r, channel });
  renderThread();
  $("thread-compose").focus();
}

function updateThreadMessage(msg) {
  const r = state.thread?.replies.get(msg.ts);
  if (r) state.thread.replies.set(msg.ts, { ...r, ...msg });
}

function renderThread() {
  if (!state.thread) return;
  const parent = list(state.thread.channel).get(state.thread.ts);
  const replies = [...state.thread.replies.values()].sort((a, b) => (a.ts < b.ts ? -1 : 1));
  if (parent && !state.thread.replies.has(parent.ts)) replies.unshift(parent);
  $("thread-messages").innerHTML = replies.map((r) => messageHtml({ ...r, channel: state.thread.channel }, true)).join("");
}

$("thread-close").addEventListener("click", () => { state.thread = null; $("thread").hidden = true; $("compose").focus(); });

// -- search ----------------------------------------------------------------------------------

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const query = $("search").value.trim();
  if (!query) return;
  const answer = await state.conn.query("search.messages", { query, count: 20 });
  $("thread").hidden = true;
  $("results").hidden = false;
  const matches = answer.ok ? answer.messages.matches : [];
  $("results-list").replaceChildren(
    el("p", { class: "result", role: "status" }, answer.ok ? `${answer.messages.total} result${answer.messages.total === 1 ? "" : "s"} for “${query}”` : `Search failed (${answer.error?.code}).`),
    ...matches.map((m) => {
      const text = el("div", { class: "text" });
      text.innerHTML = render(m.text, (id) => state.users.name(id), state.self?.id);
      return el("div", { class: "result" },
        el("button", { onclick: () => openChannel(m.channel.id) }, `#${m.channel.name || m.channel.id}`), ` ${m.username || state.users.name(m.user) || ""} · ${timeOf(m.ts)}`, text);
    }));
});
$("results-close").addEventListener("click", () => { $("results").hidden = true; });

// -- quick switcher (Ctrl/Cmd-K) ------------------------------------------------------------

let swItems = [];
let swIndex = 0;
let swSeq = 0;

function openSwitcher() {
  $("switcher").hidden = false;
  $("switcher-input").value = "";
  swItems = sorted([...state.channels.values()]).slice(0, 8).map((c) => ({ kind: "channel", id: c.id, label: label(c) }));
  swIndex = 0;
  drawSwitcher();
  $("switcher-input").focus();
}

function closeSwitcher() { $("switcher").hidden = true; $("compose").focus(); }

async function switcherSearch() {
  const query = $("switcher-input").value.trim().replace(/^[#@]/, "");
  const seq = ++swSeq;
  if (!query) return openSwitcher();
  const [chs, people] = await Promise.all([
    state.conn.query("conversations.search", { query, limit: 6 }).catch(() => null),
    state.conn.query("users.search", { query, limit: 6 }).catch(() => null),
  ]);
  if (seq !== swSeq) return; // a later keystroke's answer wins
  const mine = [...state.channels.values()].filter((c) => (c.is_im || c.is_mpim) && label(c).toLowerCase().includes(query.toLowerCase()));
  swItems = [
    ...(chs?.ok ? chs.channels.map((c) => ({ kind: "channel", id: c.id, label: `${c.is_private ? "◆" : "#"}${c.name}`, channel: c })) : []),
    ...mine.map((c) => ({ kind: "channel", id: c.id, label: label(c) })),
    ...(people?.ok ? people.users.map((u) => ({ kind: "user", id: u.id, label: `@${u.name}${u.real_name ? ` — ${u.real_name}` : ""}`, user: u })) : []),
  ];
  if (people?.ok) state.users.add(people.users);
  swIndex = 0;
  drawSwitcher();
}

function drawSwitcher() {
  $("switcher-list").replaceChildren(...swItems.map((it, i) => el("li", {
    role: "option", id: `sw-${i}`, "aria-selected": String(i === swIndex), onmousedown: (ev) => { ev.preventDefault(); pickSwitcher(it); },
  }, it.label)));
  $("switcher-input").setAttribute("aria-activedescendant", swItems.length ? `sw-${swIndex}` : "");
  $("switcher").dataset.ready = String(swSeq);
}

async function pickSwitcher(it) {
  if (!it) return;
  closeSwitcher();
  if (it.kind === "channel") {
    if (!state.channels.has(it.id) && it.channel) {
      await state.conn.query("conversations.join", { channel: it.id });
      state.channels.set(it.id, { ...it.channel, unread_count_display: 0, mention_count: 0 });
    }
    return openChannel(it.id);
  }
  const answer = await state.conn.query("conversations.open", { users: it.id });
  if (!answer.ok) return status(`Could not open the conversation (${answer.error?.code}).`);
  if (!state.channels.has(answer.channel.id)) state.channels.set(answer.channel.id, { id: answer.channel.id, is_im: true, is_private: true, user: it.id });
  openChannel(answer.channel.id);
}

$("switcher-open").addEventListener("click", openSwitcher);
$("switcher-input").addEventListener("input", switcherSearch);
$("switcher-input").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { swIndex = (swIndex + (ev.key === "ArrowDown" ? 1 : swItems.length - 1)) % Math.max(1, swItems.length); drawSwitcher(); ev.preventDefault(); }
  else if (ev.key === "Enter") { ev.preventDefault(); pickSwitcher(swItems[swIndex]); }
  else if (ev.key === "Escape") closeSwitcher();
});
$("switcher").addEventListener("click", (ev) => { if (ev.target === $("switcher")) closeSwitcher(); });
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "k" && !$("app").hidden) { ev.preventDefault(); openSwitcher(); }
});

// -- mentions are clickable: a mention opens a DM with that person --------------------------

document.addEventListener("click", (ev) => {
  const target = ev.target.closest?.(".mention[data-user], .mention[data-channel]");
  if (!target) return;
  if (target.dataset.channel) { if (state.channels.has(target.dataset.channel)) openChannel(target.dataset.channel); return; }
  pickSwitcher({ kind: "user", id: target.dataset.user });
});

// -- presence: subscribed for the users on screen only --------------------------------------

function subscribePresence() {
  if (!state.conn) return;
  const ids = new Set();
  document.querySelectorAll("#messages [data-user], #thread-messages [data-user]").forEach((n) => n.dataset.user && ids.add(n.dataset.user));
  for (const c of state.channels.values()) if (c.is_im && c.user) ids.add(c.user);
  const key = [...ids].sort().join(",");
  if (key === state.subscribed) return;
  state.subscribed = key;
  state.conn.send({ type: "presence_sub", ids: [...ids].slice(0, 500) });
}

// -- files: Slack's v2 upload (getUploadURLExternal, POST, completeUploadExternal) ----------

async function upload(file) {
  if (!state.current) return;
  status(`Uploading ${file.name}…`);
  try {
    const conn = state.conn;
    const url = await conn.api("files.getUploadURLExternal", { filename: file.name, length: String(file.size) });
    if (!url.ok) throw new Error(url.error);
    const form = new FormData();
    form.append("file", file, file.name);
    const sent = await fetch(url.upload_url, { method: "POST", body: form, credentials: "omit" });
    if (!sent.ok) throw new Error(`upload_http_${sent.status}`);
    const done = await conn.api("files.completeUploadExternal", { files: [{ id: url.file_id, title: file.name }], channel_id: state.current });
    if (!done.ok) throw new Error(done.error);
    status("");
  } catch (err) {
    if (err instanceof AuthLost) return showSignin("Your session ended. Sign in again.");
    status(`Upload failed (${err.message}).`);
    setTimeout(() => status(""), 4000);
  }
}

$("file").addEventListener("change", () => { for (const f of $("file").files) upload(f); $("file").value = ""; });
$("composer").addEventListener("dragover", (ev) => { ev.preventDefault(); $("composer").classList.add("drop"); });
$("composer").addEventListener("dragleave", () => $("composer").classList.remove("drop"));
$("composer").addEventListener("drop", (ev) => {
  ev.preventDefault();
  $("composer").classList.remove("drop");
  for (const f of ev.dataTransfer.files) upload(f);
});

// A sign-in link opened in a tab that already shows the page changes only its fragment.
window.addEventListener("hashchange", () => { if (location.hash.startsWith("#signin=")) { state.conn?.stop(); boot(); } });

export { escapeHtml };
boot();
