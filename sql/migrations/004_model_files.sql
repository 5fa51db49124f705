-- 004: the trained model itself, for runs whose users cannot be folded in from the published
-- vectors alone (the neural embedder embeds a user through its encoder). The live path of any
-- `latent serve` instance loads it from here, so every instance refreshes lists the same way.

create table latent.model_files (
    run_id bigint primary key references latent.model_runs (run_id) on delete cascade,
    bytes bytea not null
);
comment on table latent.model_files is 'Model files (Latent format) of published runs that need more than their vectors to fold users in.';
