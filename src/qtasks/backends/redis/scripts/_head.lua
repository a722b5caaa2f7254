-- A stored task's header (decoded) and the rest of its value (the newline and the body).

local function head(raw)
  local i = string.find(raw, '\n', 1, true)
  return cjson.decode(string.sub(raw, 1, i - 1)), string.sub(raw, i)
end
