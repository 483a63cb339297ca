/**
 * The `ObjectStore` contract, run against every implementation: `S3ObjectStore` on a real
 * S3-compatible server (moto, tests/infra/s3.sh) and `DirObjectStore` on a real directory.
 * What the archiver, the snapshotter and restore rely on: a put never overwrites (also
 * when several race for one key), metadata and bodies round-trip (a file of several
 * upload parts too, streamed both ways), `list` answers by prefix in lexical order with
 * sizes and times, and a missing key is "not-found". Then what only the directory store
 * has to say: keys that would leave its root, object lock, a full, read-only or vanished
 * disk, a damaged header.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArchiveError,
  DirObjectStore,
  MULTIPART_PART_BYTES,
  type ObjectStore,
  parseArchiveUrl,
  S3ObjectStore,
  sha256Hex,
} from "../../server/archive/index.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { canMount, cannotMountReason, mountTmpfs } from "../infra/tmpfs.ts";
import { tempDir } from "../store/store-fixtures.ts";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
}, 600_000);

const dirs: { readonly path: string; remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
}

const text = (s: string) => new TextEncoder().encode(s);

async function readAll(store: ObjectStore, key: string): Promise<Buffer> {
  const { body } = await store.getStream(key);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<ArchiveError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArchiveError);
  return error as ArchiveError;
}

const backends: readonly {
  readonly name: string;
  /** A fresh, empty store. */
  open(): Promise<ObjectStore>;
}[] = [
  {
    name: "S3ObjectStore (moto)",
    async open() {
      const location = parseArchiveUrl(`s3://${await s3.newBucket()}/c`);
      return new S3ObjectStore({ location, endpoint: s3.endpoint });
    },
  },
  {
    name: "DirObjectStore",
    async open() {
      const root = join(dir("dir-store"), "archive");
      return DirObjectStore.open(parseArchiveUrl(root), { create: true });
    },
  },
];

