// The one realtime client: the real pusher-js (vendored) against atelier's own Pusher-protocol
// server on this origin (`/app/{key}` WebSocket, `/pusher/auth` signing subscriptions with the
// session cookie). One connection per page load, shared by every page.
import '../vendor/pusher-js/pusher.min.js';
import { get } from './api.js';

let client = null;
let connecting = null;

/** The shared pusher-js client (connected lazily). */
export async function pusher() {
  if (client) return client;
  if (!connecting) {
    connecting = get('/api/v1/web/config').then((config) => {
      const Pusher = self.Pusher;
      Pusher.logToConsole = false;
      const secure = location.protocol === 'https:';
      const port = Number(location.port) || (secure ? 443 : 80);
      client = new Pusher(config.pusher_key, {
        cluster: 'atelier',
        wsHost: location.hostname,
        wsPort: port,
        wssPort: port,
        forceTLS: secure,
        enabledTransports: [secure ? 'wss' : 'ws'],
        disableStats: true,
        channelAuthorization: {
          endpoint: '/pusher/auth',
          transport: 'ajax',
          headers: { 'X-Atelier-CSRF': '1' },
        },
      });
      return client;
    });
  }
  return connecting;
}

/** The current socket id (sent with writes so the sender is not echoed), or undefined. */
export function socketId() {
  return client && client.connection.socket_id ? client.connection.socket_id : undefined;
}

/**
 * Subscribes to `name` and binds `handlers` ({event: fn}); returns an unsubscribe function.
 * `onstate(state)` hears connection changes ('connected', 'unavailable', …).
 */
export async function subscribe(name, handlers, onstate) {
  const p = await pusher();
  const channel = p.subscribe(name);
  for (const [event, fn] of Object.entries(handlers)) channel.bind(event, fn);
  const stateHandler = onstate ? (states) => onstate(states.current) : null;
  if (stateHandler) p.connection.bind('state_change', stateHandler);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) channel.unbind(event, fn);
    if (stateHandler) p.connection.unbind('state_change', stateHandler);
    p.unsubscribe(name);
  };
}

/** Subscribes to the signed-in user's job progress (`job-progress` events). */
export function onJobProgress(userId, fn) {
  return subscribe(`private-user-${userId}`, { 'job-progress': fn });
}
