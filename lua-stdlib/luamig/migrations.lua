-- luamig.migrations: the Migration constructor and every operation constructor.
-- Each returns a validated, tagged table (with the caller's file:line in __where) that the
-- engine decodes into its own operation types.

local check = require("luamig._check")
local models = require("luamig.models")
local T = check.types

local migrations = {}

local OperationMT = { __name = "luamig operation" }
local MigrationMT = { __name = "luamig migration" }
migrations._OperationMT, migrations._MigrationMT = OperationMT, MigrationMT

local function is_a(v, mt) return type(v) == "table" and getmetatable(v) == mt end

local function is_field(v) if not is_a(v, models._FieldMT) then return "a field (models.XField{...})" end end
local function is_index(v) if not is_a(v, models._IndexMT) then return "a models.Index{...}" end end
local function is_constraint(v)
  if not is_a(v, models._ConstraintMT) then
    return "a models.UniqueConstraint{...} or models.CheckConstraint{...}"
  end
end

local function list_of(item_check, what)
  return function(v)
    if type(v) ~= "table" then return what end
    local n = 0
    for k, item in pairs(v) do
      n = n + 1
      if math.type(k) ~= "integer" then return what end
      local bad = item_check(item)
      if bad then return what .. " (item " .. k .. " is not " .. bad .. ")" end
    end
    if n ~= #v then return what end
  end
end

-- { {"id", models.AutoField{...}}, ... }
local function field_pair(v)
  if type(v) ~= "table" or type(v[1]) ~= "string" or v[1] == "" or #v ~= 2 then
    return "a {\"name\", models.XField{...}} pair"
  end
  return is_field(v[2])
end
local fields_list = list_of(field_pair, "a list of {\"name\", field} pairs")

-- unique_together: { {"a", "b"}, ... } or a single { "a", "b" } (normalised by the engine).
local function together(v)
  if T.string_list(v) == nil then return nil end
  return list_of(T.string_list, "a list of lists of field names")(v)
end

local MODEL_OPTIONS = {
  db_table = T.nonempty_string, managed = T.boolean, unique_together = together,
  index_together = together, indexes = list_of(is_index, "a list of models.Index{...}"),
  constraints = list_of(is_constraint, "a list of constraints"),
  ordering = T.string_list, verbose_name = T.string, verbose_name_plural = T.string,
  permissions = T.table, default_permissions = T.table, get_latest_by = T.any,
  base_manager_name = T.string, default_manager_name = T.string, db_table_comment = T.string,
  proxy = T.boolean, abstract = T.boolean, swappable = T.string, order_with_respect_to = T.string,
  default_related_name = T.string, required_db_vendor = T.string, select_on_save = T.boolean,
}
local MODEL_OPTIONS_SPEC = { keys = MODEL_OPTIONS }
local function model_options(v)
  if type(v) ~= "table" then return "a table of model options" end
  local problem = check.problem("options", v, MODEL_OPTIONS_SPEC)
  if problem then return "valid model options: " .. problem end
end

local function is_operation(v)
  if not is_a(v, OperationMT) then return "an operation (migrations.AddField{...}, ...)" end
end
local operations_list = list_of(is_operation, "a list of operations")

-- A dependency {app, name}.
local function dependency(v)
  if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "string" or type(v[2]) ~= "string" then
    return "an {\"app\", \"migration_name\"} pair"
  end
end
local dependency_list = list_of(dependency, "a list of {\"app\", \"name\"} pairs")

local function sql_item(v)
  if type(v) == "string" then return nil end
  if type(v) == "table" and type(v[1]) == "string" and (v[2] == nil or type(v[2]) == "table") then
    return nil
  end
  return "a string or a {sql, params} pair"
end
local function sql_value(v)
  if type(v) == "string" then return nil end
  return list_of(sql_item, "a string, a list of strings, or a list of {sql, params} pairs")(v)
end

-- Validates `t` and returns it tagged as operation `name`. The caller's table is copied (as
-- it is checked), so that reusing or changing it later leaves the operation alone; one luamig
-- made itself (`own`) is tagged in place.
local function build(name, t, spec, loc, own)
  if own then
    local problem = check.problem(name, t, spec)
    if problem then check.raise(loc, problem) end
    t.__op, t.__where = name, loc
    return setmetatable(t, OperationMT)
  end
  local op = { __op = name, __where = loc }
  local problem = check.problem(name, t, spec, op)
  if problem then check.raise(loc, problem) end
  return setmetatable(op, OperationMT)
