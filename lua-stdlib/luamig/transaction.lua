-- luamig.transaction: atomic(fn) runs fn in a transaction, or in a savepoint when one is
-- open (always, inside an atomic migration). If fn raises, its changes are rolled back and
-- the very same error value is raised again; so they are if the commit fails (the saves
-- fn queued go out then, and one may be refused).

local tx = require("luamig._tx")

local transaction = {}

function transaction.atomic(fn)
  if type(fn) ~= "function" then
    error("transaction.atomic expects a function", 2)
  end
  local level = tx.begin()
  local results = table.pack(pcall(fn))
  if results[1] then
    local committed, err = pcall(tx.commit, level)
    if committed then return table.unpack(results, 2, results.n) end
    results[2] = err
  end
  tx.rollback(level)
  error(results[2], 0)
end

return transaction
