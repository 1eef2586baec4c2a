import net from "node:net";
import { once } from "node:events";
import getPort, { portNumbers } from "get-port";
import { describe, expect, it } from "vitest";
import { tryListen } from "./listenAddress";

describe("tryListen", () => {
  it("reports the system's code for a name that does not resolve, an address of another machine (TEST-NET-1, RFC 5737) and a taken port; null when free", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    expect((await tryListen("example.invalid", port))?.code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    expect((await tryListen("192.0.2.1", port))?.code).toBe("EADDRNOTAVAIL");
    expect(await tryListen("127.0.0.1", port)).toBeNull();
    const holder = net.createServer().listen(port, "127.0.0.1");
    await once(holder, "listening");
    try {
      expect((await tryListen("127.0.0.1", port))?.code).toBe("EADDRINUSE");
    } finally {
      holder.close();
    }
  });
});
