/** Names shared by the workers, the workflows and every client. Workflows import this file, so it has no I/O. */

/** Task queue that the workers poll and every workflow of the product runs on. */
export const TASK_QUEUE = 'image-promoter';

/** Workflow type names: the names of the functions exported from `workflows/index.ts`. */
export const RELEASE_WORKFLOW_TYPE = 'releaseWorkflow';
export const STAGE_WORKFLOW_TYPE = 'stageWorkflow';
export const ROLLBACK_WORKFLOW_TYPE = 'rollbackWorkflow';

/** Ledger entries a stage workflow keeps when it continues as new; older entries are dropped. */
export const LEDGER_MAX_ENTRIES = 300;

/** Bytes of a hook's output kept in the release status. */
export const HOOK_OUTPUT_MAX_BYTES = 4096;

/** Characters of a hook's output kept in a ledger entry, so that hundreds of entries fit in one payload. */
export const LEDGER_HOOK_OUTPUT_MAX_CHARS = 200;
