// Drives atelier's Pusher-protocol server with the real pusher-js client and the real `pusher`
// server library. Spawned by the Rust API tests (tests/api/realtime_node.rs):
//   node harness.mjs <scenario> '<json config>'
// Prints one JSON object per line; the Rust test asserts on them. Exits 0 after {"ev":"done"}.
import PusherClient from 'pusher-js';
import PusherServer from 'pusher';

const [scenario, rawConfig] = process.argv.slice(2);
const config = JSON.parse(rawConfig ?? '{}');
const base = `http://127.0.0.1:${config.port}`;

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + '\n');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)),
  ]);
}

function client(token) {
  PusherClient.logToConsole = false;
  return new PusherClient(config.key, {
    cluster: 'local',
    wsHost: '127.0.0.1',
    wsPort: config.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: {
      endpoint: `${base}/pusher/auth`,
      transport: 'ajax',
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    },
  });
}

function connected(pusher) {
  return withTimeout(
    new Promise((resolve, reject) => {
      if (pusher.connection.state === 'connected') {
        resolve(pusher.connection.socket_id);
        return;
      }
      pusher.connection.bind('connected', () => resolve(pusher.connection.socket_id));
      pusher.connection.bind('failed', () => reject(new Error('connection failed')));
    }),
    5000,
    'connect',
  );
}

// Resolves with the subscription_succeeded payload or rejects with the subscription error.
function subscribe(pusher, name) {
  const channel = pusher.subscribe(name);
  return withTimeout(
    new Promise((resolve, reject) => {
      channel.bind('pusher:subscription_succeeded', (data) => resolve({ channel, data }));
      channel.bind('pusher:subscription_error', (err) => reject(err));
    }),
    5000,
    `subscribe ${name}`,
  );
}

function nextEvent(channel, name, ms = 5000) {
  return withTimeout(
    new Promise((resolve) => {
      const handler = (data, metadata) => {
        channel.unbind(name, handler);
        resolve({ data, metadata });
      };
      channel.bind(name, handler);
    }),
    ms,
    `event ${name} on ${channel.name}`,
  );
}

function server(secret = config.secret) {
  return new PusherServer({
    appId: config.appId,
    key: config.key,
    secret,
    host: '127.0.0.1',
    port: String(config.port),
    useTLS: false,
  });
}

function membersOf(channel) {
  const ids = [];
  channel.members.each((member) => ids.push(member.id));
  return ids.sort();
}

