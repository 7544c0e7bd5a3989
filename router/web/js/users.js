// Users resolved lazily: asked of the edge in batches (one users.info per tick for every id
// the screen needs), kept once known, and fed by the edge's just-in-time user_info frames.
// Never a full user list.

export class Users {
  constructor(query, onChange) {
    this.query = query;
    this.onChange = onChange;
    this.known = new Map();
    this.wanted = new Set();
    this.asked = new Set();
    this.timer = null;
  }

  get(id) { return this.known.get(id); }

  name(id) {
    const u = this.known.get(id);
    if (!u) { this.want(id); return undefined; }
    return u.profile?.display_name || u.name || u.real_name || id;
  }

  want(id) {
    if (!id || this.known.has(id) || this.asked.has(id)) return;
    this.wanted.add(id);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), 0);
  }

  add(users) {
    for (const u of users || []) if (u && u.id) this.known.set(u.id, u);
    this.onChange();
  }

  // The wanted ones asked now, not in a tick: the answer's promise (the first screen waits on it).
  flushNow() {
    clearTimeout(this.timer);
    return this.flush();
  }

  async flush() {
    this.timer = null;
    const ids = [...this.wanted].slice(0, 200);
    ids.forEach((id) => { this.wanted.delete(id); this.asked.add(id); });
    if (this.wanted.size) this.timer = setTimeout(() => this.flush(), 0);
    if (!ids.length) return;
    try {
      const answer = await this.query("users.info", { users: ids.join(",") });
      if (answer.ok) this.add(answer.users);
      else for (const id of ids) {
        const one = await this.query("users.info", { user: id });
        if (one.ok) this.add([one.user]);
      }
    } catch {
      ids.forEach((id) => this.asked.delete(id)); // asked again once reconnected
    }
  }
}
