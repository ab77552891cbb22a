-- static.lua: GET of wrk's URL on kept-alive connections (the ceilings).
dofile(os.getenv("OVSA_BENCH_LUA") .. "/report.lua")
