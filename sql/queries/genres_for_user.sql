-- Answers: the genres closest to user 42's taste: the dot product of the user's vector with each
-- genre's vector (one space: how much the user's predicted rating rises with that genre's
-- direction). Both views read the same current run within this one statement.
select g.genre, g.source,
       round((select sum(uv.x * gv.x)
              from unnest(u.vector) with ordinality as uv(x, i)
              join unnest(g.vector) with ordinality as gv(x, i) using (i))::numeric, 4) as affinity
from latent.user_embeddings u
cross join latent.genre_features g
where u.user_id = 42
order by affinity desc
limit 5;
