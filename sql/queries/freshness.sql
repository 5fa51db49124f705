-- Answers: how fresh the current run of every model is: the newest rating it was trained on
-- (newest_rated_at), when it finished training and when it was switched in, and how many users
-- the served lists cover.
-- Two statements that must describe the same runs: REPEATABLE READ gives both one snapshot, so a
-- publish committed between them cannot pair one run's freshness with another run's lists (in
-- READ COMMITTED each statement takes a new snapshot). READ ONLY also lets it run on a standby.
begin transaction isolation level repeatable read read only;

select model, run_id, serves_lists, serves_vectors, newest_rated_at, trained_at, switched_at,
       now() - newest_rated_at as data_age, now() - switched_at as since_switch
from latent.current_models
order by model;

select run_id, count(distinct user_id) as users, count(*) as list_rows
from latent.recommendations
group by run_id;

commit;
