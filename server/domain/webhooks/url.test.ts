import { describe, expect, it } from "vitest";
import { maskWebhookUrl, webhookUrlProblem } from "./url";

describe("webhook URLs", () => {
  it("accepts absolute http and https URLs, refusing others with the reason", () => {
    expect(webhookUrlProblem("https://hooks.slack.com/services/T0/B0/xyz")).toBeNull();
    expect(webhookUrlProblem("http://10.0.0.5:8080/alerts")).toBeNull();
    expect(webhookUrlProblem("http://[::1]:3000/h")).toBeNull();
    expect(webhookUrlProblem("ftp://x.example/h")).toBe("must start with http:// or https://, not ftp://");
    expect(webhookUrlProblem("javascript:alert(1)")).toBe("must start with http:// or https://, not javascript://");
    expect(webhookUrlProblem("file:///etc/passwd")).toBe("must start with http:// or https://, not file://");
    expect(webhookUrlProblem("/relative")).toBe("must be an absolute URL such as https://hooks.example.com/rerank");
    expect(webhookUrlProblem("https://x.example/h#frag")).toBe("must not have a #fragment");
    expect(webhookUrlProblem(`https://x.example/${"a".repeat(2000)}`)).toBe("must be at most 2000 characters");
  });

  it("masks all but scheme, host and the first path segment", () => {
    expect(maskWebhookUrl("https://hooks.slack.com/services/T0/B0/xyz")).toBe("https://hooks.slack.com/services/…");
    expect(maskWebhookUrl("https://ops.example.com/hook?token=abc")).toBe("https://ops.example.com/hook/…");
    expect(maskWebhookUrl("https://user:pw@ops.example.com:8443/hook")).toBe("https://ops.example.com:8443/hook/…");
    expect(maskWebhookUrl("http://127.0.0.1:3111/h")).toBe("http://127.0.0.1:3111/h");
    expect(maskWebhookUrl("https://ops.example.com")).toBe("https://ops.example.com");
    expect(maskWebhookUrl("not a url")).toBe("…");
  });
});
