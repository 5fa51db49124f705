-- 002: published recommendations. Each run of a model writes its rows into partitions of its
-- own (one list partition per run_id of each table below, loaded by binary COPY, indexed and
-- analysed before it is attached); readers go through the views at the end, which show the
-- current run only. Switching runs is an UPDATE of latent.current_runs (a row lock, never a
-- lock that blocks readers), so a reader sees the old run or the new one, whole.

-- What a run records for readers and operators.
alter table latent.model_runs
    add column newest_rated_at timestamptz,
    add column dimensions int,
    add column global_mean real,
    add column reason text,
    add column published_at timestamptz;
alter table latent.model_runs add constraint model_runs_status_check
    check (status in ('running', 'succeeded', 'published', 'current', 'rejected', 'failed', 'retired'));
comment on column latent.model_runs.status is
    'running; succeeded (trained, not published); published (rows loaded, not current); current; '
    'rejected (guardrail, see reason); failed (see metrics.error); retired (was current, kept for rollback or dropped)';
comment on column latent.model_runs.metrics is
    'Validation metrics: rmse, mae, ndcg_at_10, recall_at_20, coverage (of the published lists), popularity_ndcg_at_10';
comment on column latent.model_runs.dimensions is 'Length of the published vectors (0: lists only, e.g. popularity)';
comment on column latent.model_runs.global_mean is 'The global mean rating the published biases and vectors add to (0 for ranking models)';
comment on column latent.model_runs.durations is 'Seconds per phase: snapshot, fit, eval, topn, publish';

-- The run each model shows; readers' views filter on it.
create table latent.current_runs (
    model text primary key,
    run_id bigint not null unique references latent.model_runs (run_id),
    switched_at timestamptz not null default now()
);
comment on table latent.current_runs is 'The current run of each model; one UPDATE switches a model to a new run.';

-- Which model's current run the unqualified views show.
create table latent.serving (
    purpose text primary key check (purpose in ('lists', 'vectors')),
    model text not null,
    reason text not null,
    chosen_at timestamptz not null default now()
);
comment on table latent.serving is
    'The model behind latent.recommendations (lists) and behind the vector views (vectors), with why it was chosen.';

-- Movies no list may show (withdrawn titles, licensing, ...): applied at publish time and by the live path.
create table latent.excluded_movies (
    movie_id bigint primary key,
    reason text not null,
    excluded_at timestamptz not null default now()
);
comment on table latent.excluded_movies is 'Movies that no published list or live refresh may recommend.';

-- Run tables: partitioned by run_id, one partition per run, created by the publisher.
create table latent.user_recommendations (
    run_id bigint not null,
    user_id bigint not null,
    rank int not null,
    movie_id bigint not null,
    score real not null
) partition by list (run_id);
create index user_recommendations_user_idx on latent.user_recommendations (user_id, rank);
comment on table latent.user_recommendations is
    'Top-N per user per run (rated and excluded movies left out); score is the model''s ranking score '
    '(for rating models the predicted rating, clipped to the scale). Read latent.recommendations instead.';

create table latent.similar_movies (
    run_id bigint not null,
    movie_id bigint not null,
    measure text not null check (measure in ('cosine', 'dot')),
    rank int not null,
    similar_movie_id bigint not null,
    similarity real not null
) partition by list (run_id);
create index similar_movies_movie_idx on latent.similar_movies (movie_id, measure, rank);
comment on table latent.similar_movies is 'Top-K similar movies per movie per run, by cosine and by dot product of the movie vectors.';

create table latent.genre_vectors (
    run_id bigint not null,
    genre text not null,
    vector real[] not null,
    source text not null check (source in ('learned', 'centroid'))
) partition by list (run_id);
create index genre_vectors_genre_idx on latent.genre_vectors (genre);
comment on table latent.genre_vectors is 'One vector per genre per run: learned by the model, or the centroid of its movies'' vectors.';

create table latent.movie_vectors (
    run_id bigint not null,
    movie_id bigint not null,
    vector real[] not null,
    bias real not null
) partition by list (run_id);
create index movie_vectors_movie_idx on latent.movie_vectors (movie_id);
comment on table latent.movie_vectors is 'Movie embeddings and biases per run.';

