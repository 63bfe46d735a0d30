/**
 * Pure helpers of `pinpipe provision`: the `--set key.path=value` parser and the terminal
 * checklist. No Temporal, no process: the command wires them to a client and to stderr.
 */

import { awsNames } from '../domain/aws-resources';
import {
  PROVISION_STEPS,
  STATUS_MARK,
  STEP_TITLES,
  type ProvisionStep,
  type ResourceRecord,
  type StepState,
} from '../domain/provision-steps';

export type JsonObject = { [key: string]: unknown };

/** Keys that would reach Object.prototype through a plain-object write. */
const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Sets `value` at a dot path, creating plain objects on the way: `clientHost.imageId` →
 * `{ clientHost: { imageId } }`. A path through a non-object (`a=1` then `a.b=2`) is an error
 * rather than a silent overwrite, since one of the two corrections would be lost.
 */
export function setPath(target: JsonObject, path: string, value: unknown): void {
  const keys = path.split('.');
  if (keys.some((k) => k === '')) throw new Error(`${path}: expected a dot path such as a.b.c`);
  if (keys.some((k) => UNSAFE_KEYS.has(k))) throw new Error(`${path}: key not allowed`);
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node = node[key] = {};
    else if (isObject(next)) node = next;
    else throw new Error(`${path}: ${key} is already set to a non-object`);
  }
  node[keys[keys.length - 1]!] = value;
}

/** JSON when it parses (`5`, `true`, `["sg-1"]`), else the text itself (`ami-…`, `0 2 * * *`). */
export function parseSetValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * `--settings` JSON (an object) with each `--set key.path=value` applied on top of it, in order:
 * the more specific flag wins over the blob.
 */
export function buildSettings(pairs: readonly string[], settingsJson?: string): JsonObject {
  let out: JsonObject = {};
  if (settingsJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(settingsJson);
    } catch (err) {
      throw new Error(`--settings: not JSON (${(err as Error).message})`, { cause: err });
    }
    if (!isObject(parsed)) throw new Error('--settings: expected a JSON object');
    out = structuredClone(parsed);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${pair}: expected key.path=value`);
    setPath(out, pair.slice(0, eq).trim(), parseSetValue(pair.slice(eq + 1)));
  }
  return out;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const TITLE_WIDTH = Math.max(...PROVISION_STEPS.map((s) => STEP_TITLES[s].length));
const STATUS_WIDTH = 'awaiting-correction'.length;

/** One line per step: mark, title, status, attempt n/max, then the summary or the error. */
export function checklistLine(s: StepState): string {
  const attempt = s.attempt === 0 ? '' : `${s.attempt}/${s.maxAttempts}`;
  const text =
    s.status === 'awaiting-correction' || s.status === 'failed'
      ? `error: ${s.error ?? 'failed'}`
      : s.status === 'running' && s.error
        ? // A step that reports while it runs (the cluster's state and wait) keeps that in front.
          `${s.summary ? `${s.summary}; ` : ''}retrying: ${s.error}`
        : (s.summary ?? '');
  const line = `${STATUS_MARK[s.status]} ${s.title.padEnd(TITLE_WIDTH)}  ${s.status.padEnd(STATUS_WIDTH)}  ${attempt.padEnd(7)}${oneLine(text)}`;
  return line.trimEnd();
}

export interface ChecklistView {
  pipelineId: string;
  mode: 'apply' | 'plan';
  status: string;
  steps: readonly StepState[];
}

/** The header and one line per step, as printed live and by `provision status`. */
export function checklistLines(p: ChecklistView): string[] {
  const what = p.mode === 'plan' ? 'Plan' : 'Provisioning';
  return [`${what} of pipeline ${p.pipelineId}: ${p.status}`, ...p.steps.map(checklistLine)];
}

/** Lines that differ from what was printed at the same position (a log shows only changes). */
export function changedLines(previous: readonly string[], current: readonly string[]): string[] {
  return current.filter((line, i) => previous[i] !== line);
}

/** A terminal-ish stream: stderr in the command, a fake in tests. */
export interface ChecklistOut {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/**
 * Shows the checklist as it changes: on a terminal redrawn in place (cursor up, clear, print);
 * elsewhere (logs, CI, a test's pipe) only the lines that changed, so a log reads as a history.
 */
export class ChecklistRenderer {
  private shown: string[] = [];

  constructor(private readonly out: ChecklistOut) {}

  update(lines: readonly string[]): void {
    if (!this.out.isTTY) {
      for (const line of changedLines(this.shown, lines)) this.out.write(`${line}\n`);
      this.shown = [...lines];
      return;
    }
    // A wrapped line would break the cursor-up count, so each is cut to the terminal's width.
    const width = Math.max(20, (this.out.columns ?? 120) - 1);
    const fitted = lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    if (fitted.length === this.shown.length && fitted.every((l, i) => l === this.shown[i])) return;
    const up = this.shown.length > 0 ? `\x1b[${this.shown.length}A\r\x1b[J` : '';
    this.out.write(up + fitted.map((l) => `${l}\n`).join(''));
    this.shown = fitted;
  }
}

/** The setting a person most likely corrects when a step parks, as a `--set` example. */
export function correctionExample(step: ProvisionStep, error = ''): string | undefined {
  switch (step) {
    case 'validate':
      return 'region=us-east-1';
    case 'bucket':
      return 'bucket.name=…';
    case 'topics':
      return 'topics.partitions=3';
    case 'client-host':
      if (/subnet/i.test(error)) return 'clientHost.subnetId=subnet-…';
      if (/security group/i.test(error)) return 'clientHost.securityGroupIds=\'["sg-…"]\'';
      if (/instance type/i.test(error)) return 'clientHost.instanceType=t3.micro';
      return 'clientHost.imageId=ami-…';
    case 'endpoint':
      return 'endpoint.url=http://…';
    case 'schedule':
      return "schedule.cron='0 2 * * *'";
    default:
      return undefined;
  }
}

/** What to tell a person whose run parked: the step, its error, and the commands to go on. */
export function parkedHint(p: ChecklistView & { currentStep?: ProvisionStep }): string[] {
  const st = p.steps.find((s) => s.step === p.currentStep);
  if (!st) return [`pipeline ${p.pipelineId}: ${p.status}`];
  const at = `--pipeline ${p.pipelineId}`;
  const example = correctionExample(st.step, st.error);
  return [
    `Provisioning of pipeline ${p.pipelineId} is parked at step ${st.step} (${st.title}) after attempt ${st.attempt}/${st.maxAttempts}:`,
    `  ${oneLine(st.error ?? 'failed')}`,
    'Fix the cause, then either:',
    ...(example
      ? [`  pinpipe provision retry ${at} --set ${example}   # retry with a corrected setting`]
      : []),
    `  pinpipe provision retry ${at}   # retry as is, once the cause is fixed elsewhere`,
    `  pinpipe provision abort ${at}   # remove what this run created and give up`,
    `The run stays parked until then (pinpipe provision status ${at}).`,
  ];
}

