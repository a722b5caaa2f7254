-- Append a (and b, when given) to the list t[k]: arguments of one variadic command per key.

local function push(t, k, a, b)
  local l = t[k]
  if not l then l = {}; t[k] = l end
  l[#l + 1] = a
  if b ~= nil then l[#l + 1] = b end
end
