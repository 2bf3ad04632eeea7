/**
 * The package's Node entry (`@oms-audit/sdk` under Node, or `@oms-audit/sdk/node`):
 * everything of the browser entry, plus the parts that need a file system and
 * process signals (a spill folder, draining on exit).
 */
export * from './index.ts';
export { drainOnExit, fileSpill } from './node.ts';
