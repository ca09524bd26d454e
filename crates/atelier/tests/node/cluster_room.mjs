// Drawing rooms under faults, for the cluster test (tests/api/cluster_rooms.rs): real pusher-js
// clients, each connected to one of two API nodes, draw at once in their rooms: REST strokes
// and undos (POST …/strokes, …/undo with the socket id, as web/pages/room.js sends them) and
// `client-cursor` client events. A client keeps the stroke log as web/pages/room.js does: live
// `stroke`/`undo` events, a catch-up (`GET …/strokes?since=`) on every (re)subscription and on
// every gap it sees. When its connection drops (the node was killed) it moves to the other
// node, as a load balancer would send it; a REST request that cannot reach its node goes to the
// other one too, and a 503 is retried. Late clients connect only when told.
//   node cluster_room.mjs '<json config>'
// stdin, one command a line: `late` (late clients connect), `stop` (stop drawing, let the last
// events arrive, print every client's log, exit). stdout: JSON lines, `{"ev":"ready"}` once
// every early client is subscribed, one `{"ev":"client",…}` per client, then `{"ev":"done"}`.
import PusherClient from 'pusher-js';
import readline from 'node:readline';

const config = JSON.parse(process.argv[2] ?? '{}');
const ports = config.ports;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const out = (ev, fields = {}) => process.stdout.write(JSON.stringify({ ev, ...fields }) + '\n');
PusherClient.logToConsole = false;

let drawing = true;

class Client {
  constructor(room, spec) {
    Object.assign(this, spec);
    this.room = room;
    this.channelName = `presence-drawing-${room.drawingId}`;
    this.entries = new Map();
    this.lastSeq = 0;
    this.catching = null;
    this.again = false;
    this.stats = {
      live: 0, caught: 0, reconnects: 0, resubscribes: 0, posts: 0, retried: 0,
      refused: 0, server_errors: [], failures: [],
      cursors_sent: 0, cursors_received: 0, cursor_duplicates: 0, cursor_echoes: 0,
      cursor_out_of_order: 0, cursors_across_nodes: 0,
    };
    this.cursorsSeen = new Map();
    // What happened to the connection, for the test's messages: [ms, what].
    this.history = [];
    this.subscribed = false;
    this.generation = 0;
    // Resolves at the first subscription, on whichever node.
    this.ready = new Promise((resolve) => { this.becameReady = resolve; });
  }

  base() {
    return `http://127.0.0.1:${ports[this.node]}`;
  }

