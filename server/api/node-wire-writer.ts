/**
 * The writing pass of `node-wire.ts`: writes `entdb.v1.Node` / `Edge` messages (and
 * the values inside) into a buffer the sizing pass (`node-wire-size.ts`) sized, with
 * the lengths it recorded.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { isSet, lengths, MAX_SAFE, type Timestamp, type ValueMap } from "./node-wire-size.ts";

/** Writes into a buffer sized beforehand; every write advances `pos`. */
export class Writer {
  pos = 0;
  /** The next slot of `lengths` to use. */
  #next = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    // No DataView: making one costs about what encoding a small answer does.
    this.buf = buf;
  }
  uint32(n: number): void {
    const buf = this.buf;
    while (n > 0x7f) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n = n >>> 7;
    }
    buf[this.pos++] = n;
  }
  int32(n: number): void {
    if (n >= 0) this.uint32(n);
    else this.int64(BigInt(n));
  }
  int64(n: bigint): void {
    const buf = this.buf;
    if (n >= 0n && n <= MAX_SAFE) {
      let v = Number(n);
      while (v >= 0x80) {
        buf[this.pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      buf[this.pos++] = v;
      return;
    }
    let u = BigInt.asUintN(64, n);
    while (u >= 0x80n) {
      buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    buf[this.pos++] = Number(u);
  }
  /** A length recorded by the sizing pass. */
  length(): number {
    const length = lengths[this.#next++] as number;
    this.uint32(length);
    return length;
  }
  string(tag: number, s: string): void {
    this.buf[this.pos++] = tag;
    const length = this.length();
    // An ASCII string (its UTF-8 length is its length) is the same bytes in latin1,
    // which Buffer writes without an encoder.
    this.buf.write(s, this.pos, length, length === s.length ? "latin1" : "utf8");
    this.pos += length;
  }
  timestamp(tag: number, t: Timestamp): void {
    this.buf[this.pos++] = tag;
    this.length();
    if (t.seconds !== 0n) {
      this.buf[this.pos++] = 0x08;
      this.int64(t.seconds);
    }
    if (t.nanos !== 0) {
      this.buf[this.pos++] = 0x10;
      this.int32(t.nanos);
    }
  }
  value(v: Value): void {
    const kind = v.kind;
    switch (kind.case) {
      case undefined:
        return;
      case "nullValue":
        this.buf[this.pos++] = 0x08;
        this.buf[this.pos++] = kind.value ? 1 : 0;
        return;
      case "stringValue":
        this.string(0x12, kind.value);
        return;
      case "intValue":
        this.buf[this.pos++] = 0x18;
        this.int64(kind.value);
        return;
      case "floatValue":
        this.buf[this.pos++] = 0x21;
        this.pos = this.buf.writeDoubleLE(kind.value, this.pos);
        return;
      case "boolValue":
        this.buf[this.pos++] = 0x28;
        this.buf[this.pos++] = kind.value ? 1 : 0;
        return;
      case "timestampValue":
        this.timestamp(0x32, kind.value);
        return;
      case "bytesValue":
        this.buf[this.pos++] = 0x3a;
        this.uint32(kind.value.byteLength);
        this.buf.set(kind.value, this.pos);
        this.pos += kind.value.byteLength;
        return;
      case "enumValue":
        this.buf[this.pos++] = 0x40;
        this.int32(kind.value);
        return;
      case "refValue":
        this.string(0x4a, kind.value);
        return;
      case "jsonValue":
        this.string(0x52, kind.value);
        return;
      case "listValue":
        this.buf[this.pos++] = 0x5a;
        this.length();
        for (const item of kind.value.values) {
          this.buf[this.pos++] = 0x0a;
          this.length();
          this.value(item);
        }
        return;
    }
  }
  /** The map's entries in the order the sizing pass enumerated them (its count and keys). */
  map(tag: number, map: ValueMap): void {
    const count = lengths[this.#next++] as number;
    for (let i = 0; i < count; i++) {
      const key = lengths[this.#next++] as number;
      this.buf[this.pos++] = tag;
      this.length();
      this.buf[this.pos++] = 0x08;
      this.uint32(key);
      this.buf[this.pos++] = 0x12;
      this.length();
      this.value(map[key] as Value);
    }
  }
  node(n: Node): void {
    if (n.id !== "") this.string(0x0a, n.id);
    if (n.typeId !== 0) {
      this.buf[this.pos++] = 0x10;
      this.uint32(n.typeId);
    }
    this.map(0x1a, n.fields);
    if (n.version !== 0n) {
      this.buf[this.pos++] = 0x20;
      this.int64(n.version);
    }
    if (isSet(n, "createdAt", n.createdAt)) this.timestamp(0x2a, n.createdAt as Timestamp);
    if (isSet(n, "updatedAt", n.updatedAt)) this.timestamp(0x32, n.updatedAt as Timestamp);
    if (n.owner !== "") this.string(0x3a, n.owner);
  }
  edge(e: Edge): void {
    if (e.edgeTypeId !== 0) {
      this.buf[this.pos++] = 0x08;
      this.uint32(e.edgeTypeId);
    }
    if (e.fromId !== "") this.string(0x12, e.fromId);
    if (e.toId !== "") this.string(0x1a, e.toId);
    this.map(0x22, e.props);
    if (isSet(e, "createdAt", e.createdAt)) this.timestamp(0x2a, e.createdAt as Timestamp);
  }
}
