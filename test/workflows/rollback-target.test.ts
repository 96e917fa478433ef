import type { LedgerEntry } from '../../workflows/messages';
import { chooseRollbackTarget } from '../../workflows/rollback-target';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const D = `sha256:${'d'.repeat(64)}`;

let sequence = 0;

function entry(kind: LedgerEntry['kind'], digest: string, previous: string | null, after?: string | null): LedgerEntry {
  sequence += 1;
  let environmentDigest = kind === 'rolled-back' ? previous : digest;
  if (after !== undefined) {
    environmentDigest = after;
  }
  return {
    id: `entry-${sequence}`,
    kind,
    digest,
    environmentDigest,
    previousDigest: previous,
    workflowId: `workflow-${sequence}`,
    runId: 'run',
    by: 'ci',
    at: '2026-01-01T00:00:00.000Z',
    tags: [],
    approvals: [],
    hooks: [],
  };
}

const promoted = (digest: string, previous: string | null) => entry('promoted', digest, previous);
const rolledBack = (digest: string, previous: string | null) => entry('rolled-back', digest, previous);
const manual = (digest: string, previous: string | null) => entry('manual-rollback', digest, previous);

test('empty ledger has no target', () => {
  expect(chooseRollbackTarget([])).toEqual({
    problem: 'the ledger is empty, so there is no earlier digest to roll back to',
  });
});

test('last good digest is the promotion before the current one', () => {
  const ledger = [promoted(A, null), promoted(B, A), promoted(C, B)];
  expect(chooseRollbackTarget(ledger)).toEqual({ target: B, headId: ledger[2].id });
});

test('failed promotions never count as good', () => {
  const ledger = [promoted(A, null), promoted(B, A), rolledBack(C, B), promoted(D, B)];
  expect(chooseRollbackTarget(ledger)).toMatchObject({ target: B });
  const afterFailure = [promoted(A, null), promoted(B, A), rolledBack(C, B)];
  expect(chooseRollbackTarget(afterFailure)).toMatchObject({ target: A });
});

test('digests rolled back away from are skipped', () => {
  const ledger = [promoted(A, null), promoted(B, A), promoted(C, B), manual(B, C)];
  expect(chooseRollbackTarget(ledger)).toMatchObject({ target: A });
});

test('nothing before the first promotion is a problem', () => {
  const ledger = [promoted(A, null), promoted(B, A), manual(A, B)];
  expect(chooseRollbackTarget(ledger)).toEqual({
    problem: `no promoted digest other than ${A} precedes it in the ledger; name a digest to roll back to`,
  });
});

test('named target must be a digest the tag has held', () => {
  const ledger = [promoted(A, null), promoted(B, A), rolledBack(C, B)];
  expect(chooseRollbackTarget(ledger, A)).toEqual({ target: A, headId: ledger[2].id });
  expect(chooseRollbackTarget(ledger, C)).toEqual({
    problem: `digest ${C} does not appear in the ledger; pick one that the environment tag has held`,
  });
  expect(chooseRollbackTarget(ledger, B)).toEqual({ problem: `the environment tag already points at ${B}` });
});

test('named target may come from a previous digest recorded before the ledger began', () => {
  const ledger = [promoted(B, D)];
  expect(chooseRollbackTarget(ledger, D)).toMatchObject({ target: D });
});
