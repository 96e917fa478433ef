/** The benchmark's printed report: a Markdown table of medians per case and tool, and the goals met or missed. */
import type { ResultRow, ResultSet } from './results';

const PEERS = ['crane', 'regctl', 'skopeo'];

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) {
    return '-';
  }
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

function formatRuns(row: ResultRow): string {
  const runs = row.runs_ms.map((ms) => (ms >= 100 ? Math.round(ms).toString() : ms.toFixed(1))).join(' ');
  const failures = row.failures?.length ? ` (${row.failures.length} failed)` : '';
  return runs + failures;
}

/** Returns the table: one line per case and tool, with each tool's median divided by promote's. */
export function resultTable(results: ResultSet): string {
  const lines = [
    '| case | tool | median | runs (ms) | peak RSS | ÷ promote |',
    '| --- | --- | ---: | --- | ---: | ---: |',
  ];
  for (const row of results.rows) {
    const ours = results.find(row.case, 'promote');
    const ratio = ours && row.tool !== 'promote' ? (row.median_ms / ours.median_ms).toFixed(2) : '';
    const rss = row.peak_rss_mib === null ? '-' : `${row.peak_rss_mib.toFixed(0)} MiB`;
    lines.push(`| ${row.case} | ${row.tool} | ${formatMs(row.median_ms)} | ${formatRuns(row)} | ${rss} | ${ratio} |`);
  }
  return lines.join('\n');
}

interface Goal {
  caseName: string;
  text: string;
  /** Returns the measured figure and whether the goal was met, or undefined when the case did not run. */
  check(results: ResultSet): { measured: string; met: boolean } | undefined;
}

function fastestPeer(results: ResultSet, caseName: string): ResultRow | undefined {
  return results
    .forCase(caseName)
    .filter((row) => PEERS.includes(row.tool) && row.runs_ms.length > 0)
    .sort((left, right) => left.median_ms - right.median_ms)[0];
}

function noSlowerThanPeers(caseName: string): Goal {
  return {
    caseName,
    text: `${caseName}: no slower than the fastest peer`,
    check(results) {
      const ours = results.find(caseName, 'promote');
      const peer = fastestPeer(results, caseName);
      if (!ours || !peer) {
        return undefined;
      }
      const measured = `promote ${formatMs(ours.median_ms)}, ${peer.tool} ${formatMs(peer.median_ms)}`;
      return { measured, met: !ours.failures && ours.median_ms <= peer.median_ms };
    },
  };
}

function fasterThan(caseName: string, limitMs: number, noUpload: boolean): Goal {
  return {
    caseName,
    text: `${caseName}: under ${limitMs} ms${noUpload ? ', no blob bytes sent' : ''}`,
    check(results) {
      const ours = results.find(caseName, 'promote');
      if (!ours) {
        return undefined;
      }
      const uploads = (ours.details?.bytes_uploaded ?? []) as number[];
      const sent = uploads.reduce((sum, bytes) => sum + bytes, 0);
      const measured = `${formatMs(ours.median_ms)}${noUpload ? `, ${sent} bytes sent over ${uploads.length} runs` : ''}`;
      const met = !ours.failures && ours.median_ms < limitMs && (!noUpload || (sent === 0 && uploads.length > 0));
      return { measured, met };
    },
  };
}

const GOALS: Goal[] = [
  noSlowerThanPeers('cross-5x40'),
  noSlowerThanPeers('cross-1g'),
  {
    caseName: 'cross-1g',
    text: 'cross-1g: peak RSS at most 100 MiB',
    check(results) {
      const rss = results.find('cross-1g', 'promote')?.peak_rss_mib;
      return rss == null ? undefined : { measured: `${rss.toFixed(1)} MiB`, met: rss <= 100 };
    },
  },
  fasterThan('same-5x40', 150, true),
  fasterThan('activity-same', 30, true),
  {
    caseName: 'release-4',
    text: 'release-4: under 1 s beyond the copies',
    check(results) {
      const beyond = results.find('release-4', 'promote')?.details?.beyond_copies_ms as number[] | undefined;
      if (!beyond?.length) {
        return undefined;
      }
      const sorted = [...beyond].sort((a, b) => a - b);
      const middle = sorted[Math.floor(sorted.length / 2)];
      return { measured: `median ${formatMs(middle)} (runs: ${beyond.join(' ')})`, met: middle < 1000 };
    },
  },
  {
    caseName: 'releases-100',
    text: 'releases-100: all correct within 60 s',
    check(results) {
      const row = results.find('releases-100', 'promote');
      if (!row) {
        return undefined;
      }
      const correct = (row.details?.correct ?? []) as number[];
      const allCorrect = correct.length > 0 && correct.every((count) => count === 100);
      const measured = `${formatMs(row.median_ms)}, correct per run: ${correct.join(' ')}`;
      return { measured, met: allCorrect && !row.failures && row.median_ms < 60_000 };
    },
  },
];

/** Returns one line per goal whose case ran: met or missed, with the measured figures. */
export function goalLines(results: ResultSet): string[] {
  const lines: string[] = [];
  for (const goal of GOALS) {
    const outcome = goal.check(results);
    if (outcome) {
      lines.push(`${outcome.met ? 'met   ' : 'MISSED'}  ${goal.text}: ${outcome.measured}`);
    }
  }
  return lines;
}
