// Runs every Noise known-answer vector in a cacophony/snow-format JSON file
// (`{ vectors: [...] }`) against @braid/protocol's handshake engine.
// Usage: tsx scripts/noise-vectors.ts FILE
// Prints one line per failure and ends with `N passed, N failed, N skipped`, where skipped
// counts vectors whose pattern or suite this implementation does not support. Exits 1 on any
// failure, 2 on a usage or file error.
// Imports the built package (packages/protocol/dist): the root package does not depend on it.
import { readFileSync } from 'node:fs';
import {
  createSodiumCrypto,
  runNoiseTestVector,
  type NoiseTestVector,
} from '../packages/protocol/dist/index.js';

async function main(): Promise<number> {
  const file = process.argv[2];
  if (file === undefined || process.argv.length > 3) {
    process.stderr.write('usage: tsx scripts/noise-vectors.ts FILE\n');
    return 2;
  }
  let vectors: NoiseTestVector[];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { vectors?: unknown };
    if (!Array.isArray(parsed.vectors)) throw new Error('no top-level "vectors" array');
    vectors = parsed.vectors as NoiseTestVector[];
  } catch (err) {
    process.stderr.write(`${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const crypto = await createSodiumCrypto();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  vectors.forEach((vector, index) => {
    const name = vector.protocol_name ?? `vector #${index}`;
    const result = runNoiseTestVector(crypto, vector);
    if (result.status === 'passed') passed++;
    else if (result.status === 'skipped') skipped++;
    else {
      failed++;
      for (const failure of result.failures) process.stdout.write(`FAIL ${name}: ${failure}\n`);
    }
  });
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
