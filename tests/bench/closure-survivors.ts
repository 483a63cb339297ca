/**
 * `node [V8 flags] tests/bench/closure-survivors.ts KIND`: the smallest program found that
 * makes V8's scavenges keep what is already garbage. V8's parser marks a function written
 * as the value of an assignment (`a.b = () => …`, `a[k] = function …`) to be allocated in the
 * old generation (`CreateClosure … #1` in `--print-bytecode`); Ignition, Sparkplug and
 * Maglev do so, TurboFan does not. An old object is a root for every scavenge, so the
 * closure, garbage or not, keeps its context and all it reaches until a Mark-Compact. It makes 2 million short-lived objects,
 * one constructor call each, keeping only the last; run it with
 * `--trace-gc-nvp --max-semi-space-size=8 --min-semi-space-size=8` and read
 * `new_space_survived`. KIND picks the constructor:
 * - `closure-on-this`: `this.onwrite = (er) => f(stream, er)`, the shape of Node's
 *   `WritableState` (every `Writable`, `Duplex`, HTTP/2 stream). Under Ignition, Sparkplug
 *   or Maglev (`--no-turbofan`, `--jitless`) each scavenge copies megabytes; once
 *   TurboFan compiles the constructor, nothing.
 * - `function-on-this`: the same with a `function` expression: the same.
 * - `keyed`: `o[key] = (er) => …` on a plain object: the same.
 * - `local-then-assigned`: `const onwrite = (er) => …; this.onwrite = onwrite`: nothing.
 * - `class-field`: the closure as a class field's initializer: nothing.
 * - `bound-on-this`: `f.bind(undefined, stream)` instead of a closure: nothing survives.
 * - `closure-returned`: the closure in an object literal a plain function returns: nothing.
 * - `no-capture`: a closure on `this` that captures nothing: nothing.
 * - `writable`: `new Writable()` from `node:stream`.
 * - `getter-closure`: an object literal `{ get header() { return stream; } }`: megabytes,
 *   under TurboFan too (the literal's accessor pair is made in the old generation).
 * - `getter-this`: the same getter reading `this[OF]`, made in a function with no closure
 *   over the call: only the getter itself survives (about a third as much).
 * - `weakref`: `new WeakRef(stream)` kept instead: nothing (a scavenge clears it).
 * - `registry`: `stream` registered in a `FinalizationRegistry`: megabytes (a scavenge
 *   keeps a registered target).
 * A measurement, not a test.
 */

import { Writable } from "node:stream";

const kind = process.argv[2] ?? "closure-on-this";
const f = (stream: object, er: unknown) => (er ? null : stream);

class ClosureOnThis {
  onwrite: (er: unknown) => unknown;
  constructor(stream: object) {
    this.onwrite = (er) => f(stream, er);
  }
}
class FunctionOnThis {
  onwrite: (er: unknown) => unknown;
  constructor(stream: object) {
    this.onwrite = function onwrite(er: unknown) {
      return f(stream, er);
    };
  }
}
class LocalThenAssigned {
  onwrite: (er: unknown) => unknown;
  constructor(stream: object) {
    const onwrite = (er: unknown) => f(stream, er);
    this.onwrite = onwrite;
  }
}
class ClassField {
  stream: object;
  onwrite = (er: unknown) => f(this.stream, er);
  constructor(stream: object) {
    this.stream = stream;
  }
}
const keyed = (stream: object, key: string) => {
  const o: Record<string, (er: unknown) => unknown> = {};
  o[key] = (er) => f(stream, er);
  return o;
};
class BoundOnThis {
  onwrite: (er: unknown) => unknown;
  constructor(stream: object) {
    this.onwrite = f.bind(undefined, stream);
  }
}
class NoCapture {
  onwrite: (er: unknown) => unknown;
  constructor(_stream: object) {
    this.onwrite = (er) => f({}, er);
  }
}
const closureReturned = (stream: object) => ({ onwrite: (er: unknown) => f(stream, er) });

const registry = new FinalizationRegistry(() => {});
const OF = Symbol("of");
const getterClosure = (stream: object) => ({
  get header() {
    return stream;
  },
});
const getterThis = (stream: object) => {
  const literal: { readonly header: object; readonly [OF]: object } = {
    get header() {
      return this[OF];
    },
    [OF]: stream,
  };
  return literal;
};

let last: unknown;
for (let i = 0; i < 2_000_000; i++) {
  const stream = { pad: new Array(8) };
  if (kind === "closure-on-this") last = new ClosureOnThis(stream);
  else if (kind === "function-on-this") last = new FunctionOnThis(stream);
  else if (kind === "bound-on-this") last = new BoundOnThis(stream);
  else if (kind === "keyed") last = keyed(stream, "onwrite");
  else if (kind === "local-then-assigned") last = new LocalThenAssigned(stream);
  else if (kind === "class-field") last = new ClassField(stream);
  else if (kind === "no-capture") last = new NoCapture(stream);
  else if (kind === "closure-returned") last = closureReturned(stream);
  else if (kind === "writable") last = new Writable();
  else if (kind === "getter-closure") last = getterClosure(stream);
  else if (kind === "getter-this") last = getterThis(stream);
  else if (kind === "weakref") last = new WeakRef(stream);
  else if (kind === "registry") registry.register(stream, i);
  else throw new Error(`unknown KIND ${kind}`);
}
console.log(typeof last);
