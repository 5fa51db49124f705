-- Answers: the top 10 recommendations for user 42, best first, with titles, from the current run
-- of the model that serves lists. One statement always reads one whole run (the view filters on
-- latent.current_runs, which a publish switches in one transaction).
select rank, movie_id, title, round(score::numeric, 3) as score, run_id
from latent.recommendations
where user_id = 42
order by rank
limit 10;