create table latent.user_vectors (
    run_id bigint not null,
    user_id bigint not null,
    vector real[] not null,
    bias real not null
) partition by list (run_id);
create index user_vectors_user_idx on latent.user_vectors (user_id);
comment on table latent.user_vectors is 'User embeddings and biases per run.';

-- Stable views: what downstream SQL reads. Each reads the current run id once (an InitPlan, so
-- PostgreSQL prunes the other runs' partitions at execution time).
create view latent.current_models as
select c.model, c.run_id, c.switched_at, r.finished_at as trained_at, r.newest_rated_at,
       r.ratings_count, r.users_count, r.movies_count, r.metrics, r.dimensions, r.global_mean,
       exists (select 1 from latent.serving s where s.purpose = 'lists' and s.model = c.model) as serves_lists,
       exists (select 1 from latent.serving s where s.purpose = 'vectors' and s.model = c.model) as serves_vectors
from latent.current_runs c
join latent.model_runs r using (run_id);
comment on view latent.current_models is 'The current run of every model, its snapshot and validation metrics, and what it serves.';

create view latent.recommendations as
select r.user_id, r.rank, r.movie_id, m.title, r.score, r.run_id
from latent.user_recommendations r
left join latent.movies m on m.movie_id = r.movie_id
where r.run_id = (select c.run_id from latent.current_runs c join latent.serving s on s.model = c.model where s.purpose = 'lists');
comment on view latent.recommendations is 'Top-N per user from the serving model''s current run, best first (rank 1).';

create view latent.model_recommendations as
select c.model, r.user_id, r.rank, r.movie_id, m.title, r.score, r.run_id
from latent.current_runs c
join latent.user_recommendations r on r.run_id = c.run_id
left join latent.movies m on m.movie_id = r.movie_id;
comment on view latent.model_recommendations is 'Top-N per user from the current run of every model (filter on model).';

create view latent.similar as
select s.movie_id, m.title, s.measure, s.rank, s.similar_movie_id, sm.title as similar_title, s.similarity, s.run_id
from latent.similar_movies s
left join latent.movies m on m.movie_id = s.movie_id
left join latent.movies sm on sm.movie_id = s.similar_movie_id
where s.run_id = (select c.run_id from latent.current_runs c join latent.serving v on v.model = c.model where v.purpose = 'vectors');
comment on view latent.similar is 'Most similar movies per movie (measure cosine or dot) from the current run of the model serving vectors.';

create view latent.genre_features as
select g.genre, g.vector, g.source, g.run_id
from latent.genre_vectors g
where g.run_id = (select c.run_id from latent.current_runs c join latent.serving v on v.model = c.model where v.purpose = 'vectors');
comment on view latent.genre_features is 'One vector per genre, in the same space as latent.user_embeddings and latent.movie_embeddings.';

create view latent.movie_embeddings as
select v.movie_id, m.title, v.vector, v.bias, v.run_id
from latent.movie_vectors v
left join latent.movies m on m.movie_id = v.movie_id
where v.run_id = (select c.run_id from latent.current_runs c join latent.serving s on s.model = c.model where s.purpose = 'vectors');
comment on view latent.movie_embeddings is 'Movie vectors and biases of the model serving vectors: score = user vector . movie vector + biases.';

create view latent.user_embeddings as
select v.user_id, v.vector, v.bias, v.run_id
from latent.user_vectors v
where v.run_id = (select c.run_id from latent.current_runs c join latent.serving s on s.model = c.model where s.purpose = 'vectors');
comment on view latent.user_embeddings is
    'User vectors and biases of the model serving vectors: predicted rating = global_mean (latent.current_models) '
    '+ user bias + movie bias + user vector . movie vector.';

-- Downstream readers: SELECT on the views and nothing else. Views run with their owner's
-- rights, so the reader needs no grant on the tables behind them.
-- Roles belong to the whole cluster: another database's migration may have created it already.
do $$
begin
    create role latent_reader nologin;
exception when duplicate_object then
    null;
end
$$;
comment on role latent_reader is 'Downstream readers: grant this role to a login role; it can read the latent views only.';
grant usage on schema latent to latent_reader;
grant select on latent.current_models, latent.recommendations, latent.model_recommendations, latent.similar,
    latent.genre_features, latent.movie_embeddings, latent.user_embeddings to latent_reader;