end

local function operation(name, keys, required)
  local spec = { keys = keys, required = required }
  migrations[name] = function(t)
    local loc = check.where(1)
    local op = build(name, t or {}, spec, loc)
    return op
  end
end

local S = T.nonempty_string
operation("CreateModel", { name = S, fields = fields_list, options = model_options,
  bases = T.table, managers = T.table }, { "name", "fields" })
operation("DeleteModel", { name = S }, { "name" })
operation("RenameModel", { old_name = S, new_name = S }, { "old_name", "new_name" })
operation("AlterModelTable", { name = S, table = S }, { "name" })
operation("AlterModelTableComment", { name = S, table_comment = T.string }, { "name" })
operation("AlterModelOptions", { name = S, options = model_options }, { "name", "options" })
operation("AlterModelManagers", { name = S, managers = T.table }, { "name", "managers" })
operation("AlterUniqueTogether", { name = S, unique_together = together },
  { "name", "unique_together" })
operation("AlterIndexTogether", { name = S, index_together = together },
  { "name", "index_together" })
operation("AddIndex", { model_name = S, index = is_index }, { "model_name", "index" })
operation("RemoveIndex", { model_name = S, name = S }, { "model_name", "name" })
operation("AddConstraint", { model_name = S, constraint = is_constraint },
  { "model_name", "constraint" })
operation("RemoveConstraint", { model_name = S, name = S }, { "model_name", "name" })
operation("AddField", { model_name = S, name = S, field = is_field, preserve_default = T.boolean },
  { "model_name", "name", "field" })
operation("RemoveField", { model_name = S, name = S }, { "model_name", "name" })
operation("AlterField", { model_name = S, name = S, field = is_field, preserve_default = T.boolean },
  { "model_name", "name", "field" })
operation("RenameField", { model_name = S, old_name = S, new_name = S },
  { "model_name", "old_name", "new_name" })
operation("SeparateDatabaseAndState", { database_operations = operations_list,
  state_operations = operations_list }, {})

-- RunSQL and RunLua take a table of options or positional arguments, and carry `noop`.
local RUN_SQL_SPEC = {
  keys = { sql = sql_value, reverse_sql = sql_value, state_operations = operations_list,
    hints = T.table, elidable = T.boolean },
  required = { "sql" },
}
local RUN_LUA_SPEC = {
  keys = { code = T.func, reverse_code = T.func, atomic = T.boolean, hints = T.table,
    elidable = T.boolean },
  required = { "code" },
}

-- A table is the options form when it has a string key; a plain list is SQL.
local function is_options_table(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do if type(k) == "string" then return true end end
  return false
end

local function callable_operation(name, spec, positional)
  local ctor = setmetatable({}, {
    __name = "migrations." .. name,
    __call = function(_, first, second, ...)
      local loc = check.where(1)
      if is_options_table(first) then
        if second ~= nil then
          check.raise(loc, name .. ": pass either one table of options or positional arguments")
        end
        local op = build(name, first, spec, loc)
        return op
      end
      if select("#", ...) > 0 then
        check.raise(loc, name .. ": too many positional arguments (expected "
          .. positional[1] .. ", " .. positional[2] .. ")")
      end
      local op = build(name, { [positional[1]] = first, [positional[2]] = second }, spec, loc, true)
      return op
    end,
  })
  migrations[name] = ctor
  return ctor
end

callable_operation("RunSQL", RUN_SQL_SPEC, { "sql", "reverse_sql" }).noop = ""
callable_operation("RunLua", RUN_LUA_SPEC, { "code", "reverse_code" }).noop = function() end

local MIGRATION_SPEC = {
  keys = { operations = operations_list, dependencies = dependency_list,
    run_before = dependency_list, initial = T.boolean, atomic = T.boolean,
    replaces = dependency_list },
  required = { "operations" },
}

--- A migration: its operations and where it sits in the graph.
function migrations.Migration(t)
  local loc = check.where(1)
  local m = { __where = loc }
  local problem = check.problem("Migration", t or {}, MIGRATION_SPEC, m)
  if problem then check.raise(loc, problem) end
  return setmetatable(m, MigrationMT)
end

-- RunLua.noop must be recognisable after decoding, so the engine can skip it cheaply.
migrations._noop = migrations.RunLua.noop

return check.strict_module(migrations, "luamig.migrations")
