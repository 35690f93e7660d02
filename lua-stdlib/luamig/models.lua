-- luamig.models: field, index and constraint constructors, on_delete constants, NULL and F().
-- Every constructor validates its table and returns a tagged, frozen description that the
-- engine decodes; nothing here touches a database.

local check = require("luamig._check")
local T = check.types

local models = {}

local FieldMT = { __name = "luamig field" }
local IndexMT = { __name = "luamig index" }
local ConstraintMT = { __name = "luamig constraint" }
local ExprMT = { __name = "luamig expression" }

models._FieldMT, models._IndexMT, models._ConstraintMT, models._ExprMT =
  FieldMT, IndexMT, ConstraintMT, ExprMT

--- The value that writes SQL NULL (Lua tables cannot hold nil).
models.NULL = setmetatable({}, {
  __name = "luamig.NULL",
  __tostring = function() return "NULL" end,
  __newindex = function() error("models.NULL is read-only", 2) end,
})

local ON_DELETE = { "CASCADE", "PROTECT", "SET_NULL", "SET_DEFAULT", "DO_NOTHING", "RESTRICT" }
for _, name in ipairs(ON_DELETE) do models[name] = name end

local function not_function(v)
  if type(v) == "function" then return "a value (not a function)" end
end

-- Options every field accepts (Django's Field.__init__ arguments that matter to migrations,
-- plus the descriptive ones that are kept in state only).
local COMMON = {
  null = T.boolean, blank = T.boolean, default = T.any, unique = T.boolean,
  db_index = T.boolean, primary_key = T.boolean, db_column = T.nonempty_string,
  db_default = not_function, choices = T.table, verbose_name = T.string,
  help_text = T.string, serialize = T.boolean, auto_created = T.boolean,
  editable = T.boolean, db_comment = T.string, db_tablespace = T.string,
  unique_for_date = T.string, unique_for_month = T.string, unique_for_year = T.string,
  error_messages = T.table, validators = T.table,
}

local function keys_with(extra)
  local keys = {}
  for k, v in pairs(COMMON) do keys[k] = v end
  for k, v in pairs(extra or {}) do keys[k] = v end
  return keys
end

-- What a constructor called without a table (models.TextField()) reads; never written to.
local NO_OPTIONS = {}

local function field_type(name, spec)
  spec.keys = keys_with(spec.extra)
  local defaults, validate = spec.defaults, spec.validate
  models[name] = function(t)
    local loc = check.where(1)
    local f = { __field = name, __where = loc }
    if defaults then
      for k, v in pairs(defaults) do f[k] = v end
    end
    local problem = check.problem(name, t or NO_OPTIONS, spec, f)
    if problem then check.raise(loc, problem) end
    if validate then
      problem = validate(f)
      if problem then check.raise(loc, name .. ": " .. problem) end
    end
    return setmetatable(f, FieldMT)
  end
end

local DATE_KEYS = { auto_now = T.boolean, auto_now_add = T.boolean }
local RELATION_KEYS = {
  to = T.nonempty_string, on_delete = T.one_of(table.unpack(ON_DELETE)),
  related_name = T.string, related_query_name = T.string, to_field = T.nonempty_string,
  db_constraint = T.boolean, limit_choices_to = T.table, parent_link = T.boolean,
}

local function decimal_places_fit(f)
  if f.decimal_places > f.max_digits then
    return "'decimal_places' (" .. f.decimal_places .. ") must not exceed 'max_digits' ("
      .. f.max_digits .. ")"
  end
end

for _, name in ipairs({ "AutoField", "BigAutoField", "SmallAutoField", "IntegerField",
  "BigIntegerField", "SmallIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
  "PositiveBigIntegerField", "FloatField", "BooleanField", "TextField", "UUIDField",
  "BinaryField", "DurationField" }) do
  field_type(name, {})
end
field_type("JSONField", { extra = { encoder = T.any, decoder = T.any } })
field_type("CharField", { extra = { max_length = T.posint, db_collation = T.string },
  required = { "max_length" } })
