-- luamig.transaction: atomic(fn) runs fn in a transaction, or in a savepoint when one is
-- open (always, inside an atomic migration). If fn raises, its changes are rolled back and
-- the very same error value is raised again.

local tx = require("luamig._tx")

local transaction = {}

function transaction.atomic(fn)
  if type(fn) ~= "function" then
    error("transaction.atomic expects a function", 2)
  end
  local level = tx.begin()
  local results = table.pack(pcall(fn))
  if results[1] then
    tx.commit(level)
    return table.unpack(results, 2, results.n)
  end
  tx.rollback(level)
  error(results[2], 0)
end

return transaction
