import { failedHookOutputFacts } from '../../src/cli/status-view';
import type { HookResult, StageStatus } from '../../workflows/messages';

function stageWith(...hooks: Partial<HookResult>[]): StageStatus {
  return {
    name: 'staging',
    repository: '127.0.0.1:5000/app/staging',
    environmentTag: 'staging',
    state: 'rolled-back',
    tagsMoved: [],
    requiredApprovals: 0,
    approvals: [],
    hooks: hooks.map((hook) => ({
      name: 'check',
      kind: 'command',
      passed: false,
      timedOut: false,
      durationMs: 10,
      output: '',
      outputTruncated: false,
      ...hook,
    })),
    failure: 'hook check failed (exit code 7)',
  };
}

describe('failedHookOutputFacts', () => {
  it('shows a short output whole', () => {
    expect(failedHookOutputFacts(stageWith({ output: 'one\ntwo\n' }), 'release-app-1')).toEqual([
      ['hook check output', 'one'],
      ['', 'two'],
    ]);
  });

  it('shows the last three lines and where the rest is', () => {
    const output = 'a\nb\n\nc\r\n50%\r100%\n';
    expect(failedHookOutputFacts(stageWith({ output }), 'release-app-1')).toEqual([
      ['hook check output', 'b'],
      ['', 'c'],
      ['', '100%'],
      ['', '(earlier lines: promote status release-app-1 --json)'],
    ]);
  });

  it('points to the rest of a truncated output', () => {
    const facts = failedHookOutputFacts(stageWith({ output: 'last\n', outputTruncated: true }), 'release-app-1');
    expect(facts).toEqual([
      ['hook check output', 'last'],
      ['', '(earlier lines: promote status release-app-1 --json)'],
    ]);
  });

  it('leaves out passed hooks and empty output', () => {
    const stage = stageWith({ name: 'ok', passed: true, output: 'fine' }, { name: 'quiet', output: '\n' });
    expect(failedHookOutputFacts(stage, 'release-app-1')).toEqual([]);
  });
});
