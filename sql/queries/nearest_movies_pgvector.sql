-- requires: pgvector
-- Answers: the 10 movies nearest Toy Story (movie_id 1) by cosine distance, through the HNSW
-- index of the current run (latent.movie_embedding_search exists only where the server has the
-- pgvector extension; elsewhere use latent.similar). Any query vector works the same way:
--     order by embedding <=> $1::vector limit 10
-- HNSW is approximate: raise `set hnsw.ef_search = 100` (default 40) for better recall.
select movie_id, title,
       round((embedding <=> (select embedding from latent.movie_embedding_search where movie_id = 1))::numeric, 4) as cosine_distance
from latent.movie_embedding_search
where movie_id <> 1
order by embedding <=> (select embedding from latent.movie_embedding_search where movie_id = 1)
limit 10;
