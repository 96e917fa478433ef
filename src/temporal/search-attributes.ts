import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Pipeline name of a release. */
export const PIPELINE_ATTRIBUTE = defineSearchAttributeKey('PromotePipeline', SearchAttributeType.KEYWORD);
/** Source digest of a release (`sha256:…`). */
export const DIGEST_ATTRIBUTE = defineSearchAttributeKey('PromoteDigest', SearchAttributeType.KEYWORD);
/** Stage the release is in, or reached last. */
export const STAGE_ATTRIBUTE = defineSearchAttributeKey('PromoteStage', SearchAttributeType.KEYWORD);
/** Release state: running, awaiting-approval, completed, failed, superseded, expired, rejected, cancelled. */
export const STATE_ATTRIBUTE = defineSearchAttributeKey('PromoteState', SearchAttributeType.KEYWORD);

/** Every search attribute the workflows set, for registering them on a namespace. */
export const SEARCH_ATTRIBUTES = [PIPELINE_ATTRIBUTE, DIGEST_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE];

/** `--search-attribute` flags that register every attribute on `temporal server start-dev`. */
export function devServerSearchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
