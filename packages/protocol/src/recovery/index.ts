/**
 * Loss recovery building blocks for one path: RTT estimation (RFC 9002 §5), congestion control
 * (NewReno, RFC 9002 §7; CUBIC, RFC 9438) and pacing (RFC 9002 §7.7). All sans-IO: every time
 * is a `now` in ms passed in by the caller.
 */
export * from './rtt.js';
export * from './congestion.js';
export * from './new-reno.js';
export * from './cubic.js';
export * from './pacer.js';
