import { describe, expect, it } from "vitest";
import { listenFailure } from "./listenAddress";

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
