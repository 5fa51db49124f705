-- 001: the latent schema: ratings, tombstones, movies, rejected events, consumer offsets, model runs.
--
-- Each migration runs in one transaction together with its latent.schema_migrations row
-- (see Sources/Pipeline/MigrationRunner.swift), so it must not contain BEGIN/COMMIT or
-- statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM).

create schema if not exists latent;
comment on schema latent is 'Latent: movie ratings, catalogue, ingest bookkeeping and model runs.';

create table latent.schema_migrations (
    version int primary key,
    name text not null,
    applied_at timestamptz not null default now()
);
comment on table latent.schema_migrations is 'Migrations applied by `latent migrate`, one row per sql/migrations file.';

-- Live ratings only: a retraction deletes the row (and leaves a tombstone below).
create table latent.ratings (
    user_id bigint not null,
    movie_id bigint not null,
    rating real not null,
    rated_at timestamptz not null,
    primary key (user_id, movie_id)
);
comment on table latent.ratings is 'Live ratings; for each (user, movie) the event with the newest rated_at wins.';

-- The newest retraction per pair, so that an older rating arriving late cannot resurrect it.
create table latent.rating_tombstones (
    user_id bigint not null,
    movie_id bigint not null,
    retracted_at timestamptz not null,
    primary key (user_id, movie_id)
);
comment on table latent.rating_tombstones is 'Newest retraction per (user, movie); ratings older than it are ignored.';

create table latent.movies (
    movie_id bigint primary key,
    title text not null,
    genres text[] not null default '{}',
    updated_at timestamptz not null default now()
);
comment on table latent.movies is 'Movie catalogue; the last movie event (or import) per movie wins.';

create table latent.rejected_events (
    id bigserial primary key,
    topic text not null,
    partition int not null,
    "offset" bigint not null,
    key bytea,
    payload bytea not null,
    reason text not null,
    received_at timestamptz not null default now(),
    unique (topic, partition, "offset")
);
comment on table latent.rejected_events is 'Events ingest could not accept, verbatim, with the reason.';

create table latent.consumer_offsets (
    consumer_group text not null,
    topic text not null,
    partition int not null,
    next_offset bigint not null,
    updated_at timestamptz not null default now(),
    primary key (consumer_group, topic, partition)
);
comment on table latent.consumer_offsets is 'Next Kafka offset to consume per partition, committed with the data it covers.';

create table latent.model_runs (
    run_id bigserial primary key,
    model text not null,
    parameters jsonb not null,
    ratings_count bigint,
    users_count int,
    movies_count int,
    metrics jsonb,
    durations jsonb,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null
);
comment on table latent.model_runs is 'One row per training run from the database: settings, snapshot size, metrics, durations.';

create index model_runs_model_started_idx on latent.model_runs (model, started_at desc);
