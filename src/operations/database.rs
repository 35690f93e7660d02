pub fn database_forwards(){} pub fn database_backwards(){} pub struct OperationContext;
