-- luamig.errors: error values with a kind (LookupError, DoesNotExist, ...), a message and
-- the place they were raised. `pcall` returns them intact; `tostring` gives "Kind: message".

local core = require("luamig.core")

local errors = {}

local ErrorMT = {
  __name = "luamig error",
  __tostring = function(e) return e.kind .. ": " .. e.message end,
}
errors._ErrorMT = ErrorMT

--- A new error value; `level` 1 is the caller of `new`. Raised inside luamig's own
--- modules, it names the nearest line of user code instead.
function errors.new(kind, message, level)
  local where = core.where((level or 1) + 1)
  if where == "" or where:sub(1, 10) == "<embedded>" or where:sub(1, 1) == "=" then
    where = core.user_where()
  end
  return setmetatable({ kind = kind, message = message, where = where }, ErrorMT)
end

--- Raises an error value; `level` 1 blames the caller of `raise`.
function errors.raise(kind, message, level)
  local e = errors.new(kind, message, (level or 1) + 1)
  error(e, 0)
end

--- Whether `v` is an error value, optionally of `kind`.
function errors.is(v, kind)
  return getmetatable(v) == ErrorMT and (kind == nil or v.kind == kind)
end

--- Runs f(...) and returns true, results... or false, error value, traceback. Used by the
--- engine to keep error values (not just their text) when code fails.
function errors.run(f, ...)
  local tb
  local function handler(e)
    tb = core.traceback(2)
    return e
  end
  local results = table.pack(xpcall(f, handler, ...))
  if results[1] then return table.unpack(results, 1, results.n) end
  return false, results[2], tb
end

return errors
