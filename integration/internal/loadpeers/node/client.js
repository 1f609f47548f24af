// The Node.js peer's client: runs one cell of ringwire-load against the
// Node server over newline-delimited JSON, Node's built-ins only, on the
// same open-loop schedule as the Go generator (internal/load.Schedule):
// request i is due at start + i/rate (bursts: all of a period's requests
// in its first burstOn ms), its latency runs from its due time to the
// whole answer. rate 0 is a closed loop. It prints, for the Go harness
// to summarize with the same code as every other transport:
//
//   L <latency ns> <lag ns> <failed 0|1> <unexpected 0|1>   per answer
//   E <message>                                             first unexpected outcome
//   R <due> <elapsed ns> <cpu us>                           at the end
//
// As in the Go generator, what is not answered max(duration/2, 1 s) after
// the end of a phase is dropped (counted as due, not as answered).
//
//   node client.js SOCKET OPS_FILE RATE DURATION_MS WARMUP_MS CONNS INFLIGHT BURST_ON_MS BURST_OFF_MS
'use strict';
const net = require('net');
const fs = require('fs');

const a = process.argv.slice(2);
const [sock, opsFile] = a;
const [rate, durationMs, warmupMs, nconns, inflight, burstOn, burstOff] = a.slice(2).map(Number);
const ops = fs.readFileSync(opsFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const workers = nconns * inflight;
const now = () => process.hrtime.bigint();
const out = [];
let firstUnexpected = '';

function offsetNs(i) {
  if (!(burstOn > 0 && burstOff > 0)) return (i * 1e9) / rate;
  const period = (burstOn + burstOff) * 1e6;
  const perPeriod = rate * (burstOn + burstOff) / 1000;
  const n = Math.floor(i / perPeriod);
  return n * period + ((i - n * perPeriod) * burstOn * 1e6) / perPeriod;
}

function countDue(durNs) {
  let lo = 0, hi = Math.ceil((rate * durNs) / 1e9) + 2;
  while (lo < hi) { const m = Math.floor((lo + hi) / 2); if (offsetNs(m) < durNs) lo = m + 1; else hi = m; }
  return lo;
}

// A connection: answers matched to calls by id.
function dial() {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    const conn = { c, pending: new Map(), nextId: 1 };
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (data) => {
      buf += data;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ans = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const h = conn.pending.get(ans.id);
        if (h) h(ans);
      }
    });
    c.on('connect', () => resolve(conn));
    c.on('error', reject);
  });
}

// call sends op on conn; done(failed, unexpected, message) when the whole
// answer is in.
function call(conn, op, done) {
  const id = conn.nextId++;
  const req = { id, op: op.op };
  if (op.complete) req.complete = op.complete;
  if (op.tool) req.tool = op.tool;
  let chunks = 0;
  const finish = (failed, msg) => {
    conn.pending.delete(id);
    const unexpected = op.want_error ? !failed || msg !== '' : failed;
    done(failed, unexpected, msg);
  };
  conn.pending.set(id, (ans) => {
    if (ans.error) return finish(true, 'handler: ' + ans.error);
    if (op.op === 'ping') return finish(false, ans.pong ? '' : 'ping without pong');
    if (op.op === 'tool') {
      const r = ans.result;
      if (!r) return finish(true, 'tool answered without a result');
      if (r.IsError) return finish(true, op.want_error ? '' : 'tool failed: ' + r.Content.slice(0, 80));
      if (Buffer.byteLength(r.Content) !== op.want_bytes) return finish(true, `read_file returned ${Buffer.byteLength(r.Content)} bytes, want ${op.want_bytes}`);
      return finish(false, '');
    }
    if (!ans.chunk) return finish(true, 'completion answered without a chunk');
    chunks++;
    if (ans.chunk.Final) finish(chunks < 2, chunks < 2 ? `stream of ${chunks} chunks` : '');
  });
  conn.c.write(JSON.stringify(req) + '\n');
}

// phase runs the schedule (or the closed loop) for durNs, recording
// answers when record is set; it resolves with [due, elapsedNs].
function phase(conns, durNs, record, startPos) {
  return new Promise((resolve) => {
    const start = now();
    const end = start + BigInt(Math.round(durNs));
    let pos = startPos, busy = 0, doneCount = 0, last = start, i = 0;
    const queue = [];
    const total = rate > 0 ? countDue(durNs) : Infinity;
    let started = 0, over = false;
    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(drainTimer);
      const el = last > end ? last - start : end - start;
      resolve([rate > 0 ? total : started, Number(el)]);
    };
    const maybeEnd = () => {
      if (rate > 0 ? doneCount === total : (busy === 0 && now() >= end)) finish();
    };
    const drainTimer = setTimeout(finish, (durNs + Math.max(durNs / 2, 1e9)) / 1e6);
    const answer = (due, sent, failed, unexpected, msg) => {
      if (over) return; // dropped at the drain deadline
      const t = now();
      busy--; doneCount++; last = t;
      if (record) {
        out.push(`L ${t - due} ${sent - due} ${failed ? 1 : 0} ${unexpected ? 1 : 0}`);
        if (unexpected && !firstUnexpected) firstUnexpected = msg || 'unexpected outcome';
      }
    };
    if (rate > 0) {
      const pump = () => {
        while (!over && busy < workers && queue.length > 0) {
          const due = queue.shift();
          const op = ops[pos++ % ops.length];
          busy++;
          const sent = now();
          call(conns[pos % conns.length], op, (f, u, m) => { answer(due, sent, f, u, m); pump(); maybeEnd(); });
        }
      };
      const tick = () => {
        const t = now();
        while (i < total && start + BigInt(Math.round(offsetNs(i))) <= t) {
          queue.push(start + BigInt(Math.round(offsetNs(i))));
          i++;
        }
        pump();
        if (i < total) setTimeout(tick, Math.max(0, Number(start + BigInt(Math.round(offsetNs(i))) - now()) / 1e6));
      };
      tick();
      return;
    }
    // Closed loop: each worker calls back to back; in a burst's silence it waits.
    const period = BigInt(Math.round((burstOn + burstOff) * 1e6));
    const worker = (w) => {
      if (over) return;
      const t0 = now();
      if (t0 >= end) { maybeEnd(); return; }
      if (burstOn > 0 && burstOff > 0) {
        const into = (t0 - start) % period;
        if (into >= BigInt(burstOn * 1e6)) { setTimeout(() => worker(w), Number(period - into) / 1e6); return; }
      }
      const op = ops[pos++ % ops.length];
      busy++; started++;
      call(conns[w % conns.length], op, (f, u, m) => { answer(t0, t0, f, u, m); setImmediate(() => worker(w)); });
    };
    for (let w = 0; w < workers; w++) worker(w);
  });
}

(async () => {
  const conns = [];
  for (let i = 0; i < nconns; i++) conns.push(await dial());
  if (warmupMs > 0) await phase(conns, warmupMs * 1e6, false, 0);
  const cpu0 = process.cpuUsage();
  const [due, elapsed] = await phase(conns, durationMs * 1e6, true, 0);
  const cpu = process.cpuUsage(cpu0);
  if (firstUnexpected) out.push('E ' + firstUnexpected.replace(/\n/g, ' '));
  out.push(`R ${due} ${elapsed} ${cpu.user + cpu.system}`);
  process.stdout.write(out.join('\n') + '\n', () => process.exit(0));
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
