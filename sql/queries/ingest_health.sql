-- Ingest health: where each partition stands, and what was rejected lately, by reason.
select consumer_group, topic, partition, next_offset, now() - updated_at as since_last_batch
from latent.consumer_offsets
order by consumer_group, topic, partition;

select reason, count(*) as events, max(received_at) as last_seen
from latent.rejected_events
where received_at > now() - interval '24 hours'
group by reason
order by events desc;
