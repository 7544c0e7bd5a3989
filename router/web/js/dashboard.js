// The operators' dashboard: /web/dashboard (the router gathers its own placement counters, each
// edge's stats and the origin's relay backlog), redrawn every few seconds.
const $ = (id) => document.getElementById(id);
const EVERY_MS = 3000;
let secret = null;
let csrf = null;

function el(tag, text, cls) { const n = document.createElement(tag); if (text !== undefined) n.textContent = text; if (cls) n.className = cls; return n; }

function tiles(node, pairs) {
  node.replaceChildren(...pairs.map(([k, v]) => { const d = el("div"); d.append(el("dt", k), el("dd", v ?? "—")); return d; }));
}

const mib = (b) => (b === undefined || b === null ? "—" : `${(b / 1048576).toFixed(1)} MiB`);
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

async function fetchFigures() {
  const headers = secret ? { "x-flannel-service-secret": secret } : csrf ? { "x-flannel-csrf": csrf } : {};
  const resp = await fetch("/web/dashboard", { headers, credentials: "same-origin" });
  return resp.json();
}

function draw(d) {
  const r = d.router;
  tiles($("router"), [["placements", r.placements], ["warm share", pct(r.warm_share)], ["spill-overs", r.spill_overs],
    ["failovers", r.failovers], ["failed-edge reports", r.failed_edge_reports], ["refused connects", r.rejections]]);
  const o = d.origin;
  tiles($("origin"), o.reachable ? [["relay backlog", o.relay_backlog], ["events published", o.relay_published], ["snapshots served", o.snapshots_served]] : [["origin", "unreachable"]]);
  const regions = Object.entries(d.regions).sort();
  $("regions").replaceChildren(...(regions.length ? regions.map(([region, edges]) => {
    const t = el("table");
    t.append(el("caption", `${region} — ${edges.length} edge${edges.length === 1 ? "" : "s"}, ${edges.reduce((n, e) => n + (e.connections || 0), 0)} connections`));
    const head = el("tr");
    ["edge", "connections", "workspaces held", "cache memory", "snapshot loads (origin / regional)", "change-log lag", "state"].forEach((h) => head.append(el("th", h)));
    t.append(head);
    for (const e of edges) {
      const row = el("tr");
      const stateText = !e.reachable ? "unreachable" : e.draining ? "draining" : e.suspended ? "suspended" : "serving";
      [e.id, e.connections, e.workspaces, mib(e.cache_bytes), e.reachable ? `${e.origin_snapshot_loads ?? "—"} / ${e.regional_snapshot_hits ?? "—"}` : "—", e.log_lag ?? "—", stateText]
        .forEach((v, i) => row.append(el("td", String(v ?? "—"), i === 6 && stateText !== "serving" ? "down" : "")));
      t.append(row);
    }
    return t;
  }) : [el("p", "No edge has registered.")]));
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const d = await fetchFigures();
    if (!d.ok) {
      $("figures").hidden = true;
      $("auth").hidden = false;
      $("auth-error").textContent = d.error === "not_allowed" ? "Your account is not a workspace admin." : secret ? "That secret is wrong." : "";
      return;
    }
    $("auth").hidden = true;
    $("figures").hidden = false;
    draw(d);
  } catch {
    $("updated").textContent = "the router did not answer; retrying";
  }
}

$("secret-form").addEventListener("submit", (ev) => { ev.preventDefault(); secret = $("secret").value; refresh(); });

(async () => {
  const session = await (await fetch("/web/session", { credentials: "same-origin" })).json().catch(() => ({}));
  if (session.ok) csrf = session.csrf;
  await refresh();
  setInterval(refresh, EVERY_MS);
})();