describe.each(backends)("ObjectStore contract: $name", (backend) => {
  let store: ObjectStore;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(() => store.close());

  it("refuses a second put of the same key and keeps the first object", async () => {
    expect(await store.putIfAbsent("c/a", text("first"), { k: "1" })).toBe("created");
    expect(await store.putIfAbsent("c/a", text("second"), { k: "2" })).toBe("exists");
    const got = await store.get("c/a");
    expect(Buffer.from(got.body).toString()).toBe("first");
    expect(got.metadata).toEqual({ k: "1" });
  });

  it("lets exactly one of concurrent puts of a key create it, and keeps that one whole", async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(100_000 + i));
    const results = await Promise.all(
      bodies.map((body, i) => store.putIfAbsent("c/race", body, { writer: String(i) })),
    );
    expect(results.filter((r) => r === "created")).toHaveLength(1);
    expect(results.filter((r) => r === "exists")).toHaveLength(7);
    const winner = results.indexOf("created");
    const got = await store.get("c/race");
    expect(got.metadata).toEqual({ writer: String(winner) });
    expect(Buffer.from(got.body).equals(bodies[winner]!)).toBe(true);
  });

  it("round-trips metadata and bodies, an empty body and empty metadata too", async () => {
    const meta = {
      sha256: sha256Hex(text("x")),
      first: "00000000000000000812",
      log: "embedded:0b6c-4f",
      created: "2026-12-07T15:00:00.000Z",
    };
    expect(await store.putIfAbsent("c/meta/x", text("x"), meta)).toBe("created");
    expect(await store.putIfAbsent("c/meta/empty", new Uint8Array(), {})).toBe("created");
    expect(await store.get("c/meta/x")).toEqual({ body: expect.anything(), metadata: meta });
    expect(Buffer.from((await store.get("c/meta/x")).body).toString()).toBe("x");
    const empty = await store.get("c/meta/empty");
    expect(empty.body.byteLength).toBe(0);
    expect(empty.metadata).toEqual({});
    const streamed = await store.getStream("c/meta/x");
    expect(streamed.metadata).toEqual(meta);
    expect(streamed.size).toBe(1);
    streamed.body.destroy();
  });

  it("lists by prefix in lexical order, with each body's size and a recent time", async () => {
    const before = Date.now();
    const keys = [
      "c/list/wal/p00010/b",
      "c/list/wal/p00001/b",
      "c/list/wal/p00001/a",
      "c/list/wal/p00002/a",
      "c/list/walx",
      "c/list/log.json",
      "c/list/snapshots/acme/00000000000000000001.sqlite.gz",
    ];
    for (const [i, key] of keys.entries())
      expect(await store.putIfAbsent(key, randomBytes(i * 10), { i: String(i) })).toBe("created");
    const listed = await store.list("c/list/");
    expect(listed.map((o) => o.key)).toEqual([...keys].sort());
    for (const o of listed) {
      expect(o.size).toBe(keys.indexOf(o.key) * 10);
      // S3's times have a second's precision; the clocks are this machine's.
      expect(o.modified).toBeGreaterThanOrEqual(before - 2000);
      expect(o.modified).toBeLessThanOrEqual(Date.now() + 2000);
    }
    expect((await store.list("c/list/wal/p00001/")).map((o) => o.key)).toEqual([
      "c/list/wal/p00001/a",
      "c/list/wal/p00001/b",
    ]);
    // A prefix that ends inside a name matches as a string, as S3's does.
    expect((await store.list("c/list/wal")).map((o) => o.key)).toEqual([
      "c/list/wal/p00001/a",
      "c/list/wal/p00001/b",
      "c/list/wal/p00002/a",
      "c/list/wal/p00010/b",
      "c/list/walx",
    ]);
    expect((await store.list("c/list/wal/p0001")).map((o) => o.key)).toEqual([
      "c/list/wal/p00010/b",
    ]);
    expect(await store.list("c/list/none/")).toEqual([]);
    expect(await store.list("c/nothing-here")).toEqual([]);
  });

  it("answers not-found for a missing key, and deletes a key (a missing one quietly)", async () => {
    const missing = await failure(store.get("c/gone/never"));
    expect(missing.code).toBe("not-found");
    expect(missing.message).toContain("c/gone/never does not exist.");
    expect((await failure(store.getStream("c/gone/never"))).code).toBe("not-found");
    await store.delete("c/gone/never");
    expect(await store.putIfAbsent("c/gone/one", text("1"), {})).toBe("created");
    expect(await store.putIfAbsent("c/gone/two", text("2"), {})).toBe("created");
    await store.delete("c/gone/one");
    expect((await store.list("c/gone/")).map((o) => o.key)).toEqual(["c/gone/two"]);
    expect((await failure(store.get("c/gone/one"))).code).toBe("not-found");
    // A deleted key may be put again (snapshot retention deletes; nothing puts it back).
    expect(await store.putIfAbsent("c/gone/one", text("again"), {})).toBe("created");
  });

  it("puts a file of several parts once, refuses a second put of the key, and streams it back", async () => {
    const work = dir("multipart");
    const first = join(work, "first");
    const second = join(work, "second");
    const small = join(work, "small");
    const bytes = randomBytes(2 * MULTIPART_PART_BYTES + 12_345);
    writeFileSync(first, bytes);
    writeFileSync(second, randomBytes(MULTIPART_PART_BYTES + 1));
    writeFileSync(small, bytes.subarray(0, 1000));
    expect(await store.putFileIfAbsent(first, "c/multi/big", { sha256: sha256Hex(bytes) })).toBe(
      "created",
    );
    expect(await store.putFileIfAbsent(second, "c/multi/big", { sha256: "other" })).toBe("exists");
    const { metadata, size, body } = await store.getStream("c/multi/big");
    body.destroy();
    expect(metadata).toEqual({ sha256: sha256Hex(bytes) });
    expect(size).toBe(bytes.byteLength);
    expect((await readAll(store, "c/multi/big")).equals(bytes)).toBe(true);
    expect((await store.list("c/multi/")).map((o) => [o.key, o.size])).toEqual([
      ["c/multi/big", bytes.byteLength],
    ]);
    expect(await store.putFileIfAbsent(small, "c/multi/small", { k: "v" })).toBe("created");
    expect(
      Buffer.from((await store.get("c/multi/small")).body).equals(bytes.subarray(0, 1000)),
    ).toBe(true);
  });
});

