// The Node.js versions entdb runs on, checked by the launcher before anything else loads.

/** The oldest Node.js that runs entdb: it strips TypeScript types without a flag. */
export const MIN_NODE = "22.18.0";

/**
 * Why entdb cannot run on Node.js `version` ("20.20.2"), or undefined when it can.
 * @param {string} version
 * @returns {string | undefined}
 */
export function nodeVersionProblem(version) {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE.split(".").map(Number);
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return undefined;
  return `this is Node.js ${version}, and entdb needs Node.js ${MIN_NODE} or newer (Node 24 LTS is tested). Install a newer Node.js and run the command again.`;
}
