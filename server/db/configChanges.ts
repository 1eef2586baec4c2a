import { randomBytes } from "node:crypto";
import pg from "pg";
import { databaseUrl } from "./client";
import { inUtc } from "./pgClient";

// One PostgreSQL listener per process for config changes: triggers NOTIFY "rerank_config" in the
// transaction that changes a surface, alias, experiment, rollout, API key or person (migration
// 20261129140000_config_notify), and this connection hands each notification's topic to the caches
// that subscribed. When the connection drops it reconnects with backoff (100 ms doubling to 5 s);
// what changed meanwhile is unknown, so every subscriber hears "resync" once it is back. While it
// is down the caches fall back on their own polling (CONFIG_WATCH_INTERVAL_MS).
//
// A connection can also stay open and deliver nothing (a stopped backend, a NAT that drops the flow
// silently, a pooler in between): no error, no end. So the listener NOTIFYs a channel of its own
// every HEARTBEAT_INTERVAL_MS on the same connection; when its own heartbeat has not come back
// within HEARTBEAT_DEADLINE_MS it counts itself down (configListenerUp() false: the caches poll
// fast again), drops the connection and reconnects.

const CHANNEL = "rerank_config";
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** How often the listener notifies itself (ms). */
export const HEARTBEAT_INTERVAL_MS = 250;
/** A listener whose own heartbeat has not arrived for this long is counted down (ms). */
export const HEARTBEAT_DEADLINE_MS = 2_000;

/** "surfaces" and "api_keys" come from the triggers; "resync" follows a (re)connection, after which anything may have changed. */
export type ConfigTopic = "surfaces" | "api_keys" | "resync";

type Subscriber = (topic: ConfigTopic) => void;

interface Listener {
  url: string;
  client: pg.Client | null;
  connected: boolean;
  stopped: boolean;
  backoffMs: number;
  retry: NodeJS.Timeout | undefined;
  subscribers: Set<Subscriber>;
  /** Connections made so far (tests watch it to see a reconnection). */
  connections: number;
  /** This listener's own heartbeat channel. */
  heartbeatChannel: string;
  /** When its last heartbeat (or the connection) arrived (Date.now()). */
  lastHeartbeat: number;
  heartbeat: NodeJS.Timeout | undefined;
  /** Times the listener counted itself down because its heartbeat did not come back. */
  silences: number;
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankConfigListener?: Listener };

/**
 * Calls `subscriber` with the topic of every config change any process commits, and with "resync"
 * after the listener (re)connects. Starts the listener on first use (when DATABASE_URL is set).
 * @returns a function that unsubscribes.
 */
export function onConfigChange(subscriber: Subscriber): () => void {
  const listener = ensureListener();
  listener?.subscribers.add(subscriber);
  return () => listener?.subscribers.delete(subscriber);
}

/** Whether this process is listening now: false while the connection is down (or was never made). */
export function configListenerUp(): boolean {
  return holder.__rerankConfigListener?.connected ?? false;
}

/** How many times the listener has connected (1 after the first connection; more after reconnections). */
export function configListenerConnections(): number {
  return holder.__rerankConfigListener?.connections ?? 0;
}

/** The listener connection's backend pid (tests terminate it to prove the reconnection). */
export function configListenerPid(): number | null {
  const client = holder.__rerankConfigListener?.client as (pg.Client & { processID?: number }) | null | undefined;
  return holder.__rerankConfigListener?.connected ? (client?.processID ?? null) : null;
}

/** How many times the listener found its connection silent (heartbeat missing) and reconnected. */
export function configListenerSilences(): number {
  return holder.__rerankConfigListener?.silences ?? 0;
}

/** Closes the listener (tests, shutdown); the next onConfigChange opens a new one. */
export async function stopConfigListener(): Promise<void> {
  const listener = holder.__rerankConfigListener;
  holder.__rerankConfigListener = undefined;
  if (!listener) return;
  listener.stopped = true;
  clearTimeout(listener.retry);
  clearInterval(listener.heartbeat);
  await listener.client?.end().catch(() => {});
}

function ensureListener(): Listener | null {
  let url: string;
  try {
    url = databaseUrl();
  } catch {
    return null; // no database (e.g. `next build`): nothing to listen to
  }
  const current = holder.__rerankConfigListener;
  if (current && current.url === url) return current;
  if (current) void stopConfigListener();
  const listener: Listener = { url, client: null, connected: false, stopped: false, backoffMs: MIN_BACKOFF_MS, retry: undefined, subscribers: new Set(), connections: 0,
    heartbeatChannel: `rerank_config_hb_${randomBytes(6).toString("hex")}`, lastHeartbeat: 0, heartbeat: undefined, silences: 0 };
  holder.__rerankConfigListener = listener;
  connect(listener);
  return listener;
}

function connect(listener: Listener): void {
  const client = new pg.Client(inUtc({ connectionString: listener.url, application_name: "rerank-config-listener", keepAlive: true }));
  listener.client = client;
  let failed = false;
  const fail = () => {
    if (failed) return;
    failed = true;
    listener.connected = false;
    clearInterval(listener.heartbeat);
    client.removeAllListeners("notification");
    client.end().catch(() => {});
    if (listener.stopped) return;
    listener.retry = setTimeout(() => connect(listener), listener.backoffMs);
    listener.retry.unref();
    listener.backoffMs = Math.min(MAX_BACKOFF_MS, listener.backoffMs * 2);
  };
  client.on("error", fail);
  client.on("end", fail);
  client.on("notification", (message) => {
    if (message.channel === listener.heartbeatChannel) listener.lastHeartbeat = Date.now();
    else if (message.channel === CHANNEL && (message.payload === "surfaces" || message.payload === "api_keys")) publish(listener, message.payload);
  });
  client
    .connect()
    .then(() => client.query(`LISTEN ${CHANNEL}; LISTEN ${listener.heartbeatChannel}`))
    .then(() => {
      if (listener.stopped) return void client.end().catch(() => {});
      // The connection must not keep a process alive that has nothing else to do (CLIs, tests).
      (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      listener.connected = true;
      listener.connections++;
      listener.backoffMs = MIN_BACKOFF_MS;
      listener.lastHeartbeat = Date.now();
      listener.heartbeat = setInterval(() => {
        if (Date.now() - listener.lastHeartbeat > HEARTBEAT_DEADLINE_MS) {
          // Open but silent: count down now (the caches poll fast), then drop the connection and reconnect.
          listener.silences++;
          listener.connected = false;
          (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
          fail();
          return;
        }
        client.query(`NOTIFY ${listener.heartbeatChannel}`).catch(() => {});
      }, HEARTBEAT_INTERVAL_MS);
      listener.heartbeat.unref();
      publish(listener, "resync");
    })
    .catch(fail);
}

function publish(listener: Listener, topic: ConfigTopic): void {
  for (const subscriber of listener.subscribers) {
    try {
      subscriber(topic);
    } catch {
      // one cache's fault must not keep the others from hearing of the change
    }
  }
}
