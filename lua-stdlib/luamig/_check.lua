-- luamig._check: validation of constructor tables, shared by luamig.models and
-- luamig.migrations. Constructors never raise from deep inside; they collect one message
-- and raise it with the caller's file and line, so a typo reads
-- "migrations/pages/0004_x.lua:12: CharField: unknown key 'max_lenght' (did you mean 'max_length'?)".

local core = require("luamig.core")

local M = {}

-- For specs without required keys, so a check makes no table of its own.
local NONE = {}

-- Levenshtein distance, to suggest the key the user probably meant.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = (a:sub(i, i) == b:sub(j, j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggestion(key, known)
  local best, best_d
  for name in pairs(known) do
    local d = distance(key, name)
    if d <= 2 and (best_d == nil or d < best_d or (d == best_d and name < best)) then
      best, best_d = name, d
    end
  end
  return best and (" (did you mean '" .. best .. "'?)") or ""
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Value checkers: each returns nil when v is acceptable, else a description of what is expected.
M.types = {}
local T = M.types
function T.any() return nil end
function T.boolean(v) if type(v) ~= "boolean" then return "a boolean (true or false)" end end
function T.string(v) if type(v) ~= "string" then return "a string" end end
function T.nonempty_string(v)
  if type(v) ~= "string" or v == "" then return "a non-empty string" end
end
function T.table(v) if type(v) ~= "table" then return "a table" end end
function T.func(v) if type(v) ~= "function" then return "a function" end end
function T.posint(v)
  if math.type(v) ~= "integer" or v <= 0 then return "a positive integer" end
end
function T.nonnegint(v)
  if math.type(v) ~= "integer" or v < 0 then return "a non-negative integer" end
end
function T.string_list(v)
  if type(v) ~= "table" then return "a list of strings" end
  local n = 0
  for k, item in pairs(v) do
    n = n + 1
    if math.type(k) ~= "integer" or type(item) ~= "string" then return "a list of strings" end
  end
  if n ~= #v then return "a list of strings" end
end
function T.one_of(...)
  local allowed = { ... }
  return function(v)
    for i = 1, #allowed do if v == allowed[i] then return nil end end
    return "one of " .. table.concat(allowed, ", ")
  end
end
function T.either(a, b, what)
  return function(v)
    if a(v) == nil or b(v) == nil then return nil end
    return what
  end
end

--- The caller's location, `level` frames above the function that calls `where`.
function M.where(level)
  -- Stack levels from core.where: 0 is core.where, 1 this function, 2 its caller.
  local loc = core.where(level + 2) -- not a tail call: that would drop this frame
  return loc
end

--- Raise `msg` as coming from `loc` ("file:line").
function M.raise(loc, msg)
  if loc and loc ~= "" then
    error(loc .. ": " .. msg, 0)
  end
  error(msg, 0)
end

--- Check table `t` given to constructor `ctor` against `spec`:
--- spec.keys = { key = checker }, spec.required = { "key", ... }.
--- Returns nil, or a message naming the first problem (unknown key, missing key, bad value).
--- With `into`, the entries of `t` are copied into it as they are checked, so a constructor
--- walks the table once; after a problem, `into` holds some of them and is to be dropped.
function M.problem(ctor, t, spec, into)
  if type(t) ~= "table" then
    return ctor .. " expects a table of options, got " .. type(t)
  end
  -- Fast path for the usual valid table; the sorted pass below names the first problem
  -- in a stable order when there is one.
  local keys, required, clean = spec.keys, spec.required or NONE, true
  for k, v in pairs(t) do
    local check = keys[k] -- spec keys are strings: any other key finds nothing
    if not check or check(v) ~= nil then clean = false; break end
    if into then into[k] = v end
  end
  if clean then
    -- A numeric loop: ipairs would call its iterator, a C function, once per key.
    for i = 1, #required do
      if t[required[i]] == nil then clean = false; break end
    end
    if clean then return nil end
  end
  for _, k in ipairs(sorted_keys(t)) do
    if type(k) ~= "string" then
      return ctor .. ": unexpected positional value (use key = value)"
    end
    local check = spec.keys[k]
    if check == nil then
      return ctor .. ": unknown key '" .. k .. "'" .. suggestion(k, spec.keys)
    end
    local expected = check(t[k])
    if expected then
      return ctor .. ": '" .. k .. "' must be " .. expected .. ", got " .. M.describe(t[k])
    end
  end
  for _, k in ipairs(required) do
    if t[k] == nil then
      return ctor .. ": missing required key '" .. k .. "'"
    end
  end
  return nil
end

--- Makes reading a name a library module does not have an error at the reader's line,
--- with a suggestion: `models.CharFeild` -> "luamig.models has no 'CharFeild' (did you mean
--- 'CharField'?)", instead of a later "attempt to call a nil value".
function M.strict_module(t, name)
  return setmetatable(t, { __index = function(_, key)
    error(name .. " has no '" .. tostring(key) .. "'" .. suggestion(tostring(key), t), 2)
  end })
end

--- A short description of a value for error messages.
function M.describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt and mt.__name then return mt.__name end
    return "a table"
  end
  return tostring(v)
end

return M
