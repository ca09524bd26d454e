-- One queued or running `train` job per studio project, enforced by the database so two
-- concurrent POST /train cannot both insert one (the check before the insert only words the
-- refusal). A duplicate left by the earlier check-then-insert is canceled first.
UPDATE jobs SET status = 'canceled'
WHERE kind = 'train' AND status IN ('queued', 'running')
  AND EXISTS (SELECT 1 FROM jobs o WHERE o.kind = 'train' AND o.status IN ('queued', 'running')
              AND (o.params::jsonb ->> 'project_id') = (jobs.params::jsonb ->> 'project_id')
              AND o.created_at < jobs.created_at);
CREATE UNIQUE INDEX jobs_one_training_per_project ON jobs (((params::jsonb ->> 'project_id')))
WHERE kind = 'train' AND status IN ('queued', 'running');
