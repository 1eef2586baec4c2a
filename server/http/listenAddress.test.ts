import { describe, expect, it } from "vitest";
import { isLinkLocalIpv6, listenFailure, listeningInodes, type PortHolder } from "./listenAddress";

describe("listenFailure", () => {
  it("names the setting, its value and the system's code, and says what to set (a bad HOST crash-looped the workers for 240 s)", () => {
    expect(listenFailure({ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND example.invalid" }, "example.invalid", 3000)).toBe(
      "cannot listen on HOST=example.invalid: no such host name (ENOTFOUND): set HOST (or --host) to an address of this machine, such as 127.0.0.1, 0.0.0.0 (every IPv4 interface) or :: (every interface)",
    );
    expect(listenFailure({ code: "EADDRNOTAVAIL", message: "listen EADDRNOTAVAIL" }, "10.9.9.9", 3000)).toMatch(/^cannot listen on HOST=10\.9\.9\.9: it is not an address of this machine \(EADDRNOTAVAIL\): set HOST/);
    expect(listenFailure({ code: "EADDRINUSE", message: "listen EADDRINUSE" }, "127.0.0.1", 3000)).toBe(
      "cannot listen on HOST=127.0.0.1 PORT=3000: the port is in use by another process (EADDRINUSE): stop it, or set PORT (or --port) to a free port",
    );
    expect(listenFailure({ code: "EACCES", message: "listen EACCES" }, "0.0.0.0", 80)).toMatch(/^cannot listen on HOST=0\.0\.0\.0 PORT=80: permission denied \(EACCES; .*\): set PORT \(or --port\) to a free port of 1024 or above$/);
    expect(listenFailure({ code: "EWHATEVER", message: "something odd" }, "127.0.0.1", 3000)).toBe("cannot listen on HOST=127.0.0.1 PORT=3000: something odd (EWHATEVER)");
  });

  it("names the start's flags when the address came from them", () => {
    const line = listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3456, { host: "--host", port: "--port" });
    expect(line).toMatch(/^cannot listen on --host 127\.0\.0\.1 --port 3456: the port is in use/);
  });
});

describe("a port that is taken, and who holds it", () => {
  const none: PortHolder = { pid: null, command: null, console: null, startPid: null };
  it("names a Rerank Console left there, with its pid and the npm start to stop (it said only 'port in use')", () => {
    const line = listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3000, undefined, { pid: 120, command: "node --import tsx server/http/main.ts", console: { version: "0.4.0" }, startPid: 100 });
    expect(line).toBe("cannot listen on HOST=127.0.0.1 PORT=3000: a Rerank Console 0.4.0 already runs there (EADDRINUSE; pid 120, run by npm start pid 100): stop it (Ctrl-C in its terminal, or kill 100), or set PORT (or --port) to a free port");
    // A leftover whose start is gone: its own pid is the one to stop.
    expect(listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3000, undefined, { pid: 120, command: null, console: { version: null }, startPid: null })).toMatch(
      /a Rerank Console already runs there \(EADDRINUSE; pid 120\): stop it \(Ctrl-C in its terminal, or kill 120\), or set PORT/,
    );
    // Another user's console (its pid unseen): still named.
    expect(listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3000, undefined, { ...none, console: { version: "0.4.0" } })).toMatch(/a Rerank Console 0\.4\.0 already runs there \(EADDRINUSE\): stop it \(Ctrl-C in its terminal\), or set PORT/);
  });
  it("names another program's pid and command when it can be seen", () => {
    expect(listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3000, undefined, { ...none, pid: 77, command: "python3 -m http.server 3000" })).toBe(
      "cannot listen on HOST=127.0.0.1 PORT=3000: the port is in use by another process (EADDRINUSE; pid 77: python3 -m http.server 3000): stop it, or set PORT (or --port) to a free port",
    );
    expect(listenFailure({ code: "EADDRINUSE", message: "" }, "127.0.0.1", 3000, undefined, none)).toMatch(/in use by another process \(EADDRINUSE\): stop it/);
  });
  it("reads the listening sockets of a port from /proc/net/tcp and tcp6 (any address), skipping connections", () => {
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0",
      "   1: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1",
      "   2: 00000000:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0",
    ].join("\n");
    expect(listeningInodes(tcp, 3000)).toEqual([4242]);
    expect(listeningInodes(tcp, 3001)).toEqual([4444]);
    expect(listeningInodes("   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 5555 1", 3000)).toEqual([]); // no header line: the first line is skipped
    expect(listeningInodes("header\n   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 5555 1", 3000)).toEqual([5555]);
  });
});

describe("a link-local IPv6 HOST", () => {
  it("says it needs a zone id and what to set instead, naming HOST (a bare EINVAL before)", () => {
    expect(isLinkLocalIpv6("fe80::1")).toBe(true);
    expect(isLinkLocalIpv6("FEBF::a")).toBe(true);
    expect(isLinkLocalIpv6("fe80::1%eth0")).toBe(false);
    expect(isLinkLocalIpv6("fec0::1")).toBe(false);
    expect(isLinkLocalIpv6("::1")).toBe(false);
    expect(listenFailure({ code: "EINVAL", message: "listen EINVAL: invalid argument fe80::1" }, "fe80::1", 3000)).toBe(
      "cannot listen on HOST=fe80::1: a link-local IPv6 address (fe80::/10) needs a zone id naming its interface, such as fe80::1%eth0 (EINVAL), and the console's addresses take none: set HOST (or --host) to :: (every interface, this one included), 127.0.0.1, or another address of this machine",
    );
    expect(listenFailure({ code: "EINVAL", message: "listen EINVAL" }, "fe80::1", 3000, { host: "--host", port: "PORT" })).toMatch(/^cannot listen on --host fe80::1: a link-local/);
    expect(listenFailure({ code: "EINVAL", message: "listen EINVAL" }, "1.2.3.4", 0)).toMatch(/^cannot listen on HOST=1\.2\.3\.4: not an address this machine can listen on \(EINVAL\): set HOST/);
  });
});
