// Entry point of the workflow bundle: every workflow type the worker registers.
export { releaseWorkflow } from './release';
export { rollbackWorkflow } from './rollback';
export { stageWorkflow } from './stage';
export { releaseEventsWorkflow } from './events';
export { watchWorkflow } from './watch';
