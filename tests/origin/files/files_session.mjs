// The Node SDK's filesUploadV2 (one file and several, to a channel and to a thread) and the
// files methods against Flannel's router, run by test_node_sdk_files.py. Every check is
// recorded and printed as one JSON object at the end.
import webApi from "@slack/web-api";

const { WebClient } = webApi;
const [apiUrl, aliceToken, bobToken, carolToken, general, secret] = process.argv.slice(2);
const results = {};
const logger = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel() { return "error"; }, setName() {} };
const opts = { slackApiUrl: apiUrl, logger, retryConfig: { retries: 0 } };
const alice = new WebClient(aliceToken, opts);
const bob = new WebClient(bobToken, opts);

async function check(name, fn) {
  process.stderr.write(`check ${name}\n`);
  try {
    results[name] = { ok: true, detail: (await fn()) ?? null };
  } catch (err) {
    results[name] = { ok: false, error: String(err && err.stack ? err.stack : err), data: err && err.data };
  }
}
function assert(cond, what) { if (!cond) throw new Error(what); }
const fileOf = (completion) => completion.files[0].files[0];

let first;
await check("upload_one_file_to_a_channel", async () => {
  const done = await alice.filesUploadV2({
    channel_id: general, file: Buffer.from("node bytes"), filename: "node.txt", initial_comment: "from node",
  });
  first = fileOf(done);
  assert(first.name === "node.txt" && first.size === 10, JSON.stringify(first));
  assert(first.shares.public[general].length === 1, "shared once in general");
  const got = await fetch(first.url_private, { headers: { Authorization: `Bearer ${bobToken}` } });
  assert(got.status === 200 && (await got.text()) === "node bytes", `download ${got.status}`);
  return { id: first.id };
});

await check("upload_several_files_to_a_thread", async () => {
  const parent = await alice.chat.postMessage({ channel: general, text: "node thread" });
  const done = await alice.filesUploadV2({
    channel_id: general,
    thread_ts: parent.ts,
    file_uploads: [
      { file: Buffer.from("one"), filename: "one.txt", title: "One" },
      { content: "two", filename: "two.txt" },
    ],
  });
  const ids = done.files[0].files.map((f) => f.id);
  assert(ids.length === 2, JSON.stringify(done));
  const replies = await alice.conversations.replies({ channel: general, ts: parent.ts });
  const last = replies.messages[replies.messages.length - 1];
  assert(last.subtype === "file_share" && last.files.map((f) => f.id).join() === ids.join(), JSON.stringify(last));
  return { ids };
});

await check("info_list_delete", async () => {
  const info = await bob.files.info({ file: first.id });
  assert(info.file.id === first.id, "info");
  const listed = await bob.files.list({ channel: general });
  assert(listed.files.some((f) => f.id === first.id), "listed");
  await alice.files.delete({ file: first.id });
  let code = null;
  try { await bob.files.info({ file: first.id }); } catch (err) { code = err.data && err.data.error; }
  assert(code === "file_not_found", `after delete: ${code}`);
});

await check("private_file_is_404_to_a_non_member", async () => {
  const done = await alice.filesUploadV2({ channel_id: secret, content: "hidden", filename: "hidden.txt" });
  const f = fileOf(done);
  const carol = await fetch(f.url_private, { headers: { Authorization: `Bearer ${carolToken}` } });
  const member = await fetch(f.url_private, { headers: { Authorization: `Bearer ${bobToken}` } });
  assert(carol.status === 404 && member.status === 200, `carol ${carol.status} bob ${member.status}`);
});

process.stdout.write(JSON.stringify(results) + "\n");