async function protocol() {
  const drawing = `presence-drawing-${config.drawingId}`;
  const alice = client(config.alice.token);
  const bob = client(config.bob.token);
  out('connected', { who: 'alice', socket_id: await connected(alice) });
  out('connected', { who: 'bob', socket_id: await connected(bob) });

  const pub = await subscribe(alice, 'room-1');
  out('subscribed', { who: 'alice', channel: 'room-1' });

  const own = await subscribe(alice, `private-user-${config.alice.id}`);
  out('subscribed', { who: 'alice', channel: own.channel.name });

  try {
    await subscribe(alice, `private-user-${config.bob.id}`);
    out('subscribed', { who: 'alice', channel: `private-user-${config.bob.id}` });
  } catch (err) {
    out('subscription_error', { who: 'alice', channel: `private-user-${config.bob.id}`, status: err.status ?? null });
  }

  const aliceRoom = await subscribe(alice, drawing);
  out('subscribed', { who: 'alice', channel: drawing, members: membersOf(aliceRoom.channel), me: aliceRoom.channel.members.me?.id ?? null });

  const added = nextEvent(aliceRoom.channel, 'pusher:member_added');
  const bobRoom = await subscribe(bob, drawing);
  out('subscribed', { who: 'bob', channel: drawing, members: membersOf(bobRoom.channel), count: bobRoom.channel.members.count });
  const member = (await added).data;
  out('member_added', { who: 'alice', id: member.id, name: member.info?.name ?? null });

  // Server-triggered events through the real server library (signed HTTP API).
  const api = server();
  const onRoom = nextEvent(pub.channel, 'hello');
  const onOwn = nextEvent(own.channel, 'job-progress');
  const onDrawingAlice = nextEvent(aliceRoom.channel, 'stroke');
  const onDrawingBob = nextEvent(bobRoom.channel, 'stroke');
  await api.trigger('room-1', 'hello', { text: 'hi' });
  await api.trigger(`private-user-${config.alice.id}`, 'job-progress', { percent: 40 });
  await api.trigger([drawing], 'stroke', { seq: 1, points: [[1, 2], [3, 4]] });
  out('server_event', { who: 'alice', channel: 'room-1', data: (await onRoom).data });
  out('server_event', { who: 'alice', channel: own.channel.name, data: (await onOwn).data });
  out('server_event', { who: 'alice', channel: drawing, data: (await onDrawingAlice).data });
  out('server_event', { who: 'bob', channel: drawing, data: (await onDrawingBob).data });

  // Excluding a socket: bob's own connection does not get the event it caused.
  const excluded = nextEvent(bobRoom.channel, 'excluded', 700).then(() => true, () => false);
  const included = nextEvent(aliceRoom.channel, 'excluded');
  await api.trigger(drawing, 'excluded', { n: 1 }, { socket_id: bob.connection.socket_id });
  out('server_event', { who: 'alice', channel: drawing, data: (await included).data });
  out('excluded', { who: 'bob', received: await excluded });

  // Client events: delivered to the others with the sender's user_id, never echoed.
  const echo = nextEvent(bobRoom.channel, 'client-cursor', 700).then(() => true, () => false);
  const got = nextEvent(aliceRoom.channel, 'client-cursor');
  bobRoom.channel.trigger('client-cursor', { x: 10, y: 20 });
  const cursor = await got;
  out('client_event', { who: 'alice', data: cursor.data, user_id: cursor.metadata?.user_id ?? null });
  out('client_echo', { who: 'bob', received: await echo });

  // Channel queries through the server library.
  const info = await api.get({ path: `/channels/${drawing}`, params: { info: 'user_count,subscription_count' } });
  out('channel_info', { status: info.status, body: await info.json() });
  const users = await api.get({ path: `/channels/${drawing}/users` });
  out('channel_users', { status: users.status, body: await users.json() });
  const list = await api.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
  out('channels', { status: list.status, body: await list.json() });

  // Bob leaves: alice sees member_removed.
  const removed = nextEvent(aliceRoom.channel, 'pusher:member_removed');
  bob.disconnect();
  const gone = (await removed).data;
  out('member_removed', { who: 'alice', id: gone.id, members: membersOf(aliceRoom.channel) });
  alice.disconnect();
}

async function publish() {
  const api = server();
  const watcher = client(null);
  await connected(watcher);
  const { channel } = await subscribe(watcher, 'news');
  const first = nextEvent(channel, 'batch-1');
  const second = nextEvent(channel, 'batch-2');
  const batch = await api.triggerBatch([
    { channel: 'news', name: 'batch-1', data: { n: 1 } },
    { channel: 'news', name: 'batch-2', data: 'plain text' },
  ]);
  out('batch', { status: batch.status, one: (await first).data, two: (await second).data });
  const withInfo = await api.trigger('news', 'counted', {}, { info: 'subscription_count' });
  out('trigger_info', { status: withInfo.status, body: await withInfo.json() });
  try {
    await server('not-the-secret').trigger('news', 'forged', {});
    out('bad_secret', { status: 200 });
  } catch (err) {
    out('bad_secret', { status: err.status ?? null, body: String(err.body ?? '') });
  }
  try {
    await api.trigger('news', 'big', 'x'.repeat(11 * 1024));
    out('too_large', { status: 200 });
  } catch (err) {
    out('too_large', { status: err.status ?? null });
  }
  watcher.disconnect();
}

// Subscribes to the user's own channel, creates a job over HTTP, and prints every job-progress
// event of that job until its final state.
async function jobEvents() {
  const pusher = client(config.token);
  await connected(pusher);
  const own = await subscribe(pusher, `private-user-${config.userId}`);
  out('subscribed', { channel: own.channel.name });
  const seen = [];
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  own.channel.bind('job-progress', (data) => {
    seen.push(data);
    out('job_progress', { data });
    if (['succeeded', 'failed', 'canceled'].includes(data.status)) finish(data);
  });
  const response = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${config.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(config.job),
  });
  const job = await response.json();
  out('created', { status: response.status, id: job.id ?? null });
  await withTimeout(finished, 60000, 'final job state');
  pusher.disconnect();
}

const scenarios = { protocol, publish, jobEvents };
try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  await scenarios[scenario]();
  out('done');
  process.exit(0);
} catch (err) {
  out('failed', { error: String(err?.stack ?? err) });
  process.exit(1);
}
