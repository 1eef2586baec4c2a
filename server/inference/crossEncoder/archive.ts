import { gunzipSync } from "node:zlib";
import { Header, Parser, type ReadEntry } from "tar";
import yauzl from "yauzl";
import { InvalidInputError } from "../../errors";

// A cross-encoder bundle travels as one archive: uploaded as .tar, .tgz or .zip (read with node-tar
// and yauzl), stored in the registry as a plain tar of its files (written here with node-tar's
// Header, in name order with zero times, so the same files always make the same bytes and the same
// sha256). Reading is bounded against archive bombs: the bytes after decompression, the number of
// entries and the size each entry declares are checked before its data is read. A tar entry's data
// is exactly the size its header declares (the format has no other length, and the whole tar is
// already in memory within the bound); a zip entry that lies about its size is refused by yauzl.

/** The files a bundle may hold; anything else in the archive is skipped (but counted). */
export const BUNDLE_FILES = ["model.onnx", "tokenizer.json", "tokenizer_config.json", "reranker.json"] as const;
export type BundleFileName = (typeof BUNDLE_FILES)[number];

export interface ArchiveLimits {
  /** Most bytes after decompression, all entries together (MODEL_MAX_BYTES for an upload). */
  maxBytes: number;
  /** Most entries (files, folders, links) in the archive. */
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_ENTRIES = 64;

const isBundleFile = (name: string): name is BundleFileName => (BUNDLE_FILES as readonly string[]).includes(name);
/** A bundle's files may sit in one folder of the archive (`my-model/model.onnx`): matched by base name. */
const baseName = (entryPath: string) => entryPath.replace(/\\/g, "/").split("/").filter(Boolean).pop() ?? "";
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * The bundle files of a .tar, .tgz (.tar.gz) or .zip archive, by base name. Throws InvalidInputError
 * on `file` for an archive of another kind, a corrupt one, one past `limits` (bytes after
 * decompression, entries), or one holding a bundle file twice.
 */
export async function unpackBundleArchive(bytes: Uint8Array, limits: ArchiveLimits): Promise<Map<BundleFileName, Uint8Array>> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length >= 4 && buffer.readUInt32LE(0) === 0x04034b50) return unzip(buffer, limits);
  if (buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) {
    let tar: Buffer;
    try {
      // maxOutputLength stops inflating at the limit: a gzip bomb costs at most maxBytes of memory.
      tar = gunzipSync(buffer, { maxOutputLength: limits.maxBytes + 1024 * 1024 });
    } catch (error) {
      const e = error as Error & { code?: string };
      if (e.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) throw new InvalidInputError("file", `the archive unpacks to more than ${mib(limits.maxBytes)} (MODEL_MAX_BYTES)`);
      throw new InvalidInputError("file", `the .tgz archive cannot be decompressed: ${e.message}`);
    }
    return untar(tar, limits);
  }
  if (buffer.length >= 262 && buffer.toString("latin1", 257, 262) === "ustar") return untar(buffer, limits);
  throw new InvalidInputError("file", "a cross-encoder bundle is a .tar, .tgz or .zip archive holding model.onnx, tokenizer.json and reranker.json; this file is none of those");
}

/** Keeps one entry's bytes under its base name; refuses a second file of the same name. */
function keep(files: Map<BundleFileName, Uint8Array>, entryPath: string, data: Buffer): void {
  const name = baseName(entryPath);
  if (!isBundleFile(name)) return;
  if (files.has(name)) throw new InvalidInputError("file", `the archive holds ${name} twice (${entryPath} is the second): a bundle has one of each file`);
  files.set(name, new Uint8Array(data));
}

function untar(tar: Buffer, limits: ArchiveLimits): Promise<Map<BundleFileName, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const files = new Map<BundleFileName, Uint8Array>();
    let entries = 0;
    let total = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      parser.abort(error);
      reject(error);
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        entries++;
        if (entries > limits.maxEntries) return fail(new InvalidInputError("file", `the archive has more than ${limits.maxEntries} entries; a bundle has at most four files`));
        if (entry.type !== "File" && entry.type !== "OldFile") return entry.resume();
        if (!isBundleFile(baseName(entry.path))) return entry.resume();
        total += entry.size;
        if (total > limits.maxBytes) return fail(new InvalidInputError("file", `the archive unpacks to more than ${mib(limits.maxBytes)} (MODEL_MAX_BYTES)`));
        const chunks: Buffer[] = [];
        entry.on("data", (chunk: Buffer) => chunks.push(chunk));
        entry.on("end", () => {
          try {
            keep(files, entry.path, Buffer.concat(chunks));
          } catch (error) {
            fail(error as Error);
          }
        });
      },
    });
    parser.on("error", (error: Error) => fail(error instanceof InvalidInputError ? error : new InvalidInputError("file", `the tar archive is corrupt: ${error.message}`)));
    parser.on("end", () => {
      if (!failed) resolve(files);
    });
    parser.end(tar);
  });
}

function unzip(zip: Buffer, limits: ArchiveLimits): Promise<Map<BundleFileName, Uint8Array>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (openError, archive) => {
      if (openError || !archive) return reject(new InvalidInputError("file", `the zip archive cannot be read: ${openError?.message ?? "no archive"}`));
      if (archive.entryCount > limits.maxEntries) {
        archive.close();
        return reject(new InvalidInputError("file", `the archive has ${archive.entryCount} entries, more than ${limits.maxEntries}; a bundle has at most four files`));
      }
      const files = new Map<BundleFileName, Uint8Array>();
      let total = 0;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        archive.close();
        reject(error instanceof InvalidInputError ? error : new InvalidInputError("file", `the zip archive is corrupt: ${error.message}`));
      };
      archive.on("error", fail);
      archive.on("end", () => {
        if (!failed) resolve(files);
      });
      archive.on("entry", (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith("/") || !isBundleFile(baseName(entry.fileName))) return archive.readEntry();
        // The size the entry declares is checked before inflating; yauzl refuses data that exceeds it.
        total += entry.uncompressedSize;
        if (total > limits.maxBytes) return fail(new InvalidInputError("file", `the archive unpacks to more than ${mib(limits.maxBytes)} (MODEL_MAX_BYTES)`));
        archive.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return fail(streamError ?? new Error("no stream"));
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("error", fail);
          stream.on("end", () => {
            try {
              keep(files, entry.fileName, Buffer.concat(chunks));
              archive.readEntry();
            } catch (error) {
              fail(error as Error);
            }
          });
        });
      });
      archive.readEntry();
    });
  });
}

/**
 * The registry's form of a bundle: a plain ustar archive of `files` in name order, mode 0644, times
 * zero, so the same files give the same bytes (and sha256: the registry's duplicate check).
 */
export function packBundleArchive(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const names = [...files.keys()].sort();
  const parts: Buffer[] = [];
  for (const name of names) {
    const data = files.get(name)!;
    const header = new Header({ path: name, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: new Date(0), type: "File", uname: "", gname: "" });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    parts.push(block, Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return new Uint8Array(Buffer.concat(parts));
}
