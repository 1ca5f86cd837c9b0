export * from './errors.js';
export * from './reed-solomon.js';
export { GF_POLYNOMIAL, gfDiv, gfExp, gfMul } from './galois.js';
export { mulXorInto } from './coding-loop.js';
export { codingMatrix, invert, multiply, type Matrix } from './matrix.js';
