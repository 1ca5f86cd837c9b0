/** Adaptive forward error correction over sealed packets (issue 7); see each module. */
export * from './loss-estimator.js';
export * from './receive-groups.js';
export * from './repair-frame.js';
export * from './send-groups.js';
export * from './session-fec.js';
