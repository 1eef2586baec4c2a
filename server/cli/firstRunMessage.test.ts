import { describe, expect, it } from "vitest";
import { firstRunLines, ignoredAdminSettingsLine } from "./firstRunMessage";

// Break test of issue 15: `db:migrate -- --first-admin` printed the demo serving key into the
// Kubernetes Job's logs, and `npm start` echoed an operator-set ADMIN_PASSWORD.

const credentials = { adminEmail: "admin@corp.test", adminPassword: "operator-chosen-secret", apiKey: "rk_live_demo_secret_key" };
const file = ".data/first-run-credentials.json";

describe("firstRunLines", () => {
  it("never prints a password the operator set, even in a terminal", () => {
    const text = firstRunLines(credentials, { operatorPassword: true, interactive: true, file }).join("\n");
    expect(text).not.toContain("operator-chosen-secret");
    expect(text).toContain("the ADMIN_PASSWORD you set");
    expect(text).toContain("rk_live_demo_secret_key"); // generated, shown once in a terminal
  });

  it("prints a generated password and key once in a terminal", () => {
    const text = firstRunLines(credentials, { operatorPassword: false, interactive: true, file }).join("\n");
    expect(text).toContain("operator-chosen-secret");
    expect(text).toContain("rk_live_demo_secret_key");
  });

  it("prints no secret at all in a container or a Job (no terminal): it says where they are", () => {
    for (const operatorPassword of [true, false]) {
      const text = firstRunLines(credentials, { operatorPassword, interactive: false, file }).join("\n");
      expect(text).not.toContain("operator-chosen-secret");
      expect(text).not.toContain("rk_live_demo_secret_key");
      expect(text).toContain(`only in ${file}`);
      expect(text).toContain("admin@corp.test");
    }
  });
});

describe("ignoredAdminSettingsLine", () => {
  it("says which of ADMIN_EMAIL / ADMIN_PASSWORD is ignored and where the existing sign-in is (they were silently ignored)", () => {
    expect(ignoredAdminSettingsLine({ adminEmail: false, adminPassword: false, credentialsFile: file })).toBeNull();
    const both = ignoredAdminSettingsLine({ adminEmail: true, adminPassword: true, credentialsFile: file })!;
    expect(both).toMatch(/^ADMIN_EMAIL and ADMIN_PASSWORD are ignored: this database already has people who sign in/);
    expect(both).toContain(`(the first start's sign-in is in ${file})`);
    expect(both).toContain("Users page");
    const one = ignoredAdminSettingsLine({ adminEmail: false, adminPassword: true, credentialsFile: null })!;
    expect(one).toMatch(/^ADMIN_PASSWORD is ignored: /);
    expect(one).not.toContain("first start's sign-in");
  });
});
