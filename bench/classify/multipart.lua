-- wrk script: POST one image as multipart/form-data (field `file`, plus `model` if given)
-- and print the run's figures as one JSON line (rps counts 2xx answers only).
-- Usage: wrk ... -s multipart.lua URL -- IMAGE [MODEL]

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local image = f:read("*a")
  f:close()
  local boundary = "atelierbenchboundary7MA4YWxkTrZu0gW"
  local parts = {}
  if args[2] and args[2] ~= "" then
    parts[#parts + 1] = "--" .. boundary .. "\r\n"
      .. 'Content-Disposition: form-data; name="model"\r\n\r\n' .. args[2] .. "\r\n"
  end
  parts[#parts + 1] = "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="file"; filename="image.jpg"\r\n'
    .. "Content-Type: image/jpeg\r\n\r\n" .. image .. "\r\n"
  parts[#parts + 1] = "--" .. boundary .. "--\r\n"
  wrk.method = "POST"
  wrk.body = table.concat(parts)
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, '
      .. '"errors": %d, "non2xx": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6,
    (summary.requests - e.status) / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
