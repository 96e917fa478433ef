import { checkTagTemplate, renderTagTemplate, TAG_TEMPLATE_TOKENS } from '../../src/config/tag-template';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
// 2024-02-29T07:08:09Z
const STARTED_AT = Date.UTC(2024, 1, 29, 7, 8, 9);
const VALUES = { sourceTag: '1.4.2', digest: DIGEST, pipeline: 'web', startedAt: STARTED_AT };

describe('renderTagTemplate', () => {
  it.each<[string, string]>([
    ['%n', '1.4.2'],
    ['sha-%s', 'sha-0123456789ab'],
    ['%p-%n', 'web-1.4.2'],
    ['%Y%m%d', '20240229'],
    ['%H%M%S', '070809'],
    ['%Y%m%d-%H%M%S', '20240229-070809'],
    ['plain', 'plain'],
  ])('renders %s', (template, tag) => {
    expect(renderTagTemplate(template, VALUES)).toBe(tag);
  });

  it('renders %% as a percent sign, which no tag may contain', () => {
    expect(() => renderTagTemplate('rc%%', VALUES)).toThrow('rendered "rc%", which is not a valid tag');
  });

  it('uses latest when the release started from a digest', () => {
    expect(renderTagTemplate('%n', { ...VALUES, sourceTag: undefined })).toBe('latest');
  });

  it('uses UTC whatever the local time zone', () => {
    const late = Date.UTC(2024, 11, 31, 23, 59, 59);
    expect(renderTagTemplate('%Y-%m-%d.%H', { ...VALUES, startedAt: late })).toBe('2024-12-31.23');
  });

  it('rejects a result that is not a tag', () => {
    expect(() => renderTagTemplate('.%n', VALUES)).toThrow('tag template ".%n" rendered ".1.4.2"');
  });
});

describe('checkTagTemplate', () => {
  it('accepts every documented token', () => {
    expect(checkTagTemplate(TAG_TEMPLATE_TOKENS.map((token) => `%${token}`).join('-'))).toBeUndefined();
  });

  it('names an unknown token and lists the known ones', () => {
    expect(checkTagTemplate('v%v')).toBe(
      'unknown token "%v" in tag template "v%v"; known tokens: %n %s %p %Y %m %d %H %M %S %%',
    );
  });

  it('rejects a trailing percent sign', () => {
    expect(checkTagTemplate('v1%')).toContain('unknown token "%"');
  });
});
