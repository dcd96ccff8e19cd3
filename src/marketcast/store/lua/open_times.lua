-- Every open time of one topic, oldest first, without sending the candles over the wire.
--
-- KEYS: 1 candles (sorted set, score = open time)
-- Scores are integral milliseconds below 2^53, so they convert to integer replies exactly.

local flat = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local times = {}
for i = 2, #flat, 2 do
  times[#times + 1] = tonumber(flat[i])
end
return times
