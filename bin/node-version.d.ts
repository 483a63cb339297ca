/** The oldest Node.js that runs entdb. */
export declare const MIN_NODE: string;
/** Why entdb cannot run on Node.js `version`, or undefined when it can. */
export declare function nodeVersionProblem(version: string): string | undefined;
