import { describe, expect, it } from "vitest";
import { MigrationError, preparationError } from "./migrate";

describe("preparationError (the steps after the migrations: job queue schema, partitions)", () => {
  it("says a lost connection in one line, and that the next run finishes (break test: SIGTERM during the job queue's migrations printed a pg error object)", () => {
    const lost = Object.assign(new Error("terminating connection due to administrator command\n    at Parser.parseErrorMessage"), { code: "57P01" });
    const error = preparationError("Migrating the job queue's schema", lost);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toBe("Migrating the job queue's schema stopped: the connection to PostgreSQL was lost (terminating connection due to administrator command); run again to finish");
    expect(preparationError("Creating the log's partitions", new Error("Connection terminated unexpectedly")).message).toContain("was lost");
  });
  it("names the step and the first line of any other error, and leaves a MigrationError as it is", () => {
    expect(preparationError("Creating the log's partitions", new Error("permission denied for schema public\nDETAIL: x")).message).toBe("Creating the log's partitions failed: permission denied for schema public");
    const own = new MigrationError("already one line");
    expect(preparationError("x", own)).toBe(own);
    expect(preparationError("x", "a string").message).toBe("x failed: a string");
  });
});
