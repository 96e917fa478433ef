import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import { parseDigest } from '../oci/digest';
import { parseReleaseWorkflowId, releaseWorkflowId } from '../temporal/ids';
import {
  type ApprovalInput,
  type ApprovalResult,
  approveSignal,
  approveUpdate,
  rejectSignal,
  rejectUpdate,
} from '../../workflows/messages';
import { runAction, withClient } from './action';
import { parseDigestArgument, resolveDigestArgument } from './digest-prefix';
import { CliError, ExitCode } from './exit-codes';
import {
  addCommonOptions,
  ASSERTED_IDENTITY,
  type ConnectionOptionValues,
  defaultPerson,
  findTargetStage,
  parsePerson,
} from './options';
import { printFacts, printJson } from './output';
import { isRollbackId, readWorkflowStatus, withWorkerDeadline, type WorkflowStatus } from './status-view';

type Decision = 'approve' | 'reject';

interface DecisionOptionValues extends ConnectionOptionValues {
  pipeline?: string;
  digest?: string;
  stage?: string;
  as: string;
  comment?: string;
  wait: boolean;
}

/** Workflow ID and digest a decision is for, from RELEASE_ID or from --pipeline and --digest. */
async function decisionTarget(
  client: Client,
  decision: Decision,
  id: string | undefined,
  options: DecisionOptionValues,
): Promise<{ workflowId: string; digest: string; view?: WorkflowStatus }> {
  if (id === undefined) {
    if (options.pipeline === undefined || options.digest === undefined) {
      throw new CliError(
        ExitCode.BadInput,
        'missing release: expected a RELEASE_ID argument, or --pipeline FILE with --digest sha256:<64 hex>',
      );
    }
    const pipeline = loadPipelineFile(options.pipeline);
    const digest = parseWholeDigest(options.digest);
    if (options.stage !== undefined) {
      findTargetStage(pipeline, options.stage);
    }
    return { workflowId: releaseWorkflowId(pipeline.name, digest), digest };
  }

  const digestArgument = options.digest === undefined ? undefined : parseDigestArgument(options.digest, '--digest');
  if (digestArgument !== undefined && 'digest' in digestArgument) {
    // A digest that differs from the release's is sent as given, so the workflow rejects it and returns the reason.
    return { workflowId: id, digest: digestArgument.digest };
  }
  const parsed = parseReleaseWorkflowId(id);
  // A rollback ID, or text that is no release ID: the status names the digest, or the workflow is not found.
  const view = parsed === undefined ? await readStatusBeforeDecision(client, id, decision) : undefined;
  const known = parsed?.digest ?? (view?.kind === 'rollback' ? view.status.targetDigest : view?.status.digest);
  if (known === undefined) {
    throw new CliError(
      ExitCode.BadInput,
      `rollback ${id} has not chosen its target digest yet (step: ${view?.status.currentStep}); ` +
        "try again in a moment, or pass --digest as 'promote status' shows it",
    );
  }
  const where = view?.kind === 'rollback' ? `rollback ${id}, whose target is` : `release ${id}, whose digest is`;
  const digest =
    digestArgument === undefined
      ? known
      : resolveDigestArgument(digestArgument, [known], '--digest', `${where} ${known}`);
  return { workflowId: id, digest, view };
}

/**
 * Parses --digest given with --pipeline, where it names the release, so only a whole digest will do. The error for
 * a prefix explains that a prefix works with a RELEASE_ID.
 */
