import type { Actor } from "../audit/actor";

/** A person acting in a test, as sign-in would name them (kind "user", no row id). */
export function testActor(name = "test"): Actor {
  return { kind: "user", id: null, name };
}
