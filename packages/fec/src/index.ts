export * from './errors.js';
export * from './reed-solomon.js';
export { GF_POLYNOMIAL, gfDiv, gfExp, gfMul } from './galois.js';
export { codingMatrix, invert, multiply, type Matrix } from './matrix.js';
