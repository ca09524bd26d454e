// Shared pieces for long-running jobs: the stage and status in words, and a job's progress
// line (bar + stage) that pages update from `job-progress` events.
import { t } from './i18n.js';

/** The job's stage as a sentence ("Estimating depth…"), or its raw name when unknown. */
export function stageText(stage) {
  if (!stage) return '';
  const key = `stage.${stage}`;
  const text = t(key);
  return text === key ? stage : text;
}

/** The job's status in words. */
export function statusText(status) {
  return t(`status.${status}`);
}

/** Whether a status is final. */
export function finished(status) {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}

/** The kind of job in words. */
export function kindText(kind) {
  const key = `kind.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}
