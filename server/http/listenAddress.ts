import net from "node:net";

// Whether the server can listen where it is told to (HOST, PORT), asked before anything is started:
// `npm start` asks before it starts a database or builds, the server's primary before it forks its
// workers. A bad HOST (a name that does not resolve, an address of another machine) made every
// worker fail at listen after its minute of start-up, and the primary restart them with backoff for
// the start's whole 240 s (break test); now it is one line naming the setting, its value and the
// system's error code, and exit 1.

/** Which settings the host and port came from, as the message names them: `HOST`/`PORT`, or the start's `--host`/`--port`. */
export interface ListenSettings {
  host: "HOST" | "--host";
  port: "PORT" | "--port";
}

const ENV_SETTINGS: ListenSettings = { host: "HOST", port: "PORT" };

/**
 * Listens on host:port exclusively (not through a cluster's shared handle) and closes again at once.
 * Port 0 checks the host alone (any free port).
 * @returns null when it could, else the error: its `code` is the system's (ENOTFOUND, EAI_AGAIN,
 *   EADDRNOTAVAIL, EADDRINUSE, EACCES, …).
 */
export function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

/**
 * The one line (without a log prefix) that says why the server cannot listen on host:port, naming
 * the setting to change, its value and the system's error code. Pure.
 * @param error a listen error (`code` as node:net reports it; `message` used for codes not named here).
 * @param port the requested port, or 0 when none was (only the host was checked).
 */
export function listenFailure(error: { code?: string; message: string }, host: string, port: number, settings: ListenSettings = ENV_SETTINGS): string {
  const hostIs = settings.host === "HOST" ? `HOST=${host}` : `--host ${host}`;
  const portIs = settings.port === "PORT" ? `PORT=${port}` : `--port ${port}`;
  const fixHost = "set HOST (or --host) to an address of this machine, such as 127.0.0.1, 0.0.0.0 (every IPv4 interface) or :: (every interface)";
  const fixPort = "set PORT (or --port) to a free port";
  switch (error.code) {
    case "ENOTFOUND":
    case "EAI_NONAME":
      return `cannot listen on ${hostIs}: no such host name (${error.code}): ${fixHost}`;
    case "EAI_AGAIN":
      return `cannot listen on ${hostIs}: the name did not resolve (EAI_AGAIN: no answer from DNS): ${fixHost}`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${hostIs}: it is not an address of this machine (EADDRNOTAVAIL): ${fixHost}`;
    case "EAFNOSUPPORT":
      return `cannot listen on ${hostIs}: this machine has no network of that address family (EAFNOSUPPORT; IPv6 disabled?): ${fixHost}`;
    case "EADDRINUSE":
      return `cannot listen on ${hostIs} ${portIs}: the port is in use by another process (EADDRINUSE): stop it, or ${fixPort}`;
    case "EACCES":
      return `cannot listen on ${hostIs} ${portIs}: permission denied (EACCES; ports below 1024 need root or CAP_NET_BIND_SERVICE): ${fixPort} of 1024 or above`;
    default:
      return `cannot listen on ${hostIs}${port ? ` ${portIs}` : ""}: ${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ""}`;
  }
}