field_type("SlugField", { extra = { max_length = T.posint, allow_unicode = T.boolean },
  defaults = { max_length = 50, db_index = true } })
field_type("EmailField", { extra = { max_length = T.posint }, defaults = { max_length = 254 } })
field_type("URLField", { extra = { max_length = T.posint }, defaults = { max_length = 200 } })
field_type("DecimalField", { extra = { max_digits = T.posint, decimal_places = T.nonnegint },
  required = { "max_digits", "decimal_places" }, validate = decimal_places_fit })
field_type("DateField", { extra = DATE_KEYS })
field_type("DateTimeField", { extra = DATE_KEYS })
field_type("TimeField", { extra = DATE_KEYS })
field_type("ForeignKey", { extra = RELATION_KEYS, required = { "to", "on_delete" } })
field_type("OneToOneField", { extra = RELATION_KEYS, required = { "to", "on_delete" } })
field_type("ManyToManyField", {
  extra = {
    to = T.nonempty_string, through = T.nonempty_string, db_table = T.nonempty_string,
    related_name = T.string, related_query_name = T.string, symmetrical = T.boolean,
    through_fields = T.string_list, db_constraint = T.boolean, limit_choices_to = T.table,
  },
  required = { "to" },
  validate = function(f)
    if f.through and f.db_table then
      return "'db_table' cannot be combined with 'through' (the through model names its table)"
    end
    if f.null ~= nil then return "'null' has no effect on a ManyToManyField" end
  end,
})

local function simple_ctor(name, mt, spec)
  return function(t)
    local loc = check.where(1)
    t = t or {}
    local v = { __kind = name, __where = loc }
    local problem = check.problem(name, t, spec, v) or (spec.validate and spec.validate(t))
    if problem then check.raise(loc, problem) end
    return setmetatable(v, mt)
  end
end

models.Index = simple_ctor("Index", IndexMT, {
  keys = { fields = T.string_list, name = T.nonempty_string, condition = T.string,
    opclasses = T.string_list, db_tablespace = T.string, include = T.string_list },
  required = { "fields", "name" },
})
models.UniqueConstraint = simple_ctor("UniqueConstraint", ConstraintMT, {
  keys = { fields = T.string_list, name = T.nonempty_string, condition = T.string,
    deferrable = T.one_of("deferred", "immediate"), include = T.string_list,
    opclasses = T.string_list, violation_error_message = T.string },
  required = { "fields", "name" },
})
models.CheckConstraint = simple_ctor("CheckConstraint", ConstraintMT, {
  keys = { check = T.nonempty_string, condition = T.nonempty_string, name = T.nonempty_string,
    violation_error_message = T.string },
  required = { "name" },
  validate = function(t)
    if t.check == nil and t.condition == nil then
      return "CheckConstraint: missing required key 'check'"
    end
  end,
})

-- F() expressions: F("price") * 2 builds a tree the query compiler turns into SQL.
local function expr(op, lhs, rhs)
  return setmetatable({ __expr = op, lhs = lhs, rhs = rhs }, ExprMT)
end
ExprMT.__add = function(a, b) return expr("+", a, b) end
ExprMT.__sub = function(a, b) return expr("-", a, b) end
ExprMT.__mul = function(a, b) return expr("*", a, b) end
ExprMT.__div = function(a, b) return expr("/", a, b) end
ExprMT.__tostring = function(e)
  if e.__expr == "F" then return "F(" .. e.name .. ")" end
  return "(" .. tostring(e.lhs) .. " " .. e.__expr .. " " .. tostring(e.rhs) .. ")"
end

--- A reference to a column of the row being updated or filtered.
function models.F(name)
  if type(name) ~= "string" or name == "" then
    check.raise(check.where(1), "F() expects a field name, got " .. check.describe(name))
  end
  return setmetatable({ __expr = "F", name = name }, ExprMT)
end

return check.strict_module(models, "luamig.models")