/** Rows for the resource table (plan: create / exists / differs; apply: what was done). */
export function resourceRows(steps: readonly StepState[]): Record<string, string>[] {
  return steps.flatMap((s) =>
    s.resources.map((r: ResourceRecord) => ({
      step: s.step,
      kind: r.kind,
      resource: r.id,
      outcome: r.outcome,
      detail: oneLine(r.detail ?? ''),
    })),
  );
}

/** `4 created, 6 exists`: the outcomes in first-seen order, for the line under the table. */
export function outcomeCounts(resources: readonly { outcome: string }[]): string {
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  if (counts.size === 0) return 'no resources';
  return [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(', ');
}

/** What `awsAccessLines` reads of a finished run (a ProvisionResult). */
export interface AccessView {
  pipelineId: string;
  mode: 'apply' | 'plan';
  status: string;
  steps: readonly StepState[];
  inventory?: { region: string };
}

/**
 * After a completed aws run: how to fetch the SSH private key and the API token (both in
 * Secrets Manager, never printed themselves) and the API Gateway invoke URL. Nothing for
 * another target, a plan, or a run that did not complete.
 */
export function awsAccessLines(r: AccessView): string[] {
  if (r.mode !== 'apply' || r.status !== 'completed') return [];
  const done = (step: ProvisionStep) => r.steps.find((s) => s.step === step && s.status === 'done');
  const names = awsNames(r.pipelineId);
  const region = r.inventory ? ` --region ${r.inventory.region}` : '';
  const get = (secret: string) =>
    `aws secretsmanager get-secret-value${region} --secret-id ${secret} --query SecretString --output text`;
  const lines: string[] = [];
  if (done('key-pair')) {
    const pem = `${names.keyPair}.pem`;
    lines.push(
      `SSH private key of key pair ${names.keyPair} (Secrets Manager ${names.sshKeySecret}):`,
      `  (umask 077 && ${get(names.sshKeySecret)} > ${pem})`,
    );
  }
  if (done('api-token')) {
    lines.push(
      `API token, sent as "Authorization: Bearer <token>" (Secrets Manager ${names.apiTokenSecret}):`,
      `  ${get(names.apiTokenSecret)}`,
    );
  }
  const api = done('api-gateway')?.resources.find((x) => x.kind === 'rest-api');
  const url = /^https:\/\/\S+/.exec(api?.detail ?? '')?.[0];
  if (url) lines.push(`Invoke URL (API Gateway): ${url}`);
  return lines;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
