/** Choosing the digest a manual rollback moves a stage to. Pure, so it is tested without a server. */
import type { LedgerEntry } from './messages';

export type RollbackChoice = { target: string; headId?: string } | { problem: string };

/**
 * Picks the rollback target from a stage's ledger (oldest entry first).
 *
 * With `to`, the digest must be one the environment tag has pointed at according to the ledger. Without it, the
 * target is the last good digest before the current one: the newest promoted digest, other than the current one,
 * recorded before the current digest's own latest promotion. Digests promoted after the current one are skipped
 * because the stage was moved away from them (by a rollback), and rolled-back promotions never count as good.
 */
export function chooseRollbackTarget(ledger: LedgerEntry[], to?: string): RollbackChoice {
  const head = ledger.at(-1);
  if (!head) {
    return { problem: 'the ledger is empty, so there is no earlier digest to roll back to' };
  }
  const current = head.environmentDigest;

  if (to !== undefined) {
    const known = ledger.some((entry) => entry.environmentDigest === to || entry.previousDigest === to);
    if (!known) {
      return { problem: `digest ${to} does not appear in the ledger; pick one that the environment tag has held` };
    }
    if (to === current) {
      return { problem: `the environment tag already points at ${to}` };
    }
    return { target: to, headId: head.id };
  }

  const currentPromotion = findLastIndex(ledger, (entry) => entry.kind === 'promoted' && entry.digest === current);
  const searchEnd = currentPromotion >= 0 ? currentPromotion : ledger.length;
  const earlier = findLastIndex(
    ledger.slice(0, searchEnd),
    (entry) => entry.kind === 'promoted' && entry.digest !== current,
  );
  if (earlier < 0) {
    return {
      problem: `no promoted digest other than ${current ?? 'the current one'} precedes it in the ledger; name a digest to roll back to`,
    };
  }
  return { target: ledger[earlier].digest, headId: head.id };
}

function findLastIndex<T>(items: T[], predicate: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index -= 1) {
    if (predicate(items[index])) {
      return index;
    }
  }
  return -1;
}
