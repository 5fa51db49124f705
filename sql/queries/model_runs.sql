-- The latest training runs: what was trained on how much data, how well, and how long it took.
select run_id, model, status,
       parameters ->> 'k' as k,
       ratings_count, users_count, movies_count,
       (metrics ->> 'train_rmse')::float as train_rmse,
       (metrics ->> 'test_rmse')::float as test_rmse,
       (durations ->> 'fit')::float as fit_seconds,
       finished_at - started_at as wall_time
from latent.model_runs
order by run_id desc
limit 10;
