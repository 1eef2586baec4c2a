// The one reading of a date given as text (an API's `at`, `before`, `from`, `to`, a page's `?at=`):
// strict ISO 8601, a calendar date ("2026-11-28", midnight UTC) or a date-time with its offset
// ("2026-11-28T14:02Z", "2026-11-28T14:02:05.123+01:00"). `new Date(text)` also accepts "12"
// (December 2001), "2026-02-30" (2 March) and trailing garbage; a time without its offset is read
// in the server's zone, which nobody who typed it meant.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](\d{2}):(\d{2}))$/;

/** What an ISO 8601 instant looks like, for error messages. */
export const ISO_INSTANT_HINT = "an ISO 8601 date (2026-11-28) or date-time with its offset (2026-11-28T14:02:00Z)";

/**
 * The instant `text` names, or null when it is not strict ISO 8601 (see above) or names a day or
 * time that does not exist (30 February, 24:00, minute 60, an offset beyond ±23:59).
 */
export function parseIsoInstant(text: string): Date | null {
  const date = DATE.exec(text);
  const full = date ? null : DATE_TIME.exec(text);
  const m = date ?? full;
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = full ? [Number(full[4]), Number(full[5]), Number(full[6] ?? 0)] : [0, 0, 0];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const midnight = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 30 February over to March: a day that does not exist comes back different.
  midnight.setUTCFullYear(year);
  if (midnight.getUTCMonth() !== month - 1 || midnight.getUTCDate() !== day) return null;
  if (!full) return midnight;
  const ms = Number((full[7] ?? "").padEnd(3, "0").slice(0, 3));
  let offsetMinutes = 0;
  if (full[8] !== "Z") {
    const [oh, om] = [Number(full[9]), Number(full[10])];
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (full[8]!.startsWith("-") ? -1 : 1) * (oh * 60 + om);
  }
  return new Date(midnight.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offsetMinutes * 60_000);
}
