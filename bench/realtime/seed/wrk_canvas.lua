-- wrk script: POST /drawing/{r+1}/canvas as the benchmark's artists do, cycling over every
-- room r and artist a (token bench-r{r}-a{a}); each wrk thread starts at a different room.
-- Usage: wrk -t2 -c32 -d20s --latency -s wrk_canvas.lua http://127.0.0.1:PORT -- [ROOMS] [ARTISTS]
local rooms, artists = 250, 4
local counter = 0
local thread_seed = 0

function setup(thread)
  thread:set("thread_seed", thread_seed)
  thread_seed = thread_seed + 1
end

function init(args)
  rooms = tonumber(args[1]) or rooms
  artists = tonumber(args[2]) or artists
  counter = thread_seed * 7919
end

function request()
  local n = counter % (rooms * artists)
  counter = counter + 1
  local r, a = math.floor(n / artists), n % artists
  local x = counter % 1000
  local body = string.format(
    '{"client_id":"t%dx%d","points":[[%d,10],[%d,40],[%d,90]],"color":"#336699","width":6.0}',
    counter, thread_seed, x, x + 20, x + 40)
  return wrk.format("POST", string.format("/drawing/%d/canvas", r + 1), {
    ["Content-Type"] = "application/json",
    ["Authorization"] = string.format("Token bench-r%d-a%d", r, a),
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx responses: %d\n", summary.errors.status))
end
