-- Answers: the 10 movies most like Toy Story (movie_id 1) by cosine similarity of the movie
-- vectors of the model that serves vectors (precomputed top-K; measure 'dot' is the other list).
select rank, similar_movie_id, similar_title, round(similarity::numeric, 3) as cosine, run_id
from latent.similar
where movie_id = 1 and measure = 'cosine'
order by rank
limit 10;
