// Where the sign-in page sends a person afterwards: only a path of this console. A sign-in link
// must not bounce anyone to another site ("open redirect"): "//evil.example", "/\evil.example"
// (browsers read a backslash as a slash), "https://…", control characters and the like go home.

const BASE = "http://console.invalid";

/** `next` when it is a same-origin path (with its query), else "/". */
export function safeNextPath(next: string | undefined | null): string {
  if (!next || !next.startsWith("/") || /[\\\u0000-\u001f\u007f]/.test(next) || next.startsWith("//")) return "/";
  try {
    const url = new URL(next, BASE);
    if (url.origin !== BASE) return "/";
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return "/";
  }
}