function parseWholeDigest(text: string): string {
  try {
    return parseDigest(text);
  } catch (error) {
    let prefix = false;
    try {
      prefix = 'prefix' in parseDigestArgument(text, '--digest');
    } catch {
      // Neither a digest nor a prefix: the error of parseDigest shows the expected form.
    }
    if (prefix) {
      throw new CliError(
        ExitCode.BadInput,
        `--digest ${text} is a prefix, which names a release only with its RELEASE_ID; with --pipeline, ` +
          "expected the whole sha256:<64 hex>, as 'promote list --json' prints it",
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Reads the status that names the stage or digest a decision is for. Without a worker the query fails, and the
 * error states that the decision was not sent and how to send it without the query.
 */
async function readStatusBeforeDecision(
  client: Client,
  workflowId: string,
  decision: Decision,
): Promise<WorkflowStatus> {
  try {
    return await readWorkflowStatus(client, workflowId);
  } catch (error) {
    if (!(error instanceof CliError) || error.exitCode !== ExitCode.Unreachable) {
      throw error;
    }
    throw new CliError(
      ExitCode.Unreachable,
      `${decisionNoun(decision)} of ${workflowId} not sent: ${error.message}; or pass --stage (and --digest for a ` +
        'rollback) with --no-wait, which sends a signal that the workflow handles once a worker runs',
      { cause: error },
    );
  }
}

function decisionNoun(decision: Decision): string {
  return decision === 'approve' ? 'approval' : 'rejection';
}

/** Finds the stage waiting for approval, for a decision given without --stage. */
async function stageAwaitingApproval(
  client: Client,
  decision: Decision,
  workflowId: string,
  known?: WorkflowStatus,
): Promise<string> {
  const view = known ?? (await readStatusBeforeDecision(client, workflowId, decision));
  if (view.kind === 'rollback') {
    return view.status.stage;
  }
  const waiting = view.status.stages.filter((stage) => stage.state === 'awaiting-approval');
  if (waiting.length !== 1) {
    throw new CliError(
      ExitCode.BadInput,
      `missing --stage: release ${workflowId} has no stage waiting for approval (state ${view.status.state}); ` +
        'name the stage to approve ahead of time',
    );
  }
  return waiting[0].name;
}

/** Explains why a decision found no running workflow: it never existed, or it has ended. */
async function notRunningError(client: Client, workflowId: string, cause: unknown): Promise<CliError> {
  const kind = isRollbackId(workflowId) ? 'rollback' : 'release';
  const namespace = client.options.namespace;
  try {
    const status = (await client.workflow.getHandle(workflowId).describe()).status.name;
    return new CliError(
      ExitCode.BadInput,
      `${kind} ${workflowId} has ended (${status.toLowerCase()}), so it takes no decisions`,
      { cause },
    );
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) {
      throw error;
    }
    return new CliError(
      ExitCode.BadInput,
      `${kind} ${workflowId} not found in namespace ${namespace}; expected an ID that 'promote start' or ` +
        "'promote list' printed",
      { cause },
    );
  }
}

async function sendDecision(
  client: Client,
  decision: Decision,
  workflowId: string,
  input: ApprovalInput,
  wait: boolean,
): Promise<ApprovalResult | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    if (!wait) {
      await handle.signal(decision === 'approve' ? approveSignal : rejectSignal, input);
      return undefined;
    }
    // The update, unlike the signal, fails at once with the workflow's reason when the decision is rejected.
    return await withWorkerDeadline(client, `the ${decision} update of ${workflowId}`, () =>
      handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [input] }),
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw await notRunningError(client, workflowId, error);
    }
    if (error instanceof CliError) {
      throw new CliError(
        error.exitCode,
        `${decisionNoun(decision)} of stage ${input.stage} of ${workflowId} not confirmed: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function runDecision(decision: Decision, id: string | undefined, options: DecisionOptionValues): Promise<void> {
  await withClient(options, async (client) => {
    const target = await decisionTarget(client, decision, id, options);
    const stage = options.stage ?? (await stageAwaitingApproval(client, decision, target.workflowId, target.view));
    const input: ApprovalInput = { stage, digest: target.digest, person: options.as, comment: options.comment };
    const result = await sendDecision(client, decision, target.workflowId, input, options.wait);
    const verb = decision === 'approve' ? 'approved' : 'rejected';

    if (options.json) {
      printJson({ workflowId: target.workflowId, ...input, decision: verb, accepted: result !== undefined, result });
      return;
    }
    printFacts([
      [result ? verb : `${decision} sent`, `${target.workflowId} stage ${stage} as ${options.as}`],
      ['digest', target.digest],
      ['approvals', result ? `${result.approvals} of ${result.required}` : undefined],
      ['note', result ? undefined : "a signal is not confirmed; 'promote status' lists rejected decisions"],
    ]);
  });
}

function registerDecisionCommand(program: Command, decision: Decision): void {
  const command = program
    .command(decision)
    .summary(
      decision === 'approve' ? 'Approve a stage of a release or rollback' : 'Reject a stage of a release or rollback',
    )
    .description(
      decision === 'approve'
        ? "Approve a stage of a release or rollback; a rejected approval fails with the workflow's reason"
        : 'Reject a stage of a release or rollback, which ends it as rejected',
    )
    .argument('[release-id]', "release or rollback ID, as 'promote start' or 'promote list' printed it")
    .option('--pipeline <file>', 'pipeline file; with --digest, names the release instead of RELEASE_ID')
    .option(
      '--digest <digest>',
      "digest being decided on, or with RELEASE_ID a prefix of 12 or more hex digits (default: the release's " +
        "digest, or the rollback's target digest)",
    )
    .option('--stage <name>', 'stage to decide on (default: the stage waiting for approval)')
    .option('--as <name>', `person deciding; ${ASSERTED_IDENTITY}`, parsePerson, defaultPerson())
    .option('--comment <text>', 'comment kept with the decision')
    .option('--no-wait', 'send a signal and return without learning whether the decision was accepted');
  addCommonOptions(command).action(
    runAction(async (id: string | undefined, options: DecisionOptionValues) => runDecision(decision, id, options)),
  );
}

/** Registers `promote approve` and `promote reject`. */
export function registerApprovalCommands(program: Command): void {
  registerDecisionCommand(program, 'approve');
  registerDecisionCommand(program, 'reject');
}
