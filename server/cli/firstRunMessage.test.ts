import { describe, expect, it } from "vitest";
import { firstRunLines } from "./firstRunMessage";

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
