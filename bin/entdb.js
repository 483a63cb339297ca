#!/usr/bin/env node
// The `entdb` launcher: plain JavaScript, so that a Node.js too old to load the
// TypeScript sources (type stripping is on by default from 22.18) gets a sentence that
// says what to install instead of ERR_UNKNOWN_FILE_EXTENSION.
import { nodeVersionProblem } from "./node-version.js";

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`entdb: ${problem}\n`);
  process.exit(1);
}
await import("./entdb.ts");