  // A REST call through the "load balancer": a refused or dropped connection goes to the other
  // node, a 503 is retried after a pause (every 5xx is recorded with its time and code).
  // `form`: a form-encoded body instead of JSON (`/pusher/auth`).
  async rest(method, path, body, form) {
    for (let attempt = 0; attempt < 400; attempt++) {
      const node = this.node;
      let response;
      try {
        response = await fetch(`http://127.0.0.1:${ports[node]}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${this.token}`,
            'Content-Type': form === undefined ? 'application/json' : 'application/x-www-form-urlencoded',
          },
          body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
          signal: AbortSignal.timeout(20000),
        });
      } catch (err) {
        this.stats.refused += 1;
        if (this.node === node) this.node = 1 - node;
        await sleep(100);
        continue;
      }
      const text = await response.text().catch(() => '');
      if (response.status >= 500) {
        let code = null;
        try { code = JSON.parse(text)?.error?.code ?? null; } catch { /* not JSON */ }
        this.stats.server_errors.push({ at: Date.now(), status: response.status, code, path, port: ports[node] });
        this.stats.retried += 1;
        await sleep(300);
        continue;
      }
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: response.status, json };
    }
    throw new Error(`${method} ${path}: no node answered`);
  }

  apply(entry, live) {
    if (this.entries.has(entry.seq)) return;
    this.entries.set(entry.seq, [entry.seq, entry.kind, entry.user_id, entry.client_id, entry.target_seq ?? null]);
    if (live) {
      this.stats.live += 1;
      this.lastLive = [Date.now(), entry.seq];
    }
    else this.stats.caught += 1;
    this.lastSeq = Math.max(this.lastSeq, entry.seq);
  }

  // The highest seq up to which this client holds every entry.
  contiguous() {
    let seq = 0;
    while (this.entries.has(seq + 1)) seq += 1;
    return seq;
  }

  // room.js's catch-up, plus one fix: a gap seen while a catch-up is in flight runs another.
  catchUp() {
    if (this.catching) {
      this.again = true;
      return this.catching;
    }
    this.catching = (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const since = this.contiguous();
            const page = await this.rest('GET', `/api/v1/drawings/${this.room.drawingId}/strokes?since=${since}&limit=1000`);
            if (page.status !== 200) throw new Error(`catch-up answered ${page.status}`);
            for (const entry of page.json.entries) this.apply(entry, false);
            if (!page.json.entries.length || this.contiguous() >= page.json.last_seq) break;
          }
        } while (this.again);
      } catch (err) {
        this.stats.failures.push(`catch-up: ${err}`);
      } finally {
        this.catching = null;
      }
    })();
    return this.catching;
  }

  onEntry(entry) {
    if (entry.seq > this.contiguous() + 1) {
      // The entry itself is kept; the catch-up fills what came before it.
      this.apply(entry, true);
      this.catchUp();
    } else {
      this.apply(entry, true);
    }
  }

  onCursor(data, metadata) {
    const { from, n, node } = data;
    if (from === this.name) {
      this.stats.cursor_echoes += 1;
      return;
    }
    this.stats.cursors_received += 1;
    if (node !== this.wsNode) this.stats.cursors_across_nodes += 1;
    const seen = this.cursorsSeen.get(from) ?? { last: -1, all: new Set() };
    if (seen.all.has(n)) this.stats.cursor_duplicates += 1;
    if (n < seen.last) this.stats.cursor_out_of_order += 1;
    seen.all.add(n);
    seen.last = Math.max(seen.last, n);
    this.cursorsSeen.set(from, seen);
    if (String(metadata?.user_id ?? '') !== String(data.user_id)) this.stats.failures.push(`client event from ${from} with user_id ${metadata?.user_id}`);
  }

  // Connects to the current node and subscribes (in the background).
  connect() {
    const generation = ++this.generation;
    // The node this connection goes to (REST calls may have moved on already).
    this.wsNode = this.node;
    const port = ports[this.wsNode];
    const pusher = new PusherClient(config.key, {
      cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false,
      enabledTransports: ['ws'], disableStats: true, activityTimeout: 5000, pongTimeout: 3000,
      // The auth request goes through the same "load balancer" as every REST call (any node
      // signs: they share the secret), so its 5xx are recorded with their codes and retried.
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, callback) => {
          const form = new URLSearchParams({ socket_id: socketId, channel_name: channelName }).toString();
          this.rest('POST', '/pusher/auth', undefined, form).then(
            (answer) => (answer.status === 200 ? callback(null, answer.json) : callback(new Error(`auth answered ${answer.status}`), null)),
            (err) => callback(err, null),
          );
        },
      },
    });
    this.pusher = pusher;
    this.subscribed = false;
    pusher.connection.bind('state_change', ({ previous, current }) => {
      if (generation !== this.generation || !drawing) return;
      this.history.push([Date.now(), `${port}: ${previous} -> ${current}`]);
      if (previous === 'connected' && current !== 'connected') this.failOver();
    });
    const subscribe = () => {
      const channel = pusher.subscribe(this.channelName);
      this.channel = channel;
      channel.bind('pusher:subscription_succeeded', () => {
        this.history.push([Date.now(), `subscribed on ${port}`]);
        this.subscribed = true;
        this.catchUp().then(this.becameReady);
      });
      channel.bind('pusher:subscription_error', async (err) => {
        // The auth request failed: subscribe again.
        this.stats.resubscribes += 1;
        this.stats.failures.push(`subscription error: ${err?.error ?? err?.message ?? JSON.stringify(err)}`);
        pusher.unsubscribe(this.channelName);
        await sleep(500);
        if (generation === this.generation) subscribe();
      });
      channel.bind('stroke', (entry) => this.onEntry(entry));
      channel.bind('undo', (entry) => this.onEntry(entry));
      channel.bind('client-cursor', (data, metadata) => this.onCursor(data, metadata));
    };
    subscribe();
    // A node that never answers the handshake counts as down too.
    setTimeout(() => {
      if (generation === this.generation && !this.subscribed && drawing) this.failOver();
    }, 10000);
  }

  failOver() {
    const old = this.pusher;
    this.generation += 1;
    this.subscribed = false;
    this.stats.reconnects += 1;
    this.node = 1 - this.wsNode;
    old.disconnect();
    this.connect();
  }

  async draw() {
    const id = this.room.drawingId;
    let n = 0;
    let cursor = 0;
    let sinceUndo = 0;
    const cursorTimer = setInterval(() => {
      if (!this.subscribed || !drawing) return;
      if (this.channel.trigger('client-cursor', { from: this.name, user_id: this.userId, n: cursor, node: this.wsNode })) {
        cursor += 1;
        this.stats.cursors_sent += 1;
      }
    }, config.cursorEveryMs);
    while (drawing) {
      await sleep(config.strokeEveryMs * (0.5 + Math.random()));
      if (!drawing) break;
      let path;
      let body;
      if (sinceUndo >= 6) {
        path = `/api/v1/drawings/${id}/undo`;
        body = { client_id: `${this.name}-u${n}` };
        sinceUndo = 0;
      } else {
        const x = (n * 7) % 190;
        path = `/api/v1/drawings/${id}/strokes`;
        body = { client_id: `${this.name}-s${n}`, points: [[x, 10], [x + 5, 60], [x + 9, 80]], color: '#336699', width: 3 };
        sinceUndo += 1;
      }
      n += 1;
      body.socket_id = this.subscribed ? this.pusher.connection.socket_id : undefined;
      this.stats.posts += 1;
      const answer = await this.rest('POST', path, body);
      if (answer.status !== 200 && answer.status !== 201) {
        this.stats.failures.push(`POST ${path} answered ${answer.status}: ${JSON.stringify(answer.json)}`);
        continue;
      }
      // The sender is left out of its own event: its entry comes from the answer.
      this.onEntry(answer.json);
    }
    clearInterval(cursorTimer);
  }

  report() {
    const entries = [...this.entries.values()].sort((a, b) => a[0] - b[0]);
    out('client', { room: this.room.drawingId, name: this.name, late: !!this.late, node: this.node, state: this.pusher?.connection.state, last_live: this.lastLive, history: this.history, entries, ...this.stats });
  }
}

