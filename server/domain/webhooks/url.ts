// A webhook endpoint's URL: what is accepted, and how it is shown. Incoming-webhook URLs are
// secrets themselves (Slack's carry the token in the path), so lists and the audit trail show
// them masked; only the delivery reads the whole URL.

export const MAX_WEBHOOK_URL_LENGTH = 2000;

/**
 * Why `raw` cannot be a webhook URL, or null when it can: an absolute http:// or https:// URL with
 * a host, no fragment, at most 2,000 characters. (Where it may point is checked at delivery, on the
 * resolved address: server/webhooks/address.ts.)
 */
export function webhookUrlProblem(raw: string): string | null {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL such as https://hooks.example.com/rerank";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must start with http:// or https://, not ${url.protocol}//`;
  if (!url.hostname) return "must name a host";
  if (url.hash) return "must not have a #fragment";
  return null;
}

/**
 * The URL as lists and the audit trail show it: scheme, host and port; any path, query or
 * user:password becomes "/…". No part of the path is kept, since any part may be the secret: Slack's
 * token is its last segments, ntfy's topic its only one, Telegram's bot token its first.
 * `https://hooks.slack.com/services/T0/B0/xyz` → `https://hooks.slack.com/…`; an unparsable URL → "…".
 */
export function maskWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "…";
  }
  const hidden = url.pathname !== "/" || url.search !== "" || url.username !== "" || url.password !== "";
  return `${url.protocol}//${url.host}${hidden ? "/…" : ""}`;
}
