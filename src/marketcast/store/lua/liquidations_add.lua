-- Add a batch of liquidations to one symbol's history, atomically, once per key, and keep
-- the newest `capacity` (the same rules as marketcast.store.liquidations._History).
--
-- KEYS: 1 history (sorted set, score = time in ms, member = encoded liquidation)
-- ARGV: 1 capacity, then triples of (time, key prefix, member) in the caller's order
-- Returns the 1-based positions of the triples that were new and are still kept.
--
-- A key is (time, side, quantity), the start of the member; members of one key can only
-- sit at that key's score, and @forceOrder sends at most one per symbol per second, so
-- the check below reads a handful of members at most.

local history = KEYS[1]
local capacity = tonumber(ARGV[1])

local function known(time_ms, prefix)
  for _, member in ipairs(redis.call('ZRANGE', history, time_ms, time_ms, 'BYSCORE')) do
    if string.sub(member, 1, #prefix) == prefix then return true end
  end
  return false
end

local added = {}
for i = 2, #ARGV, 3 do
  local time_ms, prefix, member = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if not known(time_ms, prefix) then
    redis.call('ZADD', history, time_ms, member)
    added[#added + 1] = {(i + 1) / 3, member}
    local size = redis.call('ZCARD', history)
    if size > capacity then
      redis.call('ZREMRANGEBYRANK', history, 0, size - capacity - 1)
    end
  end
end

local kept = {}
for _, entry in ipairs(added) do
  if redis.call('ZSCORE', history, entry[2]) then kept[#kept + 1] = entry[1] end
end
return kept
