export * from './codec.js';
export * from './packet.js';
export * from './frames.js';
export * from './transport-params.js';
