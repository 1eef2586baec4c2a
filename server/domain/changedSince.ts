// The 409 of a pinned lever: what the person (or the request they filed, or the read a lever acted on)
// saw is no longer what is there, so the lever does not apply over a change they never saw. One
// sentence for every lever, so that each refusal reads alike and says what to do next.

/**
 * Who pinned what a lever compared: the page that showed it ("shown": a dialog's Save, Ship, Start),
 * an approved change request ("filed": its summary showed it), or a read a lever acted on ("read":
 * an alias's version read by a rollback or a canary start).
 */
export type PinnedBy = "shown" | "filed" | "read";

/**
 * How it changed: the whole in words (`shown`, `now`: "v3", "none", "Viewer, On-call"); or each field
 * that changed (`fields`: the webhook's name, events…); or the differences already in words
 * (`differences`: "phase 1 → 2", "variants"; "now also: a sample-ratio mismatch").
 */
export type PinChange =
  | { shown: string; now: string }
  | { fields: ReadonlyArray<{ field: string; shown: string; now: string }> }
  | { differences: readonly string[] };

export interface BrokenPin {
  /** The subject, as the sentence starts: `stage 2 of search`, `the roles of ana@corp`, `search-ranker production`. */
  what: string;
  change: PinChange;
  since: PinnedBy;
  /** `what` names several things ("the roles of …", "the ship checks of …"): they, not it. */
  plural?: boolean;
  /** What did not happen (default "not applied over it", or "… over them"); a "read" refusal names none. */
  outcome?: string;
  /** What to do now (default: "shown": "look at it again and decide"; "filed": "file a new request if the change is still wanted"; "read": "reload and check"). */
  next?: string;
}

/**
 * The refusal's sentence:
 * - shown: `stage 2 of search changed since it was shown (it showed A, it is now B): not applied over it; look at it again and decide`
 * - filed: `stage 2 of search changed since the request was filed (it showed A, it is now B): not applied over it; file a new request if the change is still wanted`
 * - read: `search-ranker production changed since it was read (was v3, now v4); reload and check`
 *
 * With `fields`, each field's change is named in the parentheses ("events: it showed A, it is now B;
 * enabled: …"); with `differences`, they are listed as given ("phase 1 → 2, variants").
 */
export function changedSince(pin: BrokenPin): string {
  const it = pin.plural ? { it: "they", was: "were", is: "are", obj: "them" } : { it: "it", was: "was", is: "is", obj: "it" };
  const read = pin.since === "read";
  const one = (shown: string, now: string) => (read ? `was ${shown}, now ${now}` : `it showed ${shown}, ${it.it} ${it.is} now ${now}`);
  const change = pin.change;
  const how = "differences" in change
    ? change.differences.join(", ")
    : "fields" in change
      ? change.fields.map((f) => `${f.field}: ${one(f.shown, f.now)}`).join("; ")
      : one(change.shown, change.now);
  if (read) return `${pin.what} changed since ${it.it} ${it.was} read (${how}); ${pin.next ?? "reload and check"}`;
  const when = pin.since === "filed" ? "the request was filed" : `${it.it} ${it.was} shown`;
  const next = pin.next ?? (pin.since === "filed" ? "file a new request if the change is still wanted" : `look at ${it.obj} again and decide`);
  return `${pin.what} changed since ${when} (${how}): ${pin.outcome ?? `not applied over ${it.obj}`}; ${next}`;
}
