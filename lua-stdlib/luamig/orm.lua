-- luamig.orm: historical models for RunLua code, Django style. Models, managers, lazy
-- chainable querysets and instances live here; SQL is compiled and run by the engine's
-- `core` (one per RunLua call), which also converts values.

local errors = require("luamig.errors")
local models = require("luamig.models")

local orm = {}

local NULL = models.NULL
local ExprMT = models._ExprMT

local function sorted_pairs_list(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      errors.raise("TypeError", "filters take key = value pairs", 4)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- Runs a core function; its failures become error values (FieldError, ProtectedError,
-- DatabaseError) blamed on the user's line.
local function first_line(msg)
  msg = tostring(msg):gsub("^runtime error: ", "")
  return (msg:match("^[^\n]*"))
end
local function kind_of(msg)
  local k = msg:match("^(%u%a+Error): ")
  if k then return k, msg:sub(#k + 3) end
  if msg:find("has no field named", 1, true) or msg:find("unsupported lookup", 1, true)
    or msg:find("is not supported", 1, true) then
    return "FieldError", msg
  end
  if msg:find("cannot hold", 1, true) or msg:find("is not a", 1, true) or msg:find("decimal:", 1, true) then
    return "ValueError", msg
  end
  return "DatabaseError", msg
end

function orm.new(core, apps)
  local C = setmetatable({}, { __index = function(wrappers, name)
    local f = core[name]
    -- Every core function returns one value.
    local function wrapper(...)
      local ok, r = pcall(f, ...)
      if not ok then
        if errors.is(r) then error(r, 0) end
        local kind, msg = kind_of(first_line(r))
        error(errors.new(kind, msg, 2), 0)
      end
      return r
    end
    rawset(wrappers, name, wrapper)
    return wrapper
  end })

  local model_cache = {}
  local Model -- forward
  local QuerySet = {}
  QuerySet.__index = QuerySet

  local function get_model_by_key(key)
    local m = model_cache[key]
    if m == nil then
      m = Model(C.meta(key))
      model_cache[key] = m
    end
    return m
  end

  local function is_instance(v)
    local mt = getmetatable(v)
    return type(mt) == "table" and mt.__luamig_model ~= nil
  end

  -- Values in filters: instances stand for their key; a queryset for its keys (or, from
  -- values_list, its one column).
  local function plain(v)
    if is_instance(v) then return v.pk end
    if getmetatable(v) == QuerySet then
      if v._values and #v._values.names == 1 then
        return v:values_list(v._values.names[1], { flat = true }):list()
      end
      return v:values_list("pk", { flat = true }):list()
    end
    if type(v) == "table" and getmetatable(v) == nil and #v > 0 then
      local out = {}
      for i, x in ipairs(v) do out[i] = plain(x) end
      return out
    end
    return v
  end

  local function new_qs(model, fields)
    local qs = setmetatable({ _model = model, _where = {} }, QuerySet)
    for k, v in pairs(fields or {}) do qs[k] = v end
    return qs
  end

  local function clone(qs)
    local c = setmetatable({}, QuerySet)
    for k, v in pairs(qs) do c[k] = v end
    local w = {}
    for i, g in ipairs(qs._where) do w[i] = g end
    c._where = w
    return c
  end

  local function query(qs)
    return { where = qs._where, order = qs._order }
  end

  local function add_where(qs, kwargs, neg)
    local c = clone(qs)
    local conds = {}
    for _, k in ipairs(sorted_pairs_list(kwargs or {})) do
      conds[#conds + 1] = { k, plain(kwargs[k]) }
    end
    c._where[#c._where + 1] = { neg = neg, conds = conds }
    return c
  end

  function QuerySet:all() return clone(self) end
  function QuerySet:filter(kwargs) return add_where(self, kwargs, false) end
  function QuerySet:exclude(kwargs) return add_where(self, kwargs, true) end
  function QuerySet:order_by(...)
    local c = clone(self)
    c._order = { ... }
    return c
  end
  function QuerySet:slice(from, to)
    local c = clone(self)
    local low = (c._low or 0) + (from or 0)
    local high
    if to ~= nil then high = (c._low or 0) + to end
    if c._high and (high == nil or high > c._high) then high = c._high end
    c._low, c._high = low, high
    return c
  end
  function QuerySet:limit(n) return self:slice(0, n) end
  function QuerySet:values(...)
    local c = clone(self)
    c._values = { names = { ... }, mode = "dict" }
    return c
  end
  function QuerySet:values_list(...)
    local names = { ... }
    local opts = {}
    if type(names[#names]) == "table" then opts = table.remove(names) end
    local c = clone(self)
    c._values = { names = names, mode = opts.flat and "flat" or "list" }
    if opts.flat and #names ~= 1 then
      errors.raise("TypeError", "values_list with flat = true takes exactly one field", 2)
    end
    return c
  end

  -- Rows of one fetch, turned into instances or values.
  local function fetch(qs, opts)
    local model = qs._model
    opts = opts or {}
    opts.low, opts.high = opts.low or qs._low, opts.high or qs._high
    if qs._values then
      local names = qs._values.names
      if #names == 0 then
        names = {}
        for i, f in ipairs(model._meta.fields) do names[i] = f.attname end
      end
      opts.columns = names
      local rows = C.select(model._meta.key, query(qs), opts)
      local mode = qs._values.mode
      if mode == "list" then return rows end
      for i, row in ipairs(rows) do
        if mode == "flat" then
          rows[i] = row[1]
        else
          local d = {}
          for j, n in ipairs(names) do d[n] = row[j] end
          rows[i] = d
        end
      end
      return rows
    end
    -- The engine makes each row an instance (the row with this metatable, `__v` itself).
    local o = { instance_mt = model._instance_mt }
    if opts then for k, v in pairs(opts) do o[k] = v end end
    return C.select(model._meta.key, query(qs), o)
  end

  function QuerySet:list() return fetch(self) end

  function QuerySet:count()
    if self._low or self._high then return #fetch(self:values_list("pk")) end
    local n = C.count(self._model._meta.key, query(self), false)
    return n
  end
  function QuerySet:exists()
    if self._low or self._high then return self:count() > 0 end
    local n = C.count(self._model._meta.key, query(self), true)
    return n > 0
  end

  local function default_order(qs)
    if qs._order then return qs end
    local c = clone(qs)
    if #qs._model._meta.ordering == 0 then c._order = { "pk" } end
    return c
  end
  function QuerySet:first()
    return fetch(default_order(self):limit(1))[1]
  end
  function QuerySet:last()
    local qs = default_order(self)
    local order = qs._order or qs._model._meta.ordering
    local reversed = {}
    for i, o in ipairs(order) do
      reversed[i] = (o:sub(1, 1) == "-") and o:sub(2) or ("-" .. o)
    end
    local c = clone(qs)
    c._order = reversed
    return fetch(c:limit(1))[1]
  end

  -- Up to 21 rows matching `kwargs`. A bare manager with `name = value` lookups (what
  -- get_or_create and foreign keys ask) takes the engine's cached statement; the engine
  -- declines (nil) other shapes, and instances among the values, which stand for their keys.
  local function lookup_args(kwargs)
    local args = kwargs
    for k, v in pairs(kwargs) do
      if type(v) == "table" then
        local pk = is_instance(v) and v.pk
        if pk == nil or pk == false then return nil end
        if args == kwargs then
          args = {}
          for k2, v2 in pairs(kwargs) do args[k2] = v2 end
        end
        args[k] = pk
      end
    end
    return args
  end
  local function get_rows(qs, kwargs)
    if kwargs and next(qs._where) == nil and not (qs._low or qs._high or qs._values) then
      local model = qs._model
      local rows = C.lookup(model._meta.key, kwargs, model._instance_mt)
      if rows then return rows end
      local args = lookup_args(kwargs)
      rows = args and args ~= kwargs and C.lookup(model._meta.key, args, model._instance_mt)
      if rows then return rows end
    end
    if kwargs then qs = qs:filter(kwargs) end
    return fetch(qs, { high = (qs._low or 0) + 21 })
  end

  -- The one row of a get(), or DoesNotExist / MultipleObjectsReturned at `level`.
  local function single(rows, model, level)
    if #rows == 1 then return rows[1] end
    local name = model._meta.name
    if #rows == 0 then
      errors.raise("DoesNotExist", name .. " matching query does not exist.", level + 1)
    end
    errors.raise("MultipleObjectsReturned", "get() returned more than one " .. name
      .. " -- it returned " .. (#rows > 20 and "more than 20" or tostring(#rows)) .. "!", level + 1)
  end

  -- A lookup on a manager that the engine answered before, and keeps the answer of, comes
  -- back as the one instance straight away (nil: the general path runs).
  local fast_get = core.fast_get
  local function fast(qs, kwargs)
    local model = qs._model
    if kwargs and qs == model.objects then
      return fast_get(model._meta.key, kwargs, model._instance_mt)
    end
  end

  function QuerySet:get(kwargs)
    local obj = fast(self, kwargs)
    if obj then return obj end
    return single(get_rows(self, kwargs), self._model, 2)
  end

  -- Plain `field = value` pairs are inserted and made an instance by the engine in one
  -- call (nil: anything else, done here).
  function QuerySet:create(kwargs)
    local model = self._model
    local obj = type(kwargs) == "table" and C.create_plain(model._meta.key, kwargs, model._instance_mt)
    if obj then return obj end
    obj = model.new(kwargs)
    obj:save()
    return obj
  end

  -- get_or_create: lookups without "__" also become the new row's values.
  local function creation_values(kwargs, defaults)
    local values = {}
    for k, v in pairs(kwargs) do
      if k ~= "defaults" and not k:find("__", 1, true) then values[k] = v end
    end
    for k, v in pairs(defaults or {}) do values[k] = v end
    return values
  end
  local function lookups_of(kwargs)
    if kwargs.defaults == nil then return kwargs end
    local l = {}
    for k, v in pairs(kwargs) do if k ~= "defaults" then l[k] = v end end
    return l
  end
  function QuerySet:get_or_create(kwargs)
    -- `fast` written out: this runs once per row of a typical data migration.
    local model = self._model
    if self == model.objects and kwargs.defaults == nil then
      local obj = fast_get(model._meta.key, kwargs, model._instance_mt)
      if obj then return obj, false end
    end
    local rows = get_rows(self, kwargs.defaults == nil and kwargs or lookups_of(kwargs))
    if #rows == 1 then return rows[1], false end
    if #rows == 0 then
      -- Lookups that are all `name = value` pairs are the new row's values as they are.
      if kwargs.defaults == nil then
        local obj = C.create_plain(model._meta.key, kwargs, model._instance_mt)
        if obj then return obj, true end
      end
      return self:create(creation_values(kwargs, kwargs.defaults)), true
    end
    return single(rows, self._model, 2), false
  end
  function QuerySet:update_or_create(kwargs)
    local rows = get_rows(self, lookups_of(kwargs))
    if #rows == 0 then return self:create(creation_values(kwargs, kwargs.defaults)), true end
    local obj = single(rows, self._model, 2)
    for k, v in pairs(kwargs.defaults or {}) do obj[k] = v end
    obj:save()
    return obj, false
  end

  function QuerySet:update(values)
    local plain_values = {}
    for k, v in pairs(values) do
      if type(k) ~= "string" then errors.raise("TypeError", "update takes field = value pairs", 2) end
      plain_values[k] = plain(v)
    end
    local n = C.update(self._model._meta.key, query(self), plain_values)
    return n
  end
  function QuerySet:delete()
    local n = C.delete(self._model._meta.key, query(self))
    return n
  end

  function QuerySet:bulk_create(list, opts)
    local model = self._model
    local objs, rows = {}, {}
    for i, item in ipairs(list) do
      local obj = is_instance(item) and item or model.new(item)
      objs[i] = obj
      rows[i] = obj:_row()
    end
    local pks = C.insert(model._meta.key, rows, opts and opts.batch_size)
    local pk_i = model._meta.index[model._meta.pk]
    for i, obj in ipairs(objs) do
      obj.__v[pk_i] = pks[i]
      rawset(obj, "__adding", false)
    end
    return objs
  end

  function QuerySet:bulk_update(objs, fields, opts)
    local n = 0
    for _, obj in ipairs(objs) do
      obj:save { update_fields = fields }
      n = n + 1
    end
    return n
  end

  -- Streams in chunks by primary key (keyset), so rows changed inside the loop are
  -- neither skipped nor repeated, and memory stays flat.
  function QuerySet:iterator(chunk_size)
    chunk_size = chunk_size or 2000
    if math.type(chunk_size) ~= "integer" or chunk_size < 1 then
      errors.raise("ValueError", "iterator(chunk_size) needs a positive integer", 2)
    end
    local qs = self
    -- order_by() with no fields clears the ordering, the model's default included.
    local unordered = (qs._order == nil and #qs._model._meta.ordering == 0)
      or (qs._order ~= nil and #qs._order == 0)
    local keyset = unordered and not qs._low and not qs._high
    local rows, i, after, offset, done = {}, 0, nil, 0, false
    local pk_i = qs._model._meta.index[qs._model._meta.pk]
    -- With an ordering (or a slice, or values), the keys are read first, in order, and
    -- the rows fetched by key in chunks: changes made inside the loop cannot shift pages.
    local keys
    return function()
      i = i + 1
      if rows[i] == nil then
        if done then return nil end
        if keyset and not qs._values then
          rows = fetch(qs, { after = after, chunk = chunk_size })
        else
          if keys == nil then keys = qs:values_list("pk", { flat = true }):list() end
          local chunk = table.move(keys, offset + 1, math.min(offset + chunk_size, #keys), 1, {})
          offset = offset + #chunk
          if #chunk == 0 then return nil end
          local by_key = {}
          local base = clone(qs)
          base._low, base._high, base._order = nil, nil, { "pk" }
          base = base:filter { pk__in = chunk }
          local fetched = fetch(base)
          for n, key in ipairs(base:values_list("pk", { flat = true }):list()) do by_key[key] = fetched[n] end
          rows = {}
          for _, key in ipairs(chunk) do rows[#rows + 1] = by_key[key] end
          if offset >= #keys then done = true end
          i = 1
          if rows[1] == nil then return nil end
          return rows[i]
        end
        i = 1
        if #rows < chunk_size then done = true end
        if rows[1] == nil then return nil end
        if keyset and not qs._values then after = rows[#rows].__v[pk_i] end
      end
      return rows[i]
    end
  end

  -- `for obj in qs do`: each loop gets its own iterator, found again through the value
  -- it returned last.
  -- `for obj in qs do`: Lua calls qs(nil, previous) each time, so each loop's iterator
  -- is found again through the instance it returned last (nested loops over one queryset
  -- work); plain values (values_list) find it on the queryset.
  local loops = setmetatable({}, { __mode = "k" })
  QuerySet.__call = function(qs, _, previous)
    local it
    if previous == nil then
      it = qs:iterator(2000)
    elseif type(previous) == "table" then
      it = loops[previous]
      loops[previous] = nil
    else
      it = rawget(qs, "__loop")
    end
    if it == nil then return nil end
    local v = it()
    if type(v) == "table" then
      loops[v] = it
    else
      rawset(qs, "__loop", v ~= nil and it or nil)
    end
    return v
  end
  QuerySet.__len = function(qs) return qs:count() end
  QuerySet.__name = "luamig queryset"

  ---------------------------------------------------------------- instances
  local function field_error(meta, key, level)
    local names = {}
    for _, f in ipairs(meta.fields) do names[#names + 1] = f.name end
    for n in pairs(meta.m2m) do names[#names + 1] = n end
    errors.raise("FieldError", meta.app .. "." .. meta.name .. " has no field named '" .. tostring(key)
      .. "'; its fields are: " .. table.concat(names, ", "), level + 1)
  end

  local function reverse_manager(obj, meta, rel)
    local related = get_model_by_key(rel.model)
    if rel.m2m then
      return orm._m2m_manager(C, related, obj, rel.m2m, new_qs)
    end
    local qs = related.objects:filter { [rel.field] = obj.pk }
    local manager = clone(qs)
    local pk = obj.pk
    function manager:create(kwargs)
      kwargs[rel.field] = obj
      return related.objects:create(kwargs)
    end
    function manager:add(...)
      for _, o in ipairs({ ... }) do
        o[rel.field] = obj
        o:save()
      end
    end
    return manager, pk
  end

  Model = function(meta)
    local model = { _meta = meta, DoesNotExist = "DoesNotExist",
      MultipleObjectsReturned = "MultipleObjectsReturned" }
    local methods = {}
    -- Every instance holds `__v` (its values by field position), so reading it takes no
    -- metamethod; `__pk_i` lets another model's code read an instance's key directly.
    -- A fetched instance is its own `__v`: an empty slot read or written through `v[i]`
    -- then reaches __index / __newindex with a number, which they treat as raw access.
    local mt = { __luamig_model = model, __name = meta.app .. "." .. meta.name }
    model._instance_mt = mt
    local index, fields = meta.index, meta.fields
    local pk_i = index[meta.pk]
    mt.__pk_i = pk_i
    -- The related instance a foreign key last gave or took is kept on the instance itself,
    -- under a key no field can have ("__" is not allowed in field names).
    local cache_keys = {}
    for _, f in ipairs(fields) do
      if f.fk then cache_keys[f.name] = "__c_" .. f.name end
    end

    mt.__index = function(obj, key)
      local m = methods[key]
      if m then return m end
      local v = obj.__v
      if key == "pk" then return v[pk_i] end
      local i = index[key]
      if i then
        local f = fields[i]
        if f.fk and key == f.name then
          local id = v[i]
          if id == nil then return nil end
          local ck = cache_keys[key]
          local cached = rawget(obj, ck)
          if cached ~= nil and cached.pk == id then return cached end
          local target = get_model_by_key(f.fk)
          local related = target.objects:get { pk = id }
          rawset(obj, ck, related)
          return related
        end
        return v[i]
      end
      if type(key) == "number" then return nil end
      local link = meta.m2m[key]
      if link then return orm._m2m_manager(C, get_model_by_key(link.model), obj, link, new_qs) end
      local rel = meta.reverse[key]
      if rel then return (reverse_manager(obj, meta, rel)) end
      field_error(meta, key, 2)
    end

    mt.__newindex = function(obj, key, value)
      local v = obj.__v
      -- rawequal: `==` would call an instance's __eq for every instance assigned.
      if rawequal(value, NULL) then value = nil end
      if key == "pk" then rawset(v, pk_i, value); return end
      local i = index[key]
      if not i then
        if type(key) == "number" then rawset(obj, key, value); return end
        field_error(meta, key, 2)
      end
      local f = fields[i]
      if f.fk and key == f.name then
        local id
        if value ~= nil then
          local vmt = getmetatable(value)
          if type(vmt) ~= "table" or vmt.__luamig_model == nil then
            errors.raise("ValueError", "cannot assign " .. tostring(value) .. ": " .. meta.name .. "."
              .. key .. " must be a " .. f.fk .. " instance (or set " .. f.attname .. ")", 2)
          end
          id = value.__v[vmt.__pk_i]
        end
        rawset(v, i, id)
        rawset(obj, cache_keys[key], value)
        return
      end
      rawset(v, i, value)
    end
    -- The common accesses (methods, fields, keys, assigning a field or a foreign key) run
    -- as C functions that fall back on the two functions above for everything else.
    local plain_slots, fk_slots = {}, {}
    for i, f in ipairs(fields) do
      if f.fk then fk_slots[f.name] = i else plain_slots[f.name] = i end
      plain_slots[f.attname] = i
    end
    mt.__index, mt.__newindex = core.instance_metamethods(methods, plain_slots, fk_slots,
      cache_keys, pk_i, NULL, mt.__index, mt.__newindex)

    mt.__tostring = function(obj)
      return meta.name .. " object (" .. tostring(obj.__v[pk_i]) .. ")"
    end
    mt.__eq = function(a, b)
      return getmetatable(a) == getmetatable(b) and a.pk ~= nil and a.pk == b.pk
    end

    -- The row as the engine inserts it: values by attname.
    function methods:_row()
      local v, row = self.__v, {}
      for i, f in ipairs(fields) do row[f.attname] = v[i] end
      return row
    end

    -- Compiled UPDATEs by field list (`true` for every field), made on first use.
    local updaters = {}
    local function updater(names)
      local ok, key
      if #names == 1 and type(names[1]) == "string" then
        ok, key = true, names[1]
      else
        ok, key = pcall(table.concat, names, ",")
      end
      local upd = ok and updaters[key]
      if upd then return upd end
      for _, name in ipairs(names) do
        if not index[name] then field_error(meta, name, 3) end
      end
      upd = C.updater(meta.key, names, true)
      if ok then updaters[key] = upd end
      return upd
    end

    function methods:save(opts)
      local v = self.__v
      if opts and opts.update_fields then
        updater(opts.update_fields)(v)
        return
      end
      -- A fetched instance is its own `__v`, and never new: no call to rawget for it.
      if v[pk_i] ~= nil and (v == self or not rawget(self, "__adding")) then
        local upd = updaters[true]
        if not upd then
          upd = C.updater(meta.key, nil, true)
          updaters[true] = upd
        end
        if upd(v) > 0 then return end
      end
      -- The row comes back as stored: its key and what the database filled in (defaults,
      -- auto_now).
      local fresh = C.insert_row(meta.key, self:_row())
      rawset(self, "__adding", false)
      -- Raw: `v` may be the instance itself (see above).
      rawset(v, pk_i, fresh[pk_i])
      for i = 1, #fields do if rawget(v, i) == nil then rawset(v, i, fresh[i]) end end
      for i, f in ipairs(fields) do if f.auto_now or f.auto_now_add then rawset(v, i, fresh[i]) end end
    end

    function methods:delete()
      local n = C.delete(meta.key, { where = { { conds = { { "pk", self.__v[pk_i] } } } } })
      return n
    end

    function methods:refresh_from_db()
      local fresh = model.objects:get { pk = self.pk }
      rawset(self, "__v", fresh.__v)
      for _, ck in pairs(cache_keys) do rawset(self, ck, nil) end
    end

    --- An unsaved instance: Order.new{ title = "x" } (also Order{ ... }).
    function model.new(kwargs)
      local obj = setmetatable({ __v = {}, __adding = true }, mt)
      for i, f in ipairs(fields) do
        if f.default ~= nil and not f.auto then
          local d = f.default
          if type(d) == "function" then d = d() end
          obj.__v[i] = d
        end
      end
      for k, val in pairs(kwargs or {}) do obj[k] = val end
      return obj
    end
    setmetatable(model, {
      __call = function(_, kwargs) return model.new(kwargs) end,
      __name = "luamig model " .. meta.app .. "." .. meta.name,
      __tostring = function() return "<model " .. meta.app .. "." .. meta.name .. ">" end,
    })
    model.objects = new_qs(model)
    return model
  end

  apps._get_model_by_key = get_model_by_key
  return get_model_by_key
end

-- Many-to-many manager of `obj` through `link` ({table, source, target, model}).
function orm._m2m_manager(C, target, obj, link, new_qs)
  local id = obj.pk
  local function ids(list)
    local out = {}
    for i, o in ipairs(list) do
      if type(o) == "table" then out[i] = o.pk else out[i] = o end
    end
    return out
  end
  local qs = target.objects:filter { __in_link = { table = link.table, source = link.source,
    target = link.target, id = id } }
  local manager = setmetatable({}, { __index = function(_, k)
    return function(self, ...)
      if self == nil then return nil end
      return qs[k](qs, ...)
    end
  end })
  function manager:all() return qs end
  function manager:add(...)
    local n = C.link("add", link, id, ids({ ... }))
    return n
  end
  function manager:remove(...)
    local n = C.link("remove", link, id, ids({ ... }))
    return n
  end
  function manager:clear()
    local n = C.link("clear", link, id)
    return n
  end
  function manager:set(list)
    C.link("clear", link, id)
    local n = C.link("add", link, id, ids(list))
    return n
  end
  local _ = new_qs
  return manager
end

return orm
