export * from './errors.js';
export * from './frame.js';
export * from './messages.js';
export * from './stream.js';
export * from './connection.js';
export * from './schema.js';
export * from './transport.js';
export * from './paths.js';
