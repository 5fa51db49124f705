-- What the ratings look like: volume, spread, the most rated movies with their mean rating.
select count(*) as ratings,
       count(distinct user_id) as users,
       count(distinct movie_id) as movies,
       round(avg(rating)::numeric, 3) as mean_rating,
       min(rated_at) as first_rating,
       max(rated_at) as last_rating
from latent.ratings;

select m.movie_id, m.title, m.genres, count(*) as ratings, round(avg(r.rating)::numeric, 2) as mean
from latent.ratings r
join latent.movies m using (movie_id)
group by m.movie_id, m.title, m.genres
order by ratings desc
limit 20;
