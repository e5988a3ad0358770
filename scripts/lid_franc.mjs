// Language identification with franc-all (npm), one text per stdin line -> one ISO 639-3 code per
// stdout line ("und" when franc declines). Used by scripts/lid_compare.py.
//
//   npm install --prefix /work/scratch/js franc-all@7
//   FRANC_ALL=/work/scratch/js/node_modules/franc-all/index.js node scripts/lid_franc.mjs [codes,...]
//
// The optional argument restricts the label set (franc's `only`). Timing of the identification
// loop alone goes to stderr as JSON.
import { readFileSync } from 'node:fs';

const mod = await import(process.env.FRANC_ALL || 'franc-all');
const only = process.argv[2] ? process.argv[2].split(',') : undefined;
const lines = readFileSync(0, 'utf8').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const out = [];
const t0 = process.hrtime.bigint();
for (const line of lines) {
  out.push(mod.franc(line, only ? { minLength: 1, only } : { minLength: 1 }));
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
process.stderr.write(JSON.stringify({ sentences: lines.length, seconds: secs }) + '\n');
