-- XREADGROUP with a byte budget, run in Redis so that what reaches the consumer is bounded
-- whatever the entries hold.
-- KEYS: the streams. ARGV: group, consumer, count, budget (bytes), largest whole entry
-- (bytes), prefix (bytes), then one id per stream: '>' for new entries, or an id to read
-- this consumer's own pending entries after it.
-- Reads in chunks (the first of 16 entries, then as many as the rest of the budget holds
-- judged by the largest entry so far) and stops once `count` entries are read or the
-- budget is spent (cut entries count in full: they passed through the script whole):
-- entries not read stay in the stream for the next call. An entry larger
-- than the largest whole entry is returned cut: its first 16 names and values clipped to
-- `prefix` bytes, and its size.
-- Reply: {{stream, {{id, fields or nil, cut size or 0}, ...}}, ...}
local group, consumer = ARGV[1], ARGV[2]
local count, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
local whole, prefix = tonumber(ARGV[5]), tonumber(ARGV[6])
local ids, position = {}, {}
for i = 1, #KEYS do
  ids[i] = ARGV[6 + i]
  position[KEYS[i]] = i
end
local out, slot = {}, {}
local read, spent, largest = 0, 0, 1
local chunk = math.min(count, 16)
while read < count and spent < budget do
  local cmd = {'XREADGROUP', 'GROUP', group, consumer, 'COUNT', chunk, 'STREAMS'}
  for i = 1, #KEYS do cmd[#cmd + 1] = KEYS[i] end
  for i = 1, #KEYS do cmd[#cmd + 1] = ids[i] end
  local reply = redis.call(unpack(cmd))
  if not reply then break end
  local got = 0
  for _, s in ipairs(reply) do
    local name = s[1]
    if not slot[name] then
      out[#out + 1] = {name, {}}
      slot[name] = #out
    end
    local entries = out[slot[name]][2]
    local last = nil
    for _, e in ipairs(s[2]) do
      got = got + 1
      last = e[1]
      local fields = e[2]
      local size = 0
      if fields then
        for _, v in ipairs(fields) do size = size + #v end
      end
      if size > whole then
        local cut = {}
        for j = 1, math.min(#fields, 16) do cut[j] = string.sub(fields[j], 1, prefix) end
        entries[#entries + 1] = {e[1], cut, size}
      else
        entries[#entries + 1] = {e[1], fields, 0}
      end
      -- A cut entry still passed through this script whole: it counts in full.
      spent = spent + size
      if size > largest then largest = size end
    end
    local i = position[name]
    if last and i and ids[i] ~= '>' then ids[i] = last end
  end
  if got == 0 then break end
  read = read + got
  chunk = math.max(1, math.min(count - read, math.floor((budget - spent) / largest)))
end
return out
