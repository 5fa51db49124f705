-- 003: on-demand retraining. `latent retrain-now` and `POST /retrain` queue a request here; the
-- scheduler of whichever `latent serve` instance polls first takes it (FOR UPDATE SKIP LOCKED)
-- and runs a training cycle, so a request reaches the cluster even when no HTTP port is open.

create table latent.retrain_requests (
    request_id bigserial primary key,
    requested_at timestamptz not null default now(),
    requested_by text not null,
    taken_at timestamptz,
    taken_by text
);
create index retrain_requests_pending_idx on latent.retrain_requests (request_id) where taken_at is null;
comment on table latent.retrain_requests is 'Retraining asked for outside the schedule; taken by one latent serve instance.';
