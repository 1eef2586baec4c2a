import { appendFile, mkdir, open, stat, truncate, unlink } from "node:fs/promises";
import path from "node:path";

// An append-only JSON Lines file that holds telemetry rows while the database is unreachable.
// One JSON value per line: JSON.stringify never emits a raw newline, so "\n" is a safe separator
// and byte offsets of line ends let a reader resume where it stopped.
//
// The class does not serialise its own calls: the owner (BatchWriter) runs append/clear one at a
// time. Reads may run alongside an append; they only consume complete ("\n"-terminated) lines.

const NEWLINE = 0x0a;
const CHUNK_BYTES = 64 * 1024;

export interface SpillBatch {
  /** Parsed rows, in file order. */
  rows: unknown[];
  /** Lines consumed (rows + blank + unparsable lines). */
  lines: number;
  /** Non-blank lines that were not valid JSON (e.g. a line torn by a crash). */
  invalid: number;
  /** Byte offset just after the last consumed line: pass it to the next readBatch. */
  end: number;
}

export class SpillFile {
  readonly path: string;
  private size = 0;

  constructor(filePath: string) {
    this.path = filePath;
  }

  /**
   * Picks up a file left by an earlier process: sets the tracked size and returns its line count.
   * A last line without "\n" (the process died mid-write) is terminated so that it stays one bad
   * line instead of corrupting the next appended row.
   */
  async open(): Promise<{ lines: number }> {
    let bytes: number;
    try {
      bytes = (await stat(this.path)).size;
    } catch (error) {
      if (isNotFound(error)) {
        this.size = 0;
        return { lines: 0 };
      }
      throw error;
    }
    let lines = 0;
    let last = NEWLINE;
    const handle = await open(this.path, "r");
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      for (let position = 0; position < bytes; ) {
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
        if (bytesRead === 0) break;
        for (let i = buffer.indexOf(NEWLINE, 0); i !== -1 && i < bytesRead; i = buffer.indexOf(NEWLINE, i + 1)) lines++;
        last = buffer[bytesRead - 1]!;
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
    this.size = bytes;
    if (bytes > 0 && last !== NEWLINE) {
      await appendFile(this.path, "\n");
      this.size += 1;
      lines += 1;
    }
    return { lines };
  }

  /** Appends one JSON line per row (creating the directory and file as needed). */
  async append(rows: unknown[]): Promise<void> {
    await this.appendLines(rows.map((row) => JSON.stringify(row)));
  }

  /**
   * Appends lines that are already serialised (each one JSON value, without "\n"). With `sync` the
   * data is fsynced (fdatasync) before the promise resolves: the rows survive a crash of the process
   * and of the machine. Without it they survive the process (the kernel holds the written pages).
   */
  async appendLines(lines: string[], options: { sync?: boolean } = {}): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    const bytes = Buffer.byteLength(text);
    const before = this.size;
    await mkdir(path.dirname(this.path), { recursive: true });
    try {
      if (options.sync) {
        const handle = await open(this.path, "a");
        try {
          await handle.writeFile(text);
          await handle.datasync();
        } finally {
          await handle.close();
        }
      } else {
        await appendFile(this.path, text);
      }
    } catch (error) {
      // A partial write (disk full) would leave a torn line: cut the file back so the append is
      // all or nothing and the caller can count these rows as lost.
      await truncate(this.path, before).catch(() => {});
      throw error;
    }
    this.size = before + bytes;
  }

  /**
   * Reads up to maxLines complete lines starting at byte offset `from`, and no more than maxBytes of
   * them (the lines' bytes with their newlines; the first line is read however long it is).
   */
  async readBatch(from: number, maxLines: number, maxBytes = Number.POSITIVE_INFINITY): Promise<SpillBatch> {
    const result: SpillBatch = { rows: [], lines: 0, invalid: 0, end: from };
    let handle;
    try {
      handle = await open(this.path, "r");
    } catch (error) {
      if (isNotFound(error)) return result;
      throw error;
    }
    try {
      let carry = Buffer.alloc(0);
      let position = from;
      const chunk = Buffer.alloc(CHUNK_BYTES);
      let full = false;
      while (result.lines < maxLines && !full) {
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        let start = 0;
        for (let nl = data.indexOf(NEWLINE, start); nl !== -1 && result.lines < maxLines; nl = data.indexOf(NEWLINE, start)) {
          if (result.lines > 0 && result.end - from + nl + 1 - start > maxBytes) {
            full = true;
            break;
          }
          const line = data.toString("utf8", start, nl);
          result.lines++;
          result.end += nl + 1 - start;
          start = nl + 1;
          if (line.trim() === "") continue;
          try {
            result.rows.push(JSON.parse(line));
          } catch {
            result.invalid++;
          }
        }
        // Copy: `chunk` is reused by the next read.
        carry = Buffer.from(data.subarray(start));
      }
    } finally {
      await handle.close();
    }
    return result;
  }

  /** Every row in the file (blank and unparsable lines are skipped). */
  async readAll(): Promise<unknown[]> {
    return (await this.readBatch(0, Number.POSITIVE_INFINITY)).rows;
  }

  /** Removes the file. */
  async clear(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.size = 0;
  }

  /** Bytes in the file as tracked by open/append/clear (no I/O). */
  sizeBytes(): number {
    return this.size;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
}
