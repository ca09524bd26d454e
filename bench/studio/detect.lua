-- wrk script: POST /api/v1/detect?detector=ID with one image as the multipart part `file`.
-- IMAGE (a file) and ATELIER_TOKEN come from the environment.
local f = assert(io.open(os.getenv("IMAGE"), "rb"))
local image = f:read("*all")
f:close()
local boundary = "atelierbenchboundary"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ATELIER_TOKEN")
wrk.body = "--" .. boundary .. "\r\n"
  .. "Content-Disposition: form-data; name=\"file\"; filename=\"probe.jpg\"\r\n"
  .. "Content-Type: image/jpeg\r\n\r\n" .. image .. "\r\n--" .. boundary .. "--\r\n"

local failures = 0
function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("HTTP " .. status .. ": " .. body .. "\n") end
  end
end
