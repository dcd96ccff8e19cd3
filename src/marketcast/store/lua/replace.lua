-- Replace one topic's whole history, atomically, and log a reset to the change feed.
--
-- KEYS: 1 candles (sorted set), 2 meta (hash), 3 topic registry (set), 4 change feed
-- ARGV: 1 now_ms, 2 topic name, 3 feed max length (approximate),
--       then pairs of (open time, encoded candle), already cut to capacity by the caller
-- Returns the topic's new sequence number.
--
-- Known exchange gaps in the meta hash survive: they are facts about the exchange, not
-- about the history being replaced.

local candles, meta, registry, feed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now_ms, topic, feed_max = ARGV[1], ARGV[2], ARGV[3]
local CHUNK = 1000 -- ZADD arguments per call: unpack() has a bounded stack

redis.call('DEL', candles)
local batch = {}
for i = 4, #ARGV, 2 do
  batch[#batch + 1] = ARGV[i]
  batch[#batch + 1] = ARGV[i + 1]
  if #batch >= 2 * CHUNK then
    redis.call('ZADD', candles, unpack(batch))
    batch = {}
  end
end
if #batch > 0 then
  redis.call('ZADD', candles, unpack(batch))
end

redis.call('SADD', registry, topic)
local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('HSET', meta, 'updated_at_ms', now_ms)
redis.call('XADD', feed, 'MAXLEN', '~', feed_max, '*', 'topic', topic, 'seq', seq, 'reset', 1)
return seq
