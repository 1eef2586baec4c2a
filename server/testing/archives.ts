import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32, deflateRawSync } from "node:zlib";
import { create } from "tar";

// Archives for upload tests: a .tgz written by node-tar from real files, and a .zip written here
// (deflated entries) whose declared sizes a test may falsify, to build the bombs the reader refuses.

export interface ArchiveFile {
  name: string;
  data: Uint8Array;
  /** The uncompressed size the zip's headers declare (a lie when it differs from data's length). */
  declaredSize?: number;
}

/** A gzipped tar of `files` (names may hold a folder: "bundle/model.onnx"), written by node-tar from files on disk. */
export function tgzOf(files: ArchiveFile[]): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), "tgz-"));
  try {
    const root = path.join(dir, "root");
    for (const f of files) {
      const file = path.join(root, f.name);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, f.data);
    }
    const out = path.join(dir, "out.tgz");
    create({ gzip: true, cwd: root, sync: true, file: out, portable: true }, [...new Set(files.map((f) => f.name.split("/")[0]!))]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A zip of `files`, each deflated, with the sizes they declare (PKWARE APPNOTE 4.3: local headers, central directory, end record). */
export function zipOf(files: ArchiveFile[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, "utf8");
    const data = deflateRawSync(f.data);
    const crc = crc32(f.data);
    const size = f.declaredSize ?? f.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
