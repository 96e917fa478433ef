import { parseDuration } from '../../src/config/duration';

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['250ms', 250],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    [' 2s ', 2_000],
    ['0s', 0],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'ten minutes', '10 min', '-5s', '1w', '5S', 's'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
