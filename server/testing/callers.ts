import type { Principal } from "../auth/principal";
import type { Role } from "../domain/access/permissions";
import { createCaller } from "../routers/_app";
import { contextFor } from "../trpc";

// In-process tRPC callers acting as a person with given roles (integration tests): the same
// procedures, guards and audit trail as over HTTP.

export function testPerson(roles: Role[], email = `${roles.join("-")}@rerank.test`): Principal {
  return { kind: "user", id: `test-${email}`, name: email, displayName: email, roles };
}

export function callerAs(roles: Role[], email?: string) {
  return createCaller(contextFor(testPerson(roles, email)));
}
