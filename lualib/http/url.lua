-- http.url (skynet's): splitting a request target and decoding a query string.
--   url.parse("/a%20b?x=1")   -> "/a b", "x=1"   (the path decoded, the query as it came)
--   url.parse_query("x=1&y=a+b") -> { x = "1", y = "a b" }
local url = {}

local function hex_byte(hh)
  return string.char(tonumber(hh, 16))
end

-- "+" is a space, %XX a byte; a "%" not followed by two hex digits stays as it is.
local function decode(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", hex_byte))
end

function url.parse(u)
  local path, query = u:match("^([^?]*)%??(.*)$")
  return decode(path), query
end

function url.parse_query(q)
  local result = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^(.-)=(.*)$")
    if k then result[decode(k)] = decode(v) end
  end
  return result
end

url.decode = decode

return url
