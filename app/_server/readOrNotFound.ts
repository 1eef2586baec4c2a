import { notFound } from "next/navigation";

// A console page about one thing named by its URL (/models/[name], /experiments/[key], a version) reads
// it with the server caller; a read that answers "no such thing" is the page's 404 (Next's notFound(),
// rendered by the nearest not-found.tsx, which says what was not found), not an uncaught error that
// Next answers with a 500 ("This page couldn't load").

/**
 * Whether `error` is a read's answer that what the URL names is not there: NOT_FOUND, or BAD_REQUEST
 * (a path part that cannot name one: version "abc", a key past its length). Read from the error's
 * `code` (a TRPCError's, or a domain error's), never its class: Next bundles its own copies of both.
 */
export function namesNothing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "NOT_FOUND" || code === "BAD_REQUEST";
}

/**
 * Awaits a page's read of the thing its URL names: its value, or Next's notFound() (HTTP 404) when the
 * read answers that nothing by that name exists (namesNothing). Any other error is thrown as it is.
 */
export async function readOrNotFound<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (namesNothing(error)) notFound();
    throw error;
  }
}

/**
 * A version number of a URL (/models/[name]/v/[version]): a positive integer written plainly ("3"),
 * else Next's notFound(): "abc", "1.5", "1e1" and "03" name no version page.
 */
export function versionOrNotFound(text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) notFound();
  return Number(text);
}