describe("DirObjectStore", () => {
  async function open(): Promise<{ store: DirObjectStore; root: string }> {
    const root = join(dir("dir-store-own"), "archive");
    return { store: await DirObjectStore.open(parseArchiveUrl(root), { create: true }), root };
  }

  it("keeps each object in one file at its key's path, metadata in a header line before the body", async () => {
    const { store, root } = await open();
    await store.putIfAbsent("wal/p00000/a.seg.gz", text("body"), { sha256: "abc" });
    expect(readFileSync(join(root, "wal/p00000/a.seg.gz"), "utf8")).toBe(
      '{"entdb-object":1,"metadata":{"sha256":"abc"}}\nbody',
    );
    // No temp file is left behind.
    expect(readdirSync(join(root, "wal/p00000"))).toEqual(["a.seg.gz"]);
  });

  it("refuses keys that would leave the root or name a hidden file, writing nothing", async () => {
    const { store, root } = await open();
    const parent = join(root, "..");
    const before = readdirSync(parent);
    for (const key of [
      "../x",
      "a/../../x",
      "/etc/x",
      ".hidden",
      "a/.b",
      "a//b",
      "a/",
      "",
      "a/./b",
    ]) {
      const error = await failure(store.putIfAbsent(key, text("x"), {}));
      expect(error.code).toBe("invalid");
      expect(error.message).toBe(
        `'${key}' is not a key of a directory archive: each part of it must be a plain name (not empty, '.', '..' or starting with '.').`,
      );
    }
    expect((await failure(store.list("../"))).code).toBe("invalid");
    expect((await failure(store.get("../archive/x"))).code).toBe("invalid");
    expect(readdirSync(parent)).toEqual(before);
    expect(readdirSync(root)).toEqual([]);
  });

  it("refuses object lock, naming the flag", async () => {
    const { store, root } = await open();
    const error = await failure(
      store.putIfAbsent("wal/x", text("x"), {}, { retainUntil: new Date(Date.now() + 86_400_000) }),
    );
    expect(error.code).toBe("invalid");
    expect(error.message).toBe(
      `A directory archive (${root}) has no object lock: --archive-lock-days needs an s3:// archive in a bucket with object lock.`,
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it("does not list hidden temp files, lists a file without its header and names it corrupt when read", async () => {
    const { store, root } = await open();
    await store.putIfAbsent("wal/a", text("a"), {});
    writeFileSync(join(root, "wal", ".a.1234.tmp"), "half-written");
    expect((await store.list("")).map((o) => o.key)).toEqual(["wal/a"]);
    writeFileSync(join(root, "wal", "b"), "no header at all");
    // Listed as S3 lists any object under a prefix; reading it names it.
    expect((await store.list("wal/")).map((o) => [o.key, o.size])).toEqual([
      ["wal/a", 1],
      ["wal/b", 16],
    ]);
    expect((await failure(store.getStream("wal/b"))).code).toBe("corrupt");
    const error = await failure(store.get("wal/b"));
    expect(error.code).toBe("corrupt");
    expect(error.message).toBe(
      `The archived object ${join(root, "wal/b")} is corrupt: it has no EntDB object header (a file not written by the archive?).`,
    );
  });

  it("opens a missing directory as not-found, makes it only when asked and only inside an existing parent", async () => {
    const base = dir("dir-store-open");
    const missing = await failure(
      DirObjectStore.open(parseArchiveUrl(join(base, "none")), { create: false }),
    );
    expect(missing.code).toBe("not-found");
    expect(missing.message).toBe(
      `There is no archive at ${join(base, "none")}: the directory does not exist.`,
    );
    expect(existsSync(join(base, "none"))).toBe(false);
    const deep = await failure(
      DirObjectStore.open(parseArchiveUrl(join(base, "a", "b")), { create: true }),
    );
    expect(deep.code).toBe("invalid");
    expect(deep.message).toBe(
      `The archive directory ${join(base, "a", "b")} cannot be made: its parent ${join(base, "a")} does not exist. Create the parent (mount the disk) first.`,
    );
    writeFileSync(join(base, "file"), "x");
    const file = await failure(
      DirObjectStore.open(parseArchiveUrl(join(base, "file")), { create: true }),
    );
    expect(file.message).toBe(
      `The archive directory ${join(base, "file")} is a file, not a directory; give --archive a directory (it is made if missing).`,
    );
    expect(readdirSync(base)).toEqual(["file"]);
  });

  it("reports a root that has gone (an unmounted disk) as unavailable and never makes it again", async () => {
    const { store, root } = await open();
    rmSync(root, { recursive: true });
    const error = await failure(store.putIfAbsent("wal/p00000/a", text("x"), {}));
    expect(error.code).toBe("unavailable");
    expect(error.message).toBe(
      `The archive directory ${root} does not exist any more (an unmounted disk?); mount it or make it again.`,
    );
    expect((await failure(store.list("wal/"))).code).toBe("unavailable");
    expect(existsSync(root)).toBe(false);
    mkdirSync(root);
    expect(await store.putIfAbsent("wal/p00000/a", text("x"), {})).toBe("created");
  });

  if (!canMount) console.warn(`DirObjectStore disk tests skipped: ${cannotMountReason()}`);

  it.runIf(canMount)(
    "reports a full disk as unavailable, naming the path and ENOSPC, leaves no temp file, and puts once there is room",
    async () => {
      const disk = mountTmpfs({ sizeBytes: 1024 * 1024 });
      try {
        const store = await DirObjectStore.open(parseArchiveUrl(join(disk.dir, "archive")), {
          create: true,
        });
        await store.putIfAbsent("wal/p00000/a", text("a"), {});
        disk.fill();
        const error = await failure(store.putIfAbsent("wal/p00000/b", randomBytes(64 * 1024), {}));
        expect(error.code).toBe("unavailable");
        expect(error.message).toMatch(
          new RegExp(
            `^Archive directory ${disk.dir}/archive: cannot write ${disk.dir}/archive/wal/p00000/b: ENOSPC \\(no space left on device`,
          ),
        );
        expect(readdirSync(join(disk.dir, "archive", "wal", "p00000"))).toEqual(["a"]);
        disk.free();
        expect(await store.putIfAbsent("wal/p00000/b", text("b"), {})).toBe("created");
        expect(Buffer.from((await store.get("wal/p00000/b")).body).toString()).toBe("b");
      } finally {
        disk.unmount();
      }
    },
  );

  it.runIf(canMount)(
    "reports a read-only disk as unavailable, naming the path and EROFS",
    async () => {
      const disk = mountTmpfs({ sizeBytes: 1024 * 1024, readOnly: true });
      try {
        const open = await failure(
          DirObjectStore.open(parseArchiveUrl(join(disk.dir, "archive")), { create: true }),
        );
        expect(open.code).toBe("invalid");
        expect(open.message).toMatch(
          new RegExp(
            `^The archive directory ${disk.dir}/archive cannot be made: its parent ${disk.dir} is not writable: EROFS \\(`,
          ),
        );
        // A store opened on the root itself, which exists: its puts fail, and are retried.
        const store = await DirObjectStore.open(parseArchiveUrl(disk.dir), { create: false });
        const error = await failure(store.putIfAbsent("wal/a", text("x"), {}));
        expect(error.code).toBe("unavailable");
        expect(error.message).toMatch(
          new RegExp(`^Archive directory ${disk.dir}: cannot write ${disk.dir}/wal/a: EROFS \\(`),
        );
      } finally {
        disk.unmount();
      }
    },
  );
});
