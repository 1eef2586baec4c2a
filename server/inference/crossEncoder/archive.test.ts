import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { zipOf } from "../../testing/archives";
import { packBundleArchive, unpackBundleArchive } from "./archive";

// The bundle archive's reader and writer on small in-memory archives: the stored form is
// deterministic and reads back, files are found in a folder, a name twice is refused, and the
// bounds hold for tar, gzip and zip alike.

const utf8 = (s: string) => new TextEncoder().encode(s);
const files = new Map([["reranker.json", utf8('{"kind":"cross-encoder"}')], ["model.onnx", new Uint8Array([1, 2, 3])], ["tokenizer.json", utf8("{}")]]);
const limits = { maxBytes: 1 << 20, maxEntries: 16 };

describe("bundle archives", () => {
  it("packs the same files to the same bytes whatever their order, and reads them back", async () => {
    const packed = packBundleArchive(files);
    expect(Buffer.from(packBundleArchive(new Map([...files].reverse()))).equals(Buffer.from(packed))).toBe(true);
    const read = await unpackBundleArchive(packed, limits);
    expect([...read.keys()].sort()).toEqual(["model.onnx", "reranker.json", "tokenizer.json"]);
    expect([...read.get("model.onnx")!]).toEqual([1, 2, 3]);
    // The same tar gzipped reads the same.
    expect((await unpackBundleArchive(gzipSync(packed), limits)).get("tokenizer.json")).toEqual(utf8("{}"));
  });

  it("finds the files in a folder of a .tgz or .zip and skips others", async () => {
    const entries = [...files].map(([name, data]) => ({ name: `bundle/${name}`, data }));
    const withReadme = [...entries, { name: "bundle/README.md", data: utf8("hi") }];
    for (const archive of [gzipSync(packBundleArchive(new Map(withReadme.map((e) => [e.name, e.data])))), zipOf(withReadme)]) {
      const read = await unpackBundleArchive(archive, limits);
      expect([...read.keys()].sort()).toEqual(["model.onnx", "reranker.json", "tokenizer.json"]);
    }
  });

  it("refuses a file twice, too many entries, and more bytes than the limit", async () => {
    const twice = zipOf([{ name: "a/model.onnx", data: utf8("x") }, { name: "b/model.onnx", data: utf8("y") }]);
    await expect(unpackBundleArchive(twice, limits)).rejects.toThrow("file: the archive holds model.onnx twice (b/model.onnx is the second): a bundle has one of each file");
    const many = packBundleArchive(new Map(Array.from({ length: 20 }, (_, i) => [`junk${i}`, utf8("x")])));
    await expect(unpackBundleArchive(many, limits)).rejects.toThrow("file: the archive has more than 16 entries");
    const big = gzipSync(packBundleArchive(new Map([["model.onnx", new Uint8Array(2 << 20)]])));
    await expect(unpackBundleArchive(big, limits)).rejects.toThrow("file: the archive unpacks to more than 1.0 MiB (MODEL_MAX_BYTES)");
    await expect(unpackBundleArchive(utf8("not an archive"), limits)).rejects.toThrow(/^file: a cross-encoder bundle is a \.tar, \.tgz or \.zip archive/);
  });
});
