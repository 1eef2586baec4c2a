import { getSessionCookie } from "better-auth/cookies";
import { NextResponse, type NextRequest } from "next/server";

// Next's proxy (formerly middleware) for console pages: a visitor with no session cookie goes to the
// sign-in page, to come back to the page asked for, before any page renders. Without it the page
// renders beside the layout's RedirectToSignIn, and its data calls fail with UNAUTHORIZED into the
// server log for every anonymous hit (probes, expired bookmarks). This is the optimistic check only:
// the console layout and every tRPC procedure still check the session itself (a stale cookie passes
// here and is refused there). API routes (/api/*) answer 401 themselves and are not matched.

/** Redirects a console page request without a session cookie to /sign-in?next=<path>. */
export function proxy(request: NextRequest) {
  if (getSessionCookie(request)) return NextResponse.next();
  const next = request.nextUrl.pathname + request.nextUrl.search;
  const url = request.nextUrl.clone();
  url.pathname = "/sign-in";
  url.search = `?next=${encodeURIComponent(next)}`;
  return NextResponse.redirect(url);
}

export const config = {
  // Every page except sign-in, the APIs, Next's own files and files with an extension (icons).
  matcher: ["/((?!api/|_next/|sign-in|.*\\.[a-zA-Z0-9]+$).*)"],
};
