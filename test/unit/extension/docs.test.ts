/** The metrics page the panels link to: it exists, it is packed into the extension, and it says what the code does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCS_PAGES, openDocsNotification } from '../../../src/shared/webviewProtocol';
import { POOR_TARGET_FIT, TARGET_DNN_ORDER } from '../../../src/analysis/experiments/taskComplexity';
import { STUDENT_ORDER, STUDENT_WIDTH } from '../../../src/analysis/experiments/distill';
import { DEFAULT_SENSITIVITY } from '../../../src/analysis/experiments/compress';

const ROOT = join(__dirname, '..', '..', '..');

/** Whether a path is packed under an allow-list `.vscodeignore` (gitignore-style globs, the last matching rule wins). */
function packed(ignore: string, path: string): boolean {
  let included = true;
  for (const raw of ignore.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const glob = negate ? line.slice(1) : line;
    const re = new RegExp(
      `^${glob
        .split('**')
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
        .join('.*')}$`,
    );
    if (re.test(path)) included = negate;
  }
  return included;
}

test('every docs page a panel links to exists and is packed into the extension', () => {
  const ignore = readFileSync(join(ROOT, '.vscodeignore'), 'utf8');
  assert.equal(packed(ignore, 'src/analysis/cli/cli.ts'), false, 'the allow-list reading works: sources are left out');
  assert.equal(packed(ignore, 'dist/engine.js'), true);
  for (const rel of Object.values(DOCS_PAGES)) {
    assert.ok(existsSync(join(ROOT, rel)), `${rel} exists`);
    assert.ok(packed(ignore, rel), `${rel} is packed by .vscodeignore`);
  }
  const msg = openDocsNotification.message({ page: 'metrics' });
  assert.ok(openDocsNotification.is(JSON.parse(JSON.stringify(msg))));
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /docs\/METRICS\.md/, 'the README links the page');
});

test('METRICS.md defines every metric with the paper’s reference and states the settings the code uses', () => {
  const md = readFileSync(join(ROOT, DOCS_PAGES.metrics), 'utf8');
  const headings = md.split('\n').filter((l) => l.startsWith('## '));
  for (const name of [
    'Significance ρ⁽ˡ⁾',
    'Shapley values φ_train and φ_gap',
    'Effectiveness α_effective',
    'Over-fitting α_overfit',
    'Reliability',
    'Substitution accuracy',
    'predictor',
    'Task complexity',
    'Compression and distillation',
  ]) {
    assert.ok(
      headings.some((h) => h.includes(name)),
      `a section for ${name}`,
    );
  }
  for (const ref of ['Eq. (1)', 'Eq. (2)', 'Eq. (3)', 'Eq. (4)', 'Eq. (5)', 'Exp. 1', 'Exp. 4', 'Exp. 5', 'Exp. 6', 'Appendix A', 'Appendix G'])
    assert.ok(md.includes(ref), ref);
  assert.match(md, /Residue/);
  assert.match(md, /ρ_rel = Var\[rel\]\/Var\[c\] ∈ \[0, 1\]/);
  // The numbers that are settings of the code, as the code has them.
  assert.ok(md.includes(`disentangler with ${TARGET_DNN_ORDER} ReLU blocks`), 'task-complexity target DNN depth');
  assert.ok(md.includes(`fit\n  is below ${POOR_TARGET_FIT}`) || md.includes(`is below ${POOR_TARGET_FIT}`), 'poor-fit threshold');
  assert.ok(md.includes(`our \`Φ⁽${'⁰¹²³⁴⁵⁶⁷⁸⁹'[STUDENT_ORDER]}⁾\``) && md.includes(`width ${STUDENT_WIDTH}`), 'distillation student');
  assert.ok(md.includes(`(sensitivity ${DEFAULT_SENSITIVITY.toFixed(1)}, the paper's)`), 'pruning sensitivity');
});
