// A session with the official Node SDKs against Flannel's router (one base URL), run by
// tests/compat/test_node_sdk.py. Every check is recorded, pass or fail, and printed as one
// JSON object at the end, so the test can say exactly which failed.
import webApi from "@slack/web-api";
import rtmApi from "@slack/rtm-api";

const { WebClient, ErrorCode, retryPolicies } = webApi;
const { RTMClient } = rtmApi;

const [apiUrl, aliceToken, bobToken, general, bobId, aliceId] = process.argv.slice(2);
const results = {};
const logger = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel() { return "error"; }, setName() {} };
const opts = { slackApiUrl: apiUrl, logger, retryConfig: { retries: 2, factor: 1, minTimeout: 200, maxTimeout: 500 } };
const alice = new WebClient(aliceToken, opts);
const bob = new WebClient(bobToken, opts);

async function check(name, fn) {
  process.stderr.write(`check ${name}\n`);
  try {
    const detail = await fn();
    results[name] = { ok: true, detail: detail ?? null };
  } catch (err) {
    results[name] = { ok: false, error: String(err && err.stack ? err.stack : err), data: err && err.data };
  }
}
function assert(cond, what) { if (!cond) throw new Error(what); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*blocks* only" } }];

await check("users_list_paginated", async () => {
  const ids = [];
  let pages = 0;
  for await (const page of alice.paginate("users.list", { limit: 1 })) { pages++; ids.push(...page.members.map((u) => u.id)); }
  assert(pages >= 3 && new Set(ids).size === ids.length && ids.includes(bobId), `pages ${pages} ids ${ids}`);
  return { pages };
});

await check("history_paginated", async () => {
  for (let i = 0; i < 5; i++) await alice.chat.postMessage({ channel: general, text: `page me ${i}` });
  const seen = [];
  for await (const page of alice.paginate("conversations.history", { channel: general, limit: 2 })) {
    seen.push(...page.messages.map((m) => m.ts));
    if (seen.length >= 5) break;
  }
  assert(seen.length >= 5 && new Set(seen).size === seen.length, `history ${seen}`);
});

let blockTs = null;
await check("post_blocks_only", async () => {
  const posted = await alice.chat.postMessage({ channel: general, blocks });
  blockTs = posted.ts;
  assert(posted.ok && Array.isArray(posted.message?.blocks), JSON.stringify(posted));
});

await check("update_with_blocks", async () => {
  assert(blockTs, "no message to update");
  const newBlocks = [{ type: "section", text: { type: "mrkdwn", text: "updated" } }];
  const updated = await alice.chat.update({ channel: general, ts: blockTs, blocks: newBlocks });
  assert(updated.ok, JSON.stringify(updated));
  const hist = await alice.conversations.history({ channel: general, limit: 20 });
  const msg = hist.messages.find((m) => m.ts === blockTs);
  assert(msg && JSON.stringify(msg.blocks).includes("updated"), JSON.stringify(msg));
});

await check("post_by_channel_name", async () => {
  const posted = await alice.chat.postMessage({ channel: "#general", text: "by name" });
  assert(posted.ok && posted.channel === general, JSON.stringify(posted));
});

await check("post_by_user_id", async () => {
  const posted = await alice.chat.postMessage({ channel: bobId, text: "a DM by user id" });
  assert(posted.ok && posted.channel.startsWith("D"), JSON.stringify(posted));
});

await check("thread_reply_broadcast", async () => {
  const parent = await alice.chat.postMessage({ channel: general, text: "parent" });
  const reply = await bob.chat.postMessage({ channel: general, text: "reply", thread_ts: parent.ts, reply_broadcast: true });
  assert(reply.ok, JSON.stringify(reply));
  const hist = await alice.conversations.history({ channel: general, limit: 10 });
  const copy = hist.messages.find((m) => m.subtype === "thread_broadcast" && m.thread_ts === parent.ts);
  assert(copy, `no thread_broadcast in ${JSON.stringify(hist.messages.map((m) => [m.subtype, m.text]))}`);
});

await check("unknown_method_is_a_platform_error", async () => {
  try {
    await alice.apiCall("nope.nope", {});
  } catch (err) {
    assert(err.code === ErrorCode.PlatformError && err.data.error === "unknown_method", `${err.code} ${JSON.stringify(err.data)}`);
    return;
  }
  throw new Error("nope.nope answered ok");
});

await check("rtm_connects_sends_receives_and_reports_a_failed_send", async () => {
  const rtm = new RTMClient(aliceToken, { slackApiUrl: apiUrl, logger, autoReconnect: false });
  const started = await rtm.start();
  assert(started.self.id === aliceId, JSON.stringify(started.self));
  const heard = new Promise((resolve) => rtm.on("message", (ev) => { if (ev.text === "hello rtm") resolve(ev); }));
  const sent = await rtm.sendMessage("sent over rtm", general);
  assert(sent.ok !== false && sent.ts, JSON.stringify(sent));
  await bob.chat.postMessage({ channel: general, text: "hello rtm" });
  const ev = await Promise.race([heard, sleep(10000).then(() => null)]);
  assert(ev && ev.user === bobId, "did not receive bob's message");
  let failure = null;
  try { await rtm.sendMessage("nowhere", "C0NOWHERE"); } catch (err) { failure = err; }
  assert(failure && failure.code === "slack_rtmapi_send_message_platform_error", `send failure ${failure && failure.code}`);
  // The client keeps the reply as the error's data: Slack's {ok: false, error: {code, msg}}.
  const slackError = failure.data && failure.data.error;
  assert(slackError && slackError.code && slackError.msg, JSON.stringify(failure.data));
  // No rtm.disconnect(): @slack/rtm-api 7.0.4 walks its sparse reply list with for..of on
  // disconnect and crashes on the holes (p.cancel of undefined); the process exit closes it.
  return { failure: slackError };
});

await check("rtm_start_has_a_working_url", async () => {
  const rtm = new RTMClient(aliceToken, { slackApiUrl: apiUrl, logger, autoReconnect: false, useRtmConnect: false });
  const started = await rtm.start();
  assert(started.url && Array.isArray(started.users), "no url or no fat payload");
  await rtm.disconnect();
});

await check("rate_limits_honoured", async () => {
  const strict = new WebClient(aliceToken, { ...opts, rejectRateLimitedCalls: true });
  const calls = Array.from({ length: 12 }, () => strict.search.messages({ query: "page" }).then(() => null, (e) => e));
  const errors = (await Promise.all(calls)).filter(Boolean);
  const limited = errors.find((e) => e.code === ErrorCode.RateLimitedError);
  assert(limited && limited.retryAfter >= 1, `no rate-limited error: ${errors.map((e) => e.code)}`);
  let told = 0;
  alice.on("rate_limited", () => { told++; });
  const t0 = Date.now();
  const answered = await alice.search.messages({ query: "page" });
  assert(answered.ok && told >= 1 && Date.now() - t0 >= 900, `told ${told} after ${Date.now() - t0} ms`);
  return { retryAfter: limited.retryAfter, waitedMs: Date.now() - t0 };
});

process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
