import { describe, expect, it } from "vitest";
import { urlFor } from "./listenUrl";

describe("urlFor", () => {
  it("reaches wildcard addresses on loopback and brackets IPv6 (HOST=:: built http://:::3452)", () => {
    expect(urlFor("127.0.0.1", 3000)).toBe("http://127.0.0.1:3000");
    expect(urlFor("0.0.0.0", 3000)).toBe("http://localhost:3000");
    expect(urlFor("::", 3452)).toBe("http://[::1]:3452");
    expect(urlFor("::1", 3452)).toBe("http://[::1]:3452");
    expect(urlFor("fe80::1", 80)).toBe("http://[fe80::1]:80");
    expect(urlFor("console.internal", 8080)).toBe("http://console.internal:8080");
  });
});
