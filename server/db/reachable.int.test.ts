import { describe, expect, it } from "vitest";
import { databaseUrl } from "./client";
import { checkReachable } from "./embedded";

// First-run break test: a wrong DATABASE_URL was reported as a bare SQLSTATE ("…: 28P01"). Real
// failures against the integration run's server (127.0.0.1:5432 with trust authentication in CI, or
// the throwaway embedded one) and a closed port.

const base = new URL(databaseUrl());
const server = base.host;
const urlWith = (change: (url: URL) => void) => {
  const url = new URL(base);
  change(url);
  return url.toString();
};

describe("checkReachable", () => {
  it("says in words that nothing listens on a closed port", async () => {
    const problem = await checkReachable("postgresql://postgres:s3cret-pw@127.0.0.1:4129/rerank");
    expect(problem).toEqual({
      code: "ECONNREFUSED",
      message: "Cannot reach PostgreSQL at 127.0.0.1:4129 (DATABASE_URL): nothing is listening there (ECONNREFUSED): start PostgreSQL or fix the port in DATABASE_URL, or unset DATABASE_URL to use the embedded one",
    });
  });

  it("names a database that does not exist", async () => {
    const problem = await checkReachable(urlWith((u) => (u.pathname = "/rerank_no_such_database")));
    expect(problem).toEqual({
      code: "3D000",
      message: `Cannot reach PostgreSQL at ${server} (DATABASE_URL): database "rerank_no_such_database" does not exist (3D000): create it, or fix its name in DATABASE_URL`,
    });
  });

  it("names a user that cannot sign in, and never echoes the password", async () => {
    const problem = await checkReachable(urlWith((u) => {
      u.username = "rerank_no_such_role";
      u.password = "s3cret-pw";
    }));
    // Trust authentication says the role is missing (28000); password authentication says the password is wrong (28P01).
    expect(problem?.message).toMatch(new RegExp(`^Cannot reach PostgreSQL at ${server.replaceAll(".", "\\.")} \\(DATABASE_URL\\): (user "rerank_no_such_role" has no access from this host \\(28000|wrong password for user "rerank_no_such_role" \\(28P01)`));
    expect(problem?.message).not.toContain("s3cret");
  });

  it("is null for a server that answers", async () => {
    expect(await checkReachable(databaseUrl())).toBeNull();
  });
});