const rooms = config.rooms.map((room) => ({ ...room, clients: [] }));
for (const room of rooms) {
  room.clients = room.members.map((spec) => new Client(room, { ...spec }));
}
const all = rooms.flatMap((room) => room.clients);
const early = all.filter((c) => !c.late);
const late = all.filter((c) => c.late);
const drawingTasks = [];

async function start(clients) {
  for (const c of clients) c.connect();
  await Promise.all(clients.map((c) => c.ready));
  for (const c of clients) drawingTasks.push(c.draw());
}

async function main() {
  const commands = readline.createInterface({ input: process.stdin });
  const lines = commands[Symbol.asyncIterator]();
  await start(early);
  out('ready', { clients: early.length });
  for (;;) {
    const { value, done } = await lines.next();
    if (done || value.trim() === 'stop') break;
    if (value.trim() === 'late') {
      await start(late);
      out('late', { clients: late.length });
    }
  }
  drawing = false;
  out('stopping', { at: Date.now() });
  await Promise.all(drawingTasks);
  out('stopped', { at: Date.now() });
  // Let the last events and catch-ups arrive.
  for (let quiet = 0; quiet < 20; quiet++) {
    await sleep(250);
    if (all.some((c) => c.catching)) quiet = 0;
  }
  await Promise.all(all.map((c) => c.catching));
  for (const c of all) c.report();
  for (const c of all) c.pusher?.disconnect();
}

// Writes to a pipe are asynchronous: exit once everything printed has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));
try {
  await main();
  out('done');
  exit(0);
} catch (err) {
  out('failed', { error: String(err?.stack ?? err) });
  exit(1);
}
