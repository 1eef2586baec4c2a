import { createWriteStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import busboy from "busboy";
import { InvalidInputError } from "../errors";
import { BodyAbortedError, BodyTooLargeError } from "./body";

// A multipart upload streamed to disk as it arrives: the one file part goes straight to a file in
// `dir` (never held in memory whole), text fields are kept up to a size, and reading stops at the
// body limit (413) or the file limit (400). Parsing is busboy's (the parser under multer). Text
// fields are decoded by busboy in the charset their part declares (UTF-8 when it declares none, as
// browsers send them), and one in which a byte was not of that charset is refused: busboy puts U+FFFD
// in its place, and the field's error names the byte where it starts. (Handing fields over as latin1
// to decode them here lost the text of a part that declared charset=utf-8.) File names are UTF-8.

export interface ReceivedForm {
  /** The `file` part on disk, or null when the form had none. */
  file: { path: string; name: string; size: number } | null;
  fields: Record<string, string>;
}

export interface FormLimits {
  /** Whole body, in bytes (413 past it). */
  bodyBytes: number;
  /** The file part, in bytes (400 naming MODEL_MAX_BYTES past it). */
  fileBytes: number;
  /** Each text field, in bytes. */
  fieldBytes: number;
}

const MAX_FIELDS = 16;

/**
 * Reads `req` as multipart/form-data into `dir` (which the caller creates and removes). Rejects with
 * BodyTooLargeError past `limits.bodyBytes`, InvalidInputError for a file or field over its limit,
 * a field that is not UTF-8 or a body that is not multipart, BodyAbortedError when the connection closes first.
 */
export function receiveForm(req: IncomingMessage, dir: string, limits: FormLimits): Promise<ReceivedForm> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, defCharset: "utf8", defParamCharset: "utf8", limits: { files: 2, fields: MAX_FIELDS, parts: MAX_FIELDS + 2, fieldSize: limits.fieldBytes, fileSize: limits.fileBytes } });
    } catch {
      req.resume();
      reject(new InvalidInputError("body", "expected multipart/form-data with a file field"));
      return;
    }
    // No prototype: a field named "__proto__" is a field like any other (refused below as unknown).
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    let file: ReceivedForm["file"] = null;
    let writing: Promise<void> = Promise.resolve();
    let failed = false;
    let received = 0;

    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.bodyBytes) fail(new BodyTooLargeError(limits.bodyBytes));
    };
    req.on("data", onData);
    req.once("aborted", () => fail(new BodyAbortedError()));

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) return fail(new InvalidInputError(name, `longer than ${limits.fieldBytes} bytes`));
      const replaced = value.indexOf("\uFFFD");
      if (replaced >= 0) return fail(new InvalidInputError(name, `not valid UTF-8 at byte ${Buffer.byteLength(value.slice(0, replaced))}`));
      // A field sent twice is refused, not "last one wins" (break test: the second of two `metrics` was kept without a word).
      if (Object.hasOwn(fields, name)) return fail(new InvalidInputError(name, "sent twice: send each field once"));
      fields[name] = value;
    });
    parser.on("file", (name, stream, info) => {
      // One file part, named `file` (break test: a second file was read past and the first kept, a misnamed one ignored).
      if (name !== "file" || file) {
        stream.resume();
        return fail(new InvalidInputError(name, name === "file" ? "sent twice: attach one file" : 'a file part must be named "file"'));
      }
      const target = path.join(dir, "upload");
      const out = createWriteStream(target);
      const current = { path: target, name: info.filename ?? "upload", size: 0 };
      file = current;
      stream.on("data", (chunk: Buffer) => (current.size += chunk.length));
      stream.once("limit", () => fail(new InvalidInputError("file", `the file exceeds the ${sizeInWords(limits.fileBytes)} limit (MODEL_MAX_BYTES)`)));
      writing = new Promise((done, error) => {
        out.once("finish", done);
        out.once("error", error);
      });
      stream.pipe(out);
    });
    // busboy drops file parts past `files` without emitting them: the second is emitted (and refused above, by its name), a third ends here.
    parser.once("filesLimit", () => fail(new InvalidInputError("file", "attach one file")));
    parser.once("fieldsLimit", () => fail(new InvalidInputError("body", `more than ${MAX_FIELDS} fields`)));
    parser.once("partsLimit", () => fail(new InvalidInputError("body", `more than ${MAX_FIELDS + 2} parts`)));
    parser.once("error", (error: Error) => fail(new InvalidInputError("body", `not a readable multipart form: ${error.message}`)));
    parser.once("close", () => {
      req.off("data", onData);
      writing.then(() => !failed && resolve({ file, fields }), (error: Error) => fail(error));
    });
    req.pipe(parser);
  });
}

const sizeInWords = (bytes: number) => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${bytes}-byte`);
