-- wrk script of scripts/load.sh and scripts/latency.sh: POST the JSON file named by $BODY.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.body = f:read("*a")
f:close()
