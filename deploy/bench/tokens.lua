-- wrk script: a different Bearer token on every request, read from a file (one per line).
--   wrk ... -s tokens.lua URL -- TOKENS_FILE [FIRST_LINE]
-- Starting at FIRST_LINE (1-based) lets consecutive runs use tokens no run has used before.
local tokens, index = {}, 0

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  index = tonumber(args[2] or "1") - 1
end

function request()
  index = index % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[index] })
end
