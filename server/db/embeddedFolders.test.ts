import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adoptLegacyData, EmbeddedPostgresError, ensureBinariesCopy, ensureRootFolder, prepareDataFolder, readOwnFile, treeDigest, trustProblem, writeOwnFile } from "./embeddedFolders";

// Review item 3: as root, embedded PostgreSQL's folders must not be plantable by other local users.
// Each refusal is shown on real files (these tests run as root, as `npm start` does in this case:
// chown gives files to other users).

const account = { uid: 4242, gid: 4242 }; // the `postgres` account the server runs as
const stranger = 65534; // another local user (nobody)
let scratch = "";
beforeEach(() => {
  expect(process.getuid?.(), "these tests make files of other users: run them as root").toBe(0);
  scratch = mkdtempSync(path.join(os.tmpdir(), "embedded-folders-"));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const mode = (target: string) => lstatSync(target).mode & 0o7777;

describe("ensureRootFolder (the root-owned parent)", () => {
  it("makes a missing folder root's with the mode asked, and accepts it again", () => {
    const folder = path.join(scratch, "rerank-console");
    ensureRootFolder(folder, 0o755);
    expect(mode(folder)).toBe(0o755);
    expect(lstatSync(folder).uid).toBe(0);
    expect(() => ensureRootFolder(folder, 0o755)).not.toThrow();
  });

  it("refuses a planted link, another user's folder, a folder others may write to, and a parent others may write to", () => {
    const elsewhere = mkdirSync(path.join(scratch, "elsewhere"), { recursive: true })!;
    symlinkSync(elsewhere, path.join(scratch, "link"));
    expect(() => ensureRootFolder(path.join(scratch, "link"), 0o755)).toThrow(/refusing .*\/link for embedded PostgreSQL: it is a symbolic link/);
    mkdirSync(path.join(scratch, "theirs"));
    chownSync(path.join(scratch, "theirs"), stranger, stranger);
    expect(() => ensureRootFolder(path.join(scratch, "theirs"), 0o755)).toThrow(/it is owned by uid 65534, not uid 0/);
    mkdirSync(path.join(scratch, "open"));
    chmodSync(path.join(scratch, "open"), 0o777);
    expect(() => ensureRootFolder(path.join(scratch, "open"), 0o755)).toThrow(/its mode 777 lets others write to it/);
    expect(() => ensureRootFolder(path.join(scratch, "open", "inner"), 0o755)).toThrow(EmbeddedPostgresError);
    expect(existsSync(path.join(scratch, "open", "inner"))).toBe(false); // nothing made under an open parent
  });
});

describe("ensureBinariesCopy (the binaries the postgres account runs)", () => {
  const makePackage = () => {
    const from = path.join(scratch, "package");
    mkdirSync(path.join(from, "bin"), { recursive: true });
    mkdirSync(path.join(from, "lib"), { recursive: true });
    writeFileSync(path.join(from, "bin", "postgres"), "#!/bin/sh\necho real\n", { mode: 0o755 });
    writeFileSync(path.join(from, "lib", "libpq.so.5.18"), "library", { mode: 0o664 }); // group-writable in the package
    symlinkSync("libpq.so.5.18", path.join(from, "lib", "libpq.so.5"));
    chmodSync(path.join(from, "lib", "libpq.so.5.18"), 0o664);
    return from;
  };

  it("copies root-owned with nobody else's write bits, keeps a copy that matches, and copies again one that differs", () => {
    const from = makePackage();
    const to = path.join(scratch, "parent", "pg-1.0");
    expect(ensureBinariesCopy(from, to)).toBe("copied");
    expect(treeDigest(to)).toBe(treeDigest(from));
    expect(mode(path.join(to, "lib", "libpq.so.5.18"))).toBe(0o644);
    expect(lstatSync(path.join(to, "lib", "libpq.so.5")).isSymbolicLink()).toBe(true);
    expect(ensureBinariesCopy(from, to)).toBe("kept");
    writeFileSync(path.join(to, "bin", "postgres"), "#!/bin/sh\necho other\n"); // root's, but not the package's content
    const lines: string[] = [];
    expect(ensureBinariesCopy(from, to, (l) => lines.push(l))).toBe("copied");
    expect(readFileSync(path.join(to, "bin", "postgres"), "utf8")).toBe("#!/bin/sh\necho real\n");
    expect(lines).toEqual([`the PostgreSQL binaries in ${to} differ from the package's: copying them again`]);
  });

  it("refuses a copy with another user's file, a file others may write to, a link leading out, or a link in its place", () => {
    const from = makePackage();
    const to = path.join(scratch, "parent", "pg-1.0");
    ensureBinariesCopy(from, to);
    chownSync(path.join(to, "bin", "postgres"), stranger, stranger); // planted: another user's binary
    expect(() => ensureBinariesCopy(from, to)).toThrow(new RegExp(`refusing the PostgreSQL binaries in ${to}: ${to}/bin/postgres is not root's own`));
    chownSync(path.join(to, "bin", "postgres"), 0, 0);
    chmodSync(path.join(to, "bin"), 0o777);
    expect(() => ensureBinariesCopy(from, to)).toThrow(/\/bin is not root's own, is writable by others/);
    chmodSync(path.join(to, "bin"), 0o755);
    symlinkSync("/etc/passwd", path.join(to, "lib", "planted"));
    expect(() => ensureBinariesCopy(from, to)).toThrow(/lib\/planted is not root's own, is writable by others, or links out/);
    rmSync(to, { recursive: true });
    symlinkSync(from, to);
    expect(() => ensureBinariesCopy(from, to)).toThrow(/refusing the PostgreSQL binaries/);
  });
});

describe("prepareDataFolder (the data folder handed to the postgres account)", () => {
  it("makes it with mode 700 for the account under a root-owned folder of mode 711", () => {
    const dataDir = path.join(scratch, "parent", "abc123", "postgres");
    ensureRootFolder(path.join(scratch, "parent"), 0o755);
    prepareDataFolder(dataDir, account, true);
    expect(mode(path.dirname(dataDir))).toBe(0o711);
    expect(lstatSync(dataDir)).toMatchObject({ uid: account.uid, gid: account.gid });
    expect(mode(dataDir)).toBe(0o700);
    expect(() => prepareDataFolder(dataDir, account, true)).not.toThrow();
  });

  it("refuses a planted link (and chowns nothing through it), another user's folder, and an open one", () => {
    const root = path.join(scratch, "root");
    mkdirSync(root);
    const victim = path.join(scratch, "victim");
    mkdirSync(victim);
    symlinkSync(victim, path.join(root, "postgres"));
    expect(() => prepareDataFolder(path.join(root, "postgres"), account, false)).toThrow(/it is a symbolic link/);
    expect(statSync(victim).uid).toBe(0); // review item 3: root used to chown the link's target
    rmSync(path.join(root, "postgres"));
    mkdirSync(path.join(root, "postgres"), { mode: 0o700 });
    chownSync(path.join(root, "postgres"), stranger, stranger); // another user's cluster (a planted PG_VERSION inside)
    expect(() => prepareDataFolder(path.join(root, "postgres"), account, false)).toThrow(/owned by uid 65534, not uid 4242 or uid 0/);
    chownSync(path.join(root, "postgres"), account.uid, account.gid);
    chmodSync(path.join(root, "postgres"), 0o755);
    expect(() => prepareDataFolder(path.join(root, "postgres"), account, false)).toThrow(/its mode 755 lets others in/);
  });
});

describe("own files (the password and owner files)", () => {
  it("reads back what it wrote; refuses a link, another user's file and a file others may read", () => {
    const file = path.join(scratch, "postgres-password");
    expect(readOwnFile(file)).toBeNull();
    writeOwnFile(file, "secret\n");
    expect(mode(file)).toBe(0o600);
    expect(readOwnFile(file)).toBe("secret\n");
    chmodSync(file, 0o644);
    expect(() => readOwnFile(file)).toThrow(/its mode 644 lets others in/);
    chmodSync(file, 0o600);
    chownSync(file, stranger, stranger); // planted: its password would be the attacker's
    expect(() => readOwnFile(file)).toThrow(/owned by uid 65534/);
    rmSync(file);
    writeFileSync(path.join(scratch, "target"), "x", { mode: 0o600 });
    symlinkSync(path.join(scratch, "target"), file);
    expect(() => readOwnFile(file)).toThrow(/it is a symbolic link/);
  });

  it("writes through no planted link: the link is replaced, its target untouched", () => {
    const target = path.join(scratch, "shadow");
    writeFileSync(target, "root:x:0:0\n");
    const file = path.join(scratch, "postgres-owner.json");
    symlinkSync(target, file);
    writeOwnFile(file, "{}\n");
    expect(readFileSync(target, "utf8")).toBe("root:x:0:0\n");
    expect(lstatSync(file).isFile()).toBe(true);
  });
});

describe("adoptLegacyData (the /var/tmp folder of earlier versions)", () => {
  const legacy = (owner: number) => {
    const root = path.join(scratch, "rerank-console-abc");
    mkdirSync(path.join(root, "postgres"), { recursive: true, mode: 0o700 });
    chmodSync(root, 0o755);
    chownSync(root, owner, owner);
    writeFileSync(path.join(root, "postgres", "PG_VERSION"), "18\n");
    chownSync(path.join(root, "postgres"), account.uid, account.gid);
    writeFileSync(path.join(root, "postgres-password"), "old\n", { mode: 0o600 });
    return root;
  };

  it("moves a folder only root could have made, once", () => {
    const root = legacy(0);
    const dataDir = path.join(scratch, "new", "postgres");
    mkdirSync(path.dirname(dataDir));
    expect(adoptLegacyData(root, dataDir, account, () => false)).toMatch(/^moved the embedded PostgreSQL data an earlier version kept in .* to .*new\/postgres/);
    expect(readFileSync(path.join(dataDir, "PG_VERSION"), "utf8")).toBe("18\n");
    expect(readFileSync(`${dataDir}-password`, "utf8")).toBe("old\n");
    expect(existsSync(root)).toBe(false);
  });

  it("leaves alone (and does not use) a folder another user made, and refuses while its server runs", () => {
    const root = legacy(stranger); // planted before root's first start
    const dataDir = path.join(scratch, "new", "postgres");
    mkdirSync(path.dirname(dataDir));
    expect(adoptLegacyData(root, dataDir, account, () => false)).toMatch(/is not used: it is owned by uid 65534, not uid 0; a new database is made in/);
    expect(existsSync(dataDir)).toBe(false);
    chownSync(root, 0, 0);
    expect(() => adoptLegacyData(root, dataDir, account, () => true)).toThrow(/still runs on .*: stop that console first/);
  });

  it("trustProblem names nothing for a sound folder", () => {
    expect(trustProblem(scratch, { kind: "folder", owners: [0], private: true })).toBeNull();
  });
});
