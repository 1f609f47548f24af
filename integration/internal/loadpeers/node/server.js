// The Node.js peer's server: newline-delimited JSON over a Unix socket,
// Node's built-ins only (JSON.parse -> handler -> JSON.stringify -> write).
// It speaks the Go JSON peer's format (loadpeers/json.go) and does the
// same work as ringwired's mock provider and read_file.
//
//   node server.js SOCKET WORKSPACE TOKEN_DELAY_MS
'use strict';
const net = require('net');
const fs = require('fs');
const path = require('path');

const [sock, workspace, delayArg] = process.argv.slice(2);
const tokenDelay = Number(delayArg || 0);
const root = workspace ? fs.realpathSync(workspace) : '';
const maxLine = 16 << 20;
const defaultMaxTokens = 64; // daemon.DefaultMockMaxTokens
const finishStop = 1, finishLength = 2; // protocol.FinishStop, FinishLength

// mockTokens is daemon.MockProvider's reply: "mock:" then each word of
// the last message with its leading space, cut at maxTokens tokens.
function mockTokens(req) {
  const msgs = req.Messages || [];
  const prompt = msgs.length ? (msgs[msgs.length - 1].Content || '') : '';
  const limit = req.MaxTokens || defaultMaxTokens;
  const words = prompt.split(/[ \t\r\n]+/).filter((w) => w.length > 0);
  const tokens = ['mock:'];
  let finish = finishStop;
  for (const w of words) {
    if (tokens.length === limit) { finish = finishLength; break; }
    tokens.push(' ' + w);
  }
  const usage = { PromptTokens: words.length, CompletionTokens: tokens.length };
  return { tokens, finish, usage };
}

function readFile(call, done) {
  const res = { CallID: call.ID || '', Content: '', IsError: false };
  const fail = (msg) => { res.Content = msg; res.IsError = true; done(res); };
  if (call.Name !== 'read_file') return fail(`no tool named "${call.Name}"`);
  if (!root) return fail('no workspace configured');
  let args;
  try { args = JSON.parse(call.Arguments || ''); } catch (e) { return fail('read_file: bad arguments'); }
  if (!args || typeof args.path !== 'string' || args.path === '') return fail('read_file: bad arguments');
  const p = path.resolve(root, args.path);
  if (!p.startsWith(root + path.sep)) return fail(`read_file: ${args.path}: outside the workspace`);
  fs.readFile(p, 'utf8', (err, data) => {
    if (err) return fail(`read_file: ${err.message}`);
    res.Content = data;
    done(res);
  });
}

function serve(conn) {
  const send = (a) => conn.write(JSON.stringify(a) + '\n');
  let buf = '';
  conn.setEncoding('utf8');
  conn.on('data', (data) => {
    buf += data;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let req;
      try { req = JSON.parse(line); } catch (e) {
        send({ id: 0, error: 'malformed request: ' + e.message });
        conn.end();
        return;
      }
      handle(req, send);
    }
    if (buf.length > maxLine) conn.destroy();
  });
  conn.on('error', () => {});
}

function handle(req, send) {
  const id = req.id;
  if (req.op === 'ping') return send({ id, pong: true });
  if (req.op === 'tool' && req.tool) return readFile(req.tool, (result) => send({ id, result }));
  if (req.op === 'complete' && req.complete) {
    const { tokens, finish, usage } = mockTokens(req.complete);
    let seq = 0;
    const final = () => send({ id, chunk: { Sequence: seq, Final: true, FinishReason: finish, Usage: usage } });
    if (tokenDelay <= 0) {
      for (const t of tokens) send({ id, chunk: { Sequence: seq++, Delta: t } });
      return final();
    }
    const next = () => {
      send({ id, chunk: { Sequence: seq, Delta: tokens[seq] } });
      if (++seq < tokens.length) setTimeout(next, tokenDelay); else final();
    };
    return next();
  }
  send({ id, error: `unknown op "${req.op}"` });
}

try { fs.unlinkSync(sock); } catch (e) { /* none */ }
const conns = new Set();
const server = net.createServer((c) => {
  conns.add(c);
  c.on('close', () => conns.delete(c));
  serve(c);
});
server.listen(sock, () => {
  fs.chmodSync(sock, 0o600);
  process.stderr.write(`node peer listening on ${sock}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  for (const c of conns) c.destroy();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
