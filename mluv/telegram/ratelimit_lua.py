"""The Lua scripts of mluv.telegram.ratelimit: each runs atomically in Redis, so any number of processes
book one schedule. Times are integer microseconds; `now` is Redis's TIME unless a test passes its clock."""

# KEYS: global TAT, global penalty, chat TAT, chat penalty. ARGV: now (µs, or -1 for Redis TIME), max wait
# (µs, or -1: no limit), use global (0/1), has chat (0/1), global interval, global tolerance, chat interval,
# chat tolerance (µs). Returns {code, wait µs}: 1 booked (send after the wait), 2 the chat is not ready yet
# (nothing booked: wait, then ask again), 0 refused (the wait exceeds max wait; nothing booked).
#
# The chat is checked first and the global slot booked only once the chat is ready: a group's slot three
# seconds away must not book (and so block) three seconds of the global schedule that other chats can use.
# The chat's TAT then moves past the global slot actually booked, so two sends to one chat stay apart even
# when both queue behind other chats.
RESERVE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local max_wait = tonumber(ARGV[2])
local use_global = ARGV[3] == '1'
local has_chat = ARGV[4] == '1'
local function num(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end
local function store(key, tat)
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local chat_tat = 0
if has_chat then
  chat_tat = num(KEYS[3])
  local ready = math.max(chat_tat - tonumber(ARGV[8]), num(KEYS[4]))
  if ready > now then
    local wait = ready - now
    if max_wait >= 0 and wait > max_wait then
      return {0, string.format('%.0f', wait)}
    end
    return {2, string.format('%.0f', wait)}
  end
end
local slot = now
local global_tat = 0
if use_global then
  global_tat = num(KEYS[1])
  slot = math.max(slot, global_tat - tonumber(ARGV[6]), num(KEYS[2]))
end
local wait = slot - now
if max_wait >= 0 and wait > max_wait then
  return {0, string.format('%.0f', wait)}
end
if use_global then
  store(KEYS[1], math.max(global_tat, slot) + tonumber(ARGV[5]))
end
if has_chat then
  store(KEYS[3], math.max(chat_tat, slot) + tonumber(ARGV[7]))
end
return {1, string.format('%.0f', wait)}
"""

# KEYS: penalty keys. ARGV: now (µs or -1), seconds (µs). Pushes each penalty to now + seconds at least.
PENALIZE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local latest = now + tonumber(ARGV[2])
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if latest > current then
    redis.call('SET', KEYS[i], string.format('%.0f', latest), 'PX', math.ceil((latest - now) / 1000) + 1000)
  end
end
return 1
"""

# Right before a send leaves. KEYS: global TAT, global penalty, chat TAT, chat penalty, departures (ZSET).
# ARGV: now (µs or -1), max wait (µs or -1), use global, has chat, global interval, global tolerance, chat
# interval, chat tolerance, window (µs), window limit, a unique member. Returns {1, 0}: go now (recorded as
# a departure); {2, wait}: a penalty or a full window stands in the way, a new slot `wait` away is booked
# (the chat's after every send already booked to it); {0, wait}: that slot is past max wait, nothing booked.
#
# The booked slots keep the rate, but a sender the event loop wakes late leaves late: after a one-second
# stall every sender it held leaves at once. Departures are counted in any window of `window`, so however
# late they leave, no window holds more than the limit.
DEPART = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local max_wait = tonumber(ARGV[2])
local use_global = ARGV[3] == '1'
local has_chat = ARGV[4] == '1'
local window = tonumber(ARGV[9])
local function num(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end
local function store(key, tat)
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local free = now
if use_global then
  free = math.max(free, num(KEYS[2]))
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[5])
  local limit = tonumber(ARGV[10])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[5], count - limit, count - limit, 'WITHSCORES')
    free = math.max(free, tonumber(oldest[2]) + window)
  end
end
if has_chat then
  free = math.max(free, num(KEYS[4]))
end
if free <= now then
  if use_global then
    redis.call('ZADD', KEYS[5], now, ARGV[11])
    redis.call('PEXPIRE', KEYS[5], math.ceil(window / 1000) + 1000)
  end
  return {1, '0'}
end
local slot = free
local global_tat = 0
local chat_tat = 0
if use_global then
  global_tat = num(KEYS[1])
  slot = math.max(slot, global_tat - tonumber(ARGV[6]))
end
if has_chat then
  chat_tat = num(KEYS[3])
  slot = math.max(slot, chat_tat - tonumber(ARGV[8]))
end
local wait = slot - now
if max_wait >= 0 and wait > max_wait then
  return {0, string.format('%.0f', wait)}
end
if use_global then
  store(KEYS[1], math.max(global_tat, slot) + tonumber(ARGV[5]))
end
if has_chat then
  store(KEYS[3], math.max(chat_tat, slot) + tonumber(ARGV[7]))
end
return {2, string.format('%.0f', wait)}
"""

# KEYS: penalty keys. ARGV: now (µs or -1). Returns how long (µs) the latest penalty still runs (<= 0: none).
PENALTY_LEFT = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local latest = now
for i = 1, #KEYS do
  local penalty = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if penalty > latest then latest = penalty end
end
return string.format('%.0f', latest - now)
"""
