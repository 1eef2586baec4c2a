import { describe, expect, it } from "vitest";
import { changedSince } from "./changedSince";

describe("changedSince: the 409 of a pinned lever", () => {
  it("says what the page showed and what is there now, and what to do (shown)", () => {
    expect(changedSince({ what: "stage 2 of search", change: { shown: "none", now: "m production over the top 10 within 100 ms" }, since: "shown" }))
      .toBe("stage 2 of search changed since it was shown (it showed none, it is now m production over the top 10 within 100 ms): not applied over it; look at it again and decide");
  });

  it("says the request is stale and to file a new one (filed)", () => {
    expect(changedSince({ what: "t-model production", change: { shown: "v1", now: "v4" }, since: "filed" }))
      .toBe("t-model production changed since the request was filed (it showed v1, it is now v4): not applied over it; file a new request if the change is still wanted");
  });

  it("says what was read and to reload (read): no outcome", () => {
    expect(changedSince({ what: "move of production refused: t-model production", change: { shown: "unset", now: "v2" }, since: "read" }))
      .toBe("move of production refused: t-model production changed since it was read (was unset, now v2); reload and check");
  });

  it("speaks of several things as they (plural)", () => {
    expect(changedSince({ what: "the roles of ana@corp.test", change: { shown: "Viewer, ML engineer", now: "Viewer" }, since: "shown", plural: true }))
      .toBe("the roles of ana@corp.test changed since they were shown (it showed Viewer, ML engineer, they are now Viewer): not applied over them; look at them again and decide");
    expect(changedSince({ what: "the ship checks of exp", change: { differences: ["now also: a guardrail"] }, since: "shown", plural: true, outcome: "not shipped over them" }))
      .toBe("the ship checks of exp changed since they were shown (now also: a guardrail): not shipped over them; look at them again and decide");
  });

  it("names each field that changed, or lists the differences as given", () => {
    expect(changedSince({ what: 'webhook "ops"', change: { fields: [{ field: "events", shown: "a, b", now: "b" }, { field: "enabled", shown: "on", now: "off" }] }, since: "shown" }))
      .toBe('webhook "ops" changed since it was shown (events: it showed a, b, it is now b; enabled: it showed on, it is now off): not applied over it; look at it again and decide');
    expect(changedSince({ what: 'experiment "e"', change: { differences: ["phase 1 → 2", "variants"] }, since: "filed", outcome: "not restarted", next: "file a new request for it as it is now" }))
      .toBe('experiment "e" changed since the request was filed (phase 1 → 2, variants): not restarted; file a new request for it as it is now');
  });

  it("takes the lever's own outcome and next step", () => {
    expect(changedSince({ what: 'experiment "e"', change: { shown: "phase 1", now: "phase 2" }, since: "shown", outcome: "no request filed", next: "look at its results again and decide" }))
      .toBe('experiment "e" changed since it was shown (it showed phase 1, it is now phase 2): no request filed; look at its results again and decide');
  });
});
