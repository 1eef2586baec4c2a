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

  it("masks all but scheme, host and port: no path segment, query or user:password, since any may be the token", () => {
    // Break test: a one-segment URL whose only segment is the secret (an ntfy topic) was shown whole.
    expect(maskWebhookUrl("https://ntfy.sh/corp-alerts-s3cr3tT0ken")).toBe("https://ntfy.sh/…");
    expect(maskWebhookUrl("https://hooks.slack.com/services/T0/B0/xyz")).toBe("https://hooks.slack.com/…");
    expect(maskWebhookUrl("https://api.telegram.org/bot123456:AAHsecret/sendMessage?chat_id=42")).toBe("https://api.telegram.org/…");
    expect(maskWebhookUrl("https://ops.example.com/hook?token=abc")).toBe("https://ops.example.com/…");
    expect(maskWebhookUrl("https://ops.example.com/?token=abc")).toBe("https://ops.example.com/…");
    expect(maskWebhookUrl("https://user:pw@ops.example.com:8443/hook")).toBe("https://ops.example.com:8443/…");
    expect(maskWebhookUrl("https://user:pw@ops.example.com")).toBe("https://ops.example.com/…");
    expect(maskWebhookUrl("http://127.0.0.1:3111/h")).toBe("http://127.0.0.1:3111/…");
    expect(maskWebhookUrl("https://ops.example.com")).toBe("https://ops.example.com");
    expect(maskWebhookUrl("https://ops.example.com/")).toBe("https://ops.example.com");
    expect(maskWebhookUrl("not a url")).toBe("…");
    for (const url of ["https://ntfy.sh/corp-alerts-s3cr3tT0ken", "https://a.example/s3cr3tT0ken/x", "https://a.example/x?k=s3cr3tT0ken", "https://s3cr3tT0ken:x@a.example/"]) {
      expect(maskWebhookUrl(url)).not.toContain("s3cr3tT0ken");
    }
  });
});
