// The fat boot, for the benchmark (web.fat_content_visible_ms_*): rtm.start's whole workspace
// (every user, channel and membership), then the first channel's history, rendered like the
// thin client's first screen.
import { render, markVisible } from "./format.js";

const $ = (id) => document.getElementById(id);

async function call(method, csrf, args = {}) {
  const resp = await fetch(`/api/${method}`, {
    method: "POST", credentials: "same-origin", headers: { "x-flannel-csrf": csrf }, body: new URLSearchParams(args),
  });
  return resp.json();
}

function item(name) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.textContent = name;
  li.append(a);
  return li;
}

(async () => {
  const session = { csrf: document.cookie.match(/(?:^|; )flannel_csrf=([0-9a-f]+)/)?.[1] };
  const fat = await call("rtm.start", session.csrf);
  const users = new Map(fat.users.map((u) => [u.id, u]));
  $("team-name").textContent = fat.team.name;
  const mine = [...fat.channels.filter((c) => c.is_member), ...(fat.groups || []), ...(fat.mpims || [])];
  const ims = (fat.ims || []).map((c) => ({ ...c, name: users.get(c.user)?.name || c.user }));
  const list = document.createElement("ul");
  [...mine, ...ims].sort((a, b) => String(a.name).localeCompare(String(b.name))).forEach((c) => list.append(item(c.name)));
  $("sidebar").replaceChildren(list);
  const first = mine.find((c) => c.name === "general") || mine[0];
  const history = await call("conversations.history", session.csrf, { channel: first.id, limit: "40" });
  $("messages").replaceChildren(...history.messages.reverse().map((m) => {
    const node = document.createElement("article");
    node.className = "msg";
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = users.get(m.user)?.name || m.user;
    const text = document.createElement("div");
    text.className = "text";
    text.innerHTML = render(m.text, (id) => users.get(id)?.name);
    node.append(who, text);
    return node;
  }));
  markVisible(); // the benchmark's end, as the thin page's: this first screen painted
})();
