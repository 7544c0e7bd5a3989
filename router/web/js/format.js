// Slack's message formatting, rendered safely: everything is escaped first, then the few
// marks Slack uses (*bold*, _italic_, ~strike~, `code`, ```pre```, <links>, <@mentions>)
// become elements. No text from a message ever reaches the DOM as markup unescaped.

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SAFE_URL = /^(https?:|mailto:)/i;

// `names(id)` gives a user's display name (or undefined while unknown); `self` is our id.
export function render(text, names = () => undefined, self = "") {
  const parts = [];
  // Split out code spans first: nothing inside them is formatted.
  const tokens = String(text ?? "").split(/(```[\s\S]*?```|`[^`\n]+`)/);
  for (const token of tokens) {
    if (token.startsWith("```") && token.endsWith("```") && token.length >= 6) {
      parts.push(`<pre>${escapeHtml(token.slice(3, -3))}</pre>`);
    } else if (token.startsWith("`") && token.endsWith("`") && token.length >= 2) {
      parts.push(`<code>${escapeHtml(token.slice(1, -1))}</code>`);
    } else {
      parts.push(inline(token, names, self));
    }
  }
  return parts.join("");
}

function inline(text, names, self) {
  // Angle-bracket entities are found on the raw text, the rest is escaped piece by piece.
  const out = [];
  let last = 0;
  const entity = /<([^<>\s][^<>]*)>/g;
  for (let m; (m = entity.exec(text)); ) {
    out.push(marks(escapeHtml(text.slice(last, m.index))));
    out.push(entityHtml(m[1], names, self));
    last = m.index + m[0].length;
  }
  out.push(marks(escapeHtml(text.slice(last))));
  return out.join("");
}

function entityHtml(body, names, self) {
  const [target, label] = splitLabel(body);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = label || names(id) || id;
    const me = id === self ? " me" : "";
    return `<button type="button" class="mention${me}" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</button>`;
  }
  if (target.startsWith("#")) {
    return `<button type="button" class="mention" data-channel="${escapeHtml(target.slice(1))}">#${escapeHtml(label || target.slice(1))}</button>`;
  }
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="mention">@${escapeHtml(label || word)}</span>`;
  }
  if (SAFE_URL.test(target)) {
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label || target)}</a>`;
  }
  return escapeHtml(`<${body}>`);
}

function splitLabel(body) {
  const bar = body.indexOf("|");
  return bar < 0 ? [body, ""] : [body.slice(0, bar), body.slice(bar + 1)];
}

// Bold, italic and strike on already-escaped text (their markers are not escaped characters).
function marks(html) {
  return html
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<strong>$2</strong>")
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<em>$2</em>")
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<del>$2</del>")
    .replace(/(^|[\s(])(https?:\/\/[^\s<]+[^\s<.,!?:;)])/g, (all, pre, url) => `${pre}<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`);
}

// The user ids a text mentions, to resolve before (or while) it is shown.
export function mentionedUsers(text) {
  return [...String(text ?? "").matchAll(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1]);
}

// Times and names in the locale's manner, without building ICU's formatter and collator
// before the first screen: each costs more than drawing the 40 messages (toLocaleTimeString
// and localeCompare build one per call). Until `loadLocale()` (called once the first screen is
// up) a time is HH:MM and names compare by their lowercased code points (the same order for
// channel names, which are lowercase words); then the locale's.
let clock = null;
let collator = null;

export function loadLocale() {
  if (clock) return false;
  clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
  collator = new Intl.Collator();
  return true;
}

export function timeOf(ts) {
  const d = new Date(Number(String(ts).split(".")[0]) * 1000 || Date.now()); // a local echo's: now
  if (clock) return clock.format(d);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export function compareNames(a, b) {
  if (collator) return collator.compare(a, b);
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

// The benchmark's end, the same for the thin page and the fat one: once the sidebar and the
// first channel's messages are in the document, the mark waits for the frame that paints them
// (the next animation frame, then the task after it: style, layout and paint are done).
export function markVisible(name = "content-visible") {
  if (performance.getEntriesByName(name).length) return null;
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => {
    if (!performance.getEntriesByName(name).length) performance.mark(name);
    resolve();
  }, 0)));
}
