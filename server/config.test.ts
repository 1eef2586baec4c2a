import { withoutPassword } from "./config";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, SETTINGS, authSecret, env, isConfigError, parseEnv, resetEnv, setEnv } from "./config";

const problemOf = (source: Record<string, string>) => {
  try {
    parseEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("parseEnv: defaults", () => {
  it("gives every setting its default when nothing is set", () => {
    const e = parseEnv({});
    expect(e).toMatchObject({
      DATABASE_URL: undefined,
      DATABASE_POOL_SIZE: 10,
      PORT: undefined,
      HOST: "127.0.0.1",
      ALLOWED_HOSTS: undefined,
      SERVING_AUTH: "on",
      METRICS_AUTH: "off",
      AUTH_SECRET: undefined,
      DEBUG_MASKED_FIELDS: ["userKey", "sessionKey"],
      MODEL_MAX_BYTES: 52_428_800,
      RERANK_MAX_PAYLOAD_BYTES: 1_048_576,
      TELEMETRY_SPILL_DIR: path.join(process.cwd(), ".data", "spill"),
      TELEMETRY_DISABLED: false,
      BREAKER_RESET_MS: 5000,
      SHADOW_QUEUE_MAX: 64,
      DRIFT_SAMPLE_ROWS: 2000,
      DRIFT_ROW_RATE: 0.04,
      DEBUG_SAMPLE_RATE: 0.01,
      ROLLOUT_TICK_MS: 5000,
      CONFIG_WATCH_INTERVAL_MS: 500,
      FEATURE_CACHE_REFRESH_MS: 60_000,
      E2E_PORT: 3100,
    });
    expect([1, 2]).toContain(e.INFERENCE_THREADS);
    expect(Object.isFrozen(e)).toBe(true);
  });

  it("treats blank values as unset and trims the others", () => {
    expect(parseEnv({ DATABASE_POOL_SIZE: "   ", HOST: "" })).toMatchObject({ DATABASE_POOL_SIZE: 10, HOST: "127.0.0.1" });
    expect(parseEnv({ DATABASE_POOL_SIZE: " 25 " }).DATABASE_POOL_SIZE).toBe(25);
  });

  it("ignores variables it does not declare", () => {
    expect(parseEnv({ SOMETHING_ELSE: "x" })).not.toHaveProperty("SOMETHING_ELSE");
  });
});

describe("parseEnv: each kind of bad value is one line naming the variable, what it must be and what it got", () => {
  it.each([
    [{ DATABASE_POOL_SIZE: "ten" }, 'Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "ten"'],
    [{ DATABASE_POOL_SIZE: "0" }, 'Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "0"'],
    [{ DATABASE_POOL_SIZE: "201" }, 'Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "201"'],
    [{ PORT: "3000.5" }, 'Configuration: PORT must be an integer from 1 to 65535, got "3000.5"'],
    [{ MODEL_MAX_BYTES: "50MB" }, 'Configuration: MODEL_MAX_BYTES must be an integer from 1 to 1073741824, got "50MB"'],
    [{ DRIFT_ROW_RATE: "0" }, 'Configuration: DRIFT_ROW_RATE must be a number above 0 and at most 1, got "0"'],
    [{ DRIFT_ROW_RATE: "4%" }, 'Configuration: DRIFT_ROW_RATE must be a number above 0 and at most 1, got "4%"'],
    [{ TELEMETRY_DISABLED: "2" }, 'Configuration: TELEMETRY_DISABLED must be 1 or 0 (also true/false, yes/no, on/off), got "2"'],
    [{ SERVING_AUTH: "disabled" }, 'Configuration: SERVING_AUTH must be "on" or "off", got "disabled"'],
    [{ HOST: "my host" }, 'Configuration: HOST must be a host name or IP address such as 127.0.0.1, 0.0.0.0 or :: (IPv6 without brackets), got "my host"'],
    // Brackets passed the check and then failed to listen (getaddrinfo ENOTFOUND [::1]).
    [{ HOST: "[::1]" }, 'Configuration: HOST must be a host name or IP address such as 127.0.0.1, 0.0.0.0 or :: (IPv6 without brackets), got "[::1]"'],
    [{ ADMIN_EMAIL: "admin" }, 'Configuration: ADMIN_EMAIL must be an email address, got "admin"'],
    [{ PUBLIC_URL: "rerank.example.com" }, 'Configuration: PUBLIC_URL must be an http:// or https:// URL without query or fragment, such as https://rerank.example.com, got "rerank.example.com"'],
    [{ DATABASE_URL: "localhost:5432" }, 'Configuration: DATABASE_URL must be a PostgreSQL URL such as postgresql://postgres@127.0.0.1:5432/rerank, got "localhost:5432"'],
  ])("%o", (source, message) => {
    expect(problemOf(source)).toBe(message);
  });

  it("names the bad item of a list", () => {
    expect(problemOf({ ALLOWED_HOSTS: "console.example.com, bad host, 10.0.0.5:3000" })).toBe(
      'Configuration: ALLOWED_HOSTS must be a comma-separated list of host[:port] patterns such as console.example.com,*.corp.example,10.0.0.5:3000 (or *), got "console.example.com, bad host, 10.0.0.5:3000" (item 2)',
    );
    expect(problemOf({ ALLOWED_HOSTS: "a.example.com:70000" })).toMatch(/ALLOWED_HOSTS must be .*\(item 1\)$/);
    expect(problemOf({ DEBUG_MASKED_FIELDS: "userKey,user key" })).toMatch(/^Configuration: DEBUG_MASKED_FIELDS must be a comma-separated list of field names.*\(item 2\)$/);
  });

  it("never echoes a secret: only its length; a database URL's password is starred", () => {
    expect(problemOf({ AUTH_SECRET: "hunter2-hunter2" })).toBe("Configuration: AUTH_SECRET must be at least 32 characters (e.g. openssl rand -base64 32), got a value of 15 characters");
    expect(problemOf({ ADMIN_PASSWORD: "pw" })).toBe("Configuration: ADMIN_PASSWORD must be 8 to 128 characters, got a value of 2 characters");
    // One character is "1 character" (it said "a value of 1 characters").
    expect(problemOf({ ADMIN_PASSWORD: "p" })).toBe("Configuration: ADMIN_PASSWORD must be 8 to 128 characters, got a value of 1 character");
    expect(problemOf({ AUTH_SECRET: "x" })).toMatch(/, got a value of 1 character$/);
    const line = problemOf({ DATABASE_URL: "mysql://app:s3cret@db.internal:3306/rerank" });
    expect(line).toContain('got "mysql://app:***@db.internal:3306/rerank"');
    expect(line).not.toContain("s3cret");
    // Break test: a base64 password with "/" and a password parameter were echoed whole.
    expect(withoutPassword("postgres://u:Ab+/cd==@127.0.0.1:5432/db")).toBe("postgres://u:***@127.0.0.1:5432/db");
    expect(withoutPassword("postgres://u:p@ss@127.0.0.1:5432/db?sslmode=require")).toBe("postgres://u:***@127.0.0.1:5432/db?sslmode=require");
    expect(withoutPassword("postgres://u@127.0.0.1:99999/db?sslmode=require&password=s3cretpw")).toBe("postgres://u@127.0.0.1:99999/db?sslmode=require&password=***");
    expect(withoutPassword("postgres://127.0.0.1:5432/db")).toBe("postgres://127.0.0.1:5432/db");
    for (const url of ["postgres://u:Ab+/cd==@127.0.0.1:5432/db", "postgres://u@127.0.0.1:99999/db?password=s3cretpw"]) {
      const shown = problemOf({ DATABASE_URL: url.replace("postgres:", "mysql:") });
      expect(shown).not.toMatch(/Ab\+|s3cretpw/);
    }
  });

  it("reports several bad variables on the same single line", () => {
    const message = problemOf({ DATABASE_POOL_SIZE: "ten", SERVING_AUTH: "maybe" });
    expect(message).not.toContain("\n");
    expect(message).toBe('Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "ten"; SERVING_AUTH must be "on" or "off", got "maybe"');
  });

  it("carries a code, so it is recognised across bundles", () => {
    let caught: unknown;
    try {
      parseEnv({ PORT: "x" });
    } catch (error) {
      caught = error;
    }
    expect(isConfigError(caught)).toBe(true);
    expect(isConfigError({ code: "CONFIG_INVALID" })).toBe(true);
    expect(isConfigError(new Error("x"))).toBe(false);
    expect((caught as ConfigError).problems).toEqual(['PORT must be an integer from 1 to 65535, got "x"']);
  });
});

describe("parseEnv: kinds of value", () => {
  it("reads switches as 1/0, true/false, yes/no, on/off in any case", () => {
    for (const yes of ["1", "true", "TRUE", "yes", "On"]) expect(parseEnv({ TELEMETRY_DISABLED: yes }).TELEMETRY_DISABLED).toBe(true);
    for (const no of ["0", "false", "No", "off"]) expect(parseEnv({ TELEMETRY_DISABLED: no }).TELEMETRY_DISABLED).toBe(false);
  });

  it("reads choices in any case", () => {
    expect(parseEnv({ SERVING_AUTH: "OFF", METRICS_AUTH: "On" })).toMatchObject({ SERVING_AUTH: "off", METRICS_AUTH: "on" });
  });

  it("splits lists on commas, trims, drops blanks and lower-cases hosts", () => {
    expect(parseEnv({ ALLOWED_HOSTS: " Console.Example.com , ,10.0.0.5:3000,[::1]:3000,localhost" }).ALLOWED_HOSTS).toEqual([
      "console.example.com",
      "10.0.0.5:3000",
      "[::1]:3000",
      "localhost",
    ]);
    expect(parseEnv({ DEBUG_MASKED_FIELDS: "userKey, email" }).DEBUG_MASKED_FIELDS).toEqual(["userKey", "email"]);
  });

  it("accepts the bounds themselves and decimals in range", () => {
    expect(parseEnv({ DATABASE_POOL_SIZE: "1", PORT: "65535", DRIFT_ROW_RATE: "1", INFERENCE_THREADS: "64" })).toMatchObject({
      DATABASE_POOL_SIZE: 1,
      PORT: 65535,
      DRIFT_ROW_RATE: 1,
      INFERENCE_THREADS: 64,
    });
    expect(parseEnv({ DRIFT_ROW_RATE: ".5" }).DRIFT_ROW_RATE).toBe(0.5);
    expect(parseEnv({ DRIFT_ROW_RATE: "1e-3" }).DRIFT_ROW_RATE).toBe(0.001);
  });

  it("keeps URLs, dropping a public URL's trailing slash", () => {
    expect(parseEnv({ DATABASE_URL: "postgres://u@db:5433/x", PUBLIC_URL: "https://rerank.example.com/" })).toMatchObject({
      DATABASE_URL: "postgres://u@db:5433/x",
      PUBLIC_URL: "https://rerank.example.com",
    });
  });

  it("documents every setting: a description, an expectation and a default column", () => {
    for (const [name, s] of Object.entries(SETTINGS)) {
      expect(s.doc.length, name).toBeGreaterThan(10);
      expect(s.doc, name).not.toContain("\n");
      expect(s.expected.length, name).toBeGreaterThan(3);
      expect(s.defaultDoc.length, name).toBeGreaterThan(0);
    }
  });
});

describe("env(): parsed once, reset by setEnv", () => {
  const saved = process.env.DATABASE_POOL_SIZE;
  afterEach(() => setEnv("DATABASE_POOL_SIZE", saved));

  it("caches the parse until setEnv or resetEnv", () => {
    setEnv("DATABASE_POOL_SIZE", "7");
    const first = env();
    expect(first.DATABASE_POOL_SIZE).toBe(7);
    process.env.DATABASE_POOL_SIZE = "8"; // not through setEnv: the cached parse stands
    expect(env()).toBe(first);
    resetEnv();
    expect(env().DATABASE_POOL_SIZE).toBe(8);
    setEnv("DATABASE_POOL_SIZE", undefined);
    expect(process.env.DATABASE_POOL_SIZE).toBeUndefined();
    expect(env().DATABASE_POOL_SIZE).toBe(10);
  });

  it("throws the ConfigError on use when a value is bad", () => {
    setEnv("DATABASE_POOL_SIZE", "ten");
    expect(() => env()).toThrow('Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "ten"');
  });
});

describe("authSecret()", () => {
  const savedSecret = process.env.AUTH_SECRET;
  afterEach(() => setEnv("AUTH_SECRET", savedSecret));

  it("is AUTH_SECRET when set", () => {
    setEnv("AUTH_SECRET", "x".repeat(40));
    expect(authSecret(path.join(os.tmpdir(), "never-created"))).toBe("x".repeat(40));
  });

  it("else creates <dataDir>/auth-secret once (32 random bytes, mode 600) and reads it back afterwards", () => {
    setEnv("AUTH_SECRET", undefined);
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), "rerank-secret-")), ".data");
    try {
      const secret = authSecret(dir);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const file = path.join(dir, "auth-secret");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, "utf8").trim()).toBe(secret);
      expect(readdirSync(dir)).toEqual(["auth-secret"]); // no temporary file left
      resetEnv(); // as a new process would
      expect(authSecret(dir)).toBe(secret);
      // Another folder, another secret.
      const other = path.join(path.dirname(dir), "other");
      expect(authSecret(other)).not.toBe(secret);
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it("without a folder, reads <working directory>/.data/auth-secret, and follows the working directory when it changes", () => {
    setEnv("AUTH_SECRET", undefined);
    const root = mkdtempSync(path.join(os.tmpdir(), "rerank-secret-"));
    const [first, second] = [path.join(root, "first"), path.join(root, "second")];
    const cwd = process.cwd();
    try {
      mkdirSync(first);
      mkdirSync(second);
      process.chdir(first);
      const secret = authSecret();
      expect(readFileSync(path.join(first, ".data", "auth-secret"), "utf8").trim()).toBe(secret);
      // Remembered: a file changed behind the process's back is not read again until resetEnv().
      writeFileSync(path.join(first, ".data", "auth-secret"), `${"y".repeat(40)}\n`);
      expect(authSecret()).toBe(secret);
      resetEnv();
      expect(authSecret()).toBe("y".repeat(40));
      writeFileSync(path.join(first, ".data", "auth-secret"), `${secret}\n`);
      resetEnv();
      process.chdir(second);
      const other = authSecret();
      expect(other).not.toBe(secret);
      expect(readFileSync(path.join(second, ".data", "auth-secret"), "utf8").trim()).toBe(other);
      process.chdir(first);
      expect(authSecret()).toBe(secret);
      expect(authSecret(path.join(second, ".data"))).toBe(other);
      expect(authSecret()).toBe(secret);
    } finally {
      process.chdir(cwd);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses a secret file that is too short", () => {
    setEnv("AUTH_SECRET", undefined);
    const dir = mkdtempSync(path.join(os.tmpdir(), "rerank-secret-"));
    try {
      writeFileSync(path.join(dir, "auth-secret"), "short\n");
      expect(() => authSecret(dir)).toThrow(/auth-secret must hold at least 32 characters, got 5/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("one configuration module", () => {
  // Next inlines NEXT_RUNTIME per runtime; values handed to child processes or set for libraries are
  // writes; the statistics tests stay inside server/domain, which imports nothing outside it.
  const ALLOWED = [
    /process\.env\.NEXT_RUNTIME\b/,
    /process\.env\.\w+ = /,
    /\{ \.\.\.process\.env\b/,
    /const previous = process\.env\.MODEL_MAX_BYTES/,
    /process\.env\.STATS_SIM_REPORT/,
  ];

  it("no file under server/ or app/ (or instrumentation.ts) reads process.env except server/config.ts", () => {
    const files: string[] = ["instrumentation.ts"];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== "generated" && entry.name !== "node_modules") walk(full);
        } else if (/\.(ts|tsx)$/.test(entry.name)) files.push(full);
      }
    };
    walk("server");
    walk("app");
    const offenders = files
      .filter((f) => !f.startsWith(path.join("server", "config.")))
      .flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
          .filter(({ line }) => /process\.env\b/.test(line) && !ALLOWED.some((allowed) => allowed.test(line))),
      )
      .map(({ where, line }) => `${where}: ${line.trim()}`);
    expect(offenders, "declare the variable in server/config.ts and read it with env()").toEqual([]);
  });
});
