-- Upsert a batch of candles into one topic, atomically, under the version rules of
-- marketcast.domain.candles.newer_version, and log every real change to the feed.
--
-- KEYS: 1 candles (sorted set, score = open time), 2 meta (hash), 3 topic registry (set),
--       4 change feed (stream)
-- ARGV: 1 capacity, 2 now_ms, 3 topic name, 4 feed max length (approximate),
--       then pairs of (open time, encoded candle) in the order given by the caller
-- Returns the 1-based positions of the pairs that changed the store.
--
-- Each candle costs O(log n): one lookup by score, at most one ZREM/ZADD, and a trim of
-- the single oldest member when the buffer overflows.

local candles, meta, registry, feed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local capacity = tonumber(ARGV[1])
local now_ms, topic, feed_max = ARGV[2], ARGV[3], ARGV[4]

-- Member layout (see redis_codec.py): byte 9 is the closed flag, bytes 10..13 the trade
-- count as a signed big-endian 32-bit integer.
local function is_closed(member)
  return string.byte(member, 9) == 1
end

local function trades(member)
  local b1, b2, b3, b4 = string.byte(member, 10, 13)
  local n = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  if n >= 2147483648 then n = n - 4294967296 end
  return n
end

local function replaces(stored, incoming)
  if stored == incoming then return false end
  local stored_closed, incoming_closed = is_closed(stored), is_closed(incoming)
  if stored_closed and not incoming_closed then return false end
  if not stored_closed and not incoming_closed and trades(incoming) < trades(stored) then
    return false
  end
  return true
end

local function upsert(open_time, member)
  local stored = redis.call('ZRANGE', candles, open_time, open_time, 'BYSCORE')[1]
  if stored then
    if not replaces(stored, member) then return false end
    redis.call('ZREM', candles, stored)
    redis.call('ZADD', candles, open_time, member)
    return true
  end
  local size = redis.call('ZCARD', candles)
  if size >= capacity then
    local oldest = redis.call('ZRANGE', candles, 0, 0, 'WITHSCORES')
    if tonumber(open_time) < tonumber(oldest[2]) then return false end
  end
  redis.call('ZADD', candles, open_time, member)
  if size >= capacity then
    redis.call('ZREMRANGEBYRANK', candles, 0, size - capacity)
  end
  return true
end

redis.call('SADD', registry, topic)
local changed = {}
for i = 5, #ARGV, 2 do
  if upsert(ARGV[i], ARGV[i + 1]) then
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    redis.call('XADD', feed, 'MAXLEN', '~', feed_max, '*',
      'topic', topic, 'seq', seq, 'candle', ARGV[i + 1])
    changed[#changed + 1] = (i - 3) / 2
  end
end
if #changed > 0 then
  redis.call('HSET', meta, 'updated_at_ms', now_ms)
end
return changed
