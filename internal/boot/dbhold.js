// ocw's read transactions on OpenCode's session database, run in OpenCode's
// own Bun runtime (BUN_BE_BUN=1 opencode -e <this>). A reader pins SQLite's
// WAL: while it reads, a checkpoint cannot restart the WAL, so opencode.db
// and opencode.db-wal copied in any order are one committed state.
// Contract and rationale: internal/boot/boot.go (# Backup guard).
//
// OCW_MODE=hold  (ocw backup): hold until OCW_RELEASE exists or OCW_SECS
//                pass; touch OCW_HELD while holding.
// OCW_MODE=guard (serve.sh): from each minute OCW_SCHEDULE names (UTC),
//                hold for OCW_WINDOW seconds; never exit on a failed hold.
// OCW_MODE=match (tests): print 1 or 0 for each ISO time in OCW_TIMES
//                (comma-separated); exit 2 with the error on a bad schedule.
(async () => {
  const { Database } = require("bun:sqlite");
  const fs = require("node:fs");
  const e = process.env;

  // The five-field cron syntax spec validation accepts (model.ValidCron):
  // numbers, *, lists, ranges and steps; "n/s" runs from n to the maximum.
  // Day of month and day of week match either when both are restricted.
  const bounds = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];
  function parse(expr) {
    const f = expr.trim().split(/\s+/);
    if (f.length !== 5) throw new Error(`"${expr}" is not a five-field cron schedule`);
    return f.map((field, i) => {
      const [lo, hi] = bounds[i];
      const set = new Set();
      let star = false;
      for (const item of field.split(",")) {
        const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(item);
        if (!m) throw new Error(`"${item}" in "${expr}" is not a number, *, range or step`);
        let a = lo, b = hi;
        const step = m[2] === undefined ? 1 : Number(m[2]);
        if (m[1] === "*") star = star || step === 1;
        else {
          const r = m[1].split("-").map(Number);
          a = r[0];
          b = r.length === 2 ? r[1] : m[2] === undefined ? r[0] : hi;
        }
        if (a < lo || b > hi || a > b || step < 1)
          throw new Error(`"${item}" in "${expr}" is out of range ${lo}-${hi}`);
        for (let v = a; v <= b; v += step) set.add(v);
      }
      return { set, star };
    });
  }
  function matches(s, d) {
    const [mi, h, dom, mon, dow] = s;
    if (!mi.set.has(d.getUTCMinutes()) || !h.set.has(d.getUTCHours()) || !mon.set.has(d.getUTCMonth() + 1)) return false;
    const a = dom.set.has(d.getUTCDate()), b = dow.set.has(d.getUTCDay());
    return dom.star || dow.star ? a && b : a || b;
  }
  function begin() {
    // create: false: before OpenCode made its database there is nothing to
    // hold, and an empty file made here must not become OpenCode's.
    const db = new Database(e.OCW_DB, { readwrite: true, create: false });
    db.exec("BEGIN");
    db.query("SELECT count(*) FROM sqlite_master").get();
    return db;
  }
  function end(db) {
    db.exec("COMMIT");
    db.close();
  }

  if (e.OCW_MODE === "match") {
    let s;
    try { s = parse(e.OCW_SCHEDULE); } catch (err) { console.error(err.message); process.exit(2); }
    console.log(e.OCW_TIMES.split(",").map((t) => (matches(s, new Date(t)) ? 1 : 0)).join(""));
    return;
  }
  if (e.OCW_MODE === "guard") {
    const say = (m) => console.error(`ocw backup guard: ${m}`);
    const s = parse(e.OCW_SCHEDULE);
    const window = Number(e.OCW_WINDOW) * 1000;
    let db = null, until = 0, last = -1;
    say(`holding ${e.OCW_DB} for ${e.OCW_WINDOW}s from each "${e.OCW_SCHEDULE}" (UTC)`);
    for (;;) {
      const now = Date.now();
      const minute = Math.floor(now / 60000);
      if (minute !== last) {
        last = minute;
        if (matches(s, new Date(minute * 60000))) {
          // A fresh transaction per scheduled time: the WAL grows at most
          // for one window even when the schedule is more frequent.
          if (db) { try { end(db); } catch {} db = null; }
          until = minute * 60000 + window;
          try { db = begin(); say(`holding until ${new Date(until).toISOString()}`); }
          catch (err) { say(`cannot hold, this backup is as consistent as after a crash: ${err.message}`); }
        }
      }
      if (db && Date.now() >= until) {
        try { end(db); } catch (err) { say(`ending the hold: ${err.message}`); }
        db = null;
        say("released");
      }
      const next = (minute + 1) * 60000 + 20;
      await Bun.sleep(Math.max(10, (db ? Math.min(next, until) : next) - Date.now()));
    }
  }
  const db = begin();
  fs.writeFileSync(e.OCW_HELD, "");
  const stop = Date.now() + Number(e.OCW_SECS) * 1000;
  while (!fs.existsSync(e.OCW_RELEASE) && Date.now() < stop) await Bun.sleep(200);
  end(db);
  fs.rmSync(e.OCW_HELD, { force: true });
  fs.rmSync(e.OCW_RELEASE, { force: true });
})().catch((err) => {
  console.error(`ocw backup ${process.env.OCW_MODE}: stopped: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
