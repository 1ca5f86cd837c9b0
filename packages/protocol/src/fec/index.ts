/** Adaptive forward error correction over sealed packets (issue 7); see each module. */
export * from './loss-estimator.js';
export * from './window-decoder.js';
export * from './repair-frame.js';
export * from './window-encoder.js';
export * from './session-fec.js';
export * from './window-model.js';
