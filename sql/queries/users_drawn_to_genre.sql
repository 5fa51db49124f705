-- Answers: the 10 users most drawn to Comedy: the users whose vectors have the largest dot
-- product with the Comedy genre vector (e.g. an audience for a campaign). Change the genre name
-- to ask about another genre (see latent.genre_features for the names).
select u.user_id,
       round((select sum(uv.x * gv.x)
              from unnest(u.vector) with ordinality as uv(x, i)
              join unnest(g.vector) with ordinality as gv(x, i) using (i))::numeric, 4) as affinity
from latent.user_embeddings u
join latent.genre_features g on g.genre = 'Comedy'
order by affinity desc, u.user_id
limit 10;
