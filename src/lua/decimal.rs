//! `luamig.decimal`: exact decimals for DecimalField values, never passing through a float.

use mlua::{FromLua, Lua, MetaMethod, UserData, UserDataMethods, Value as LuaValue};
use rust_decimal::Decimal;

/// A decimal value in Lua; `tostring` keeps the scale (`"0.30"`).
#[derive(Clone, Copy, Debug)]
pub struct LuaDecimal(pub Decimal);

impl FromLua for LuaDecimal {
    fn from_lua(v: LuaValue, _: &Lua) -> mlua::Result<Self> {
        coerce(&v)
    }
}

/// A decimal, a string ("0.30") or an integer as a decimal; floats are refused because they
/// would lose exactness.
pub fn coerce(v: &LuaValue) -> mlua::Result<LuaDecimal> {
    match v {
        LuaValue::UserData(ud) => Ok(*ud.borrow::<LuaDecimal>()?),
        LuaValue::Integer(i) => Ok(LuaDecimal(Decimal::from(*i))),
        LuaValue::String(s) => parse(&s.to_str()?).map(LuaDecimal),
        LuaValue::Number(_) => Err(mlua::Error::runtime(
            "decimal: floats are not exact; pass a string such as \"0.30\" or an integer",
        )),
        other => Err(mlua::Error::runtime(format!(
            "decimal: cannot make a decimal from a {}",
            other.type_name()
        ))),
    }
}

/// Parses "12.50", "-3", "1e3".
pub fn parse(s: &str) -> mlua::Result<Decimal> {
    let t = s.trim();
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| mlua::Error::runtime(format!("decimal: '{s}' is not a decimal number")))
}

fn arith(
    a: LuaValue,
    b: LuaValue,
    f: fn(Decimal, Decimal) -> Option<Decimal>,
    what: &str,
) -> mlua::Result<LuaDecimal> {
    let (x, y) = (coerce(&a)?, coerce(&b)?);
    f(x.0, y.0).map(LuaDecimal).ok_or_else(|| {
        mlua::Error::runtime(format!("decimal: {what} overflows or divides by zero"))
    })
}

impl UserData for LuaDecimal {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Add, |_, (a, b): (LuaValue, LuaValue)| {
            arith(a, b, |x, y| x.checked_add(y), "addition")
        });
        m.add_meta_function(MetaMethod::Sub, |_, (a, b): (LuaValue, LuaValue)| {
            arith(a, b, |x, y| x.checked_sub(y), "subtraction")
        });
        m.add_meta_function(MetaMethod::Mul, |_, (a, b): (LuaValue, LuaValue)| {
            arith(a, b, |x, y| x.checked_mul(y), "multiplication")
        });
        m.add_meta_function(MetaMethod::Div, |_, (a, b): (LuaValue, LuaValue)| {
            arith(a, b, |x, y| x.checked_div(y), "division")
        });
        m.add_meta_function(MetaMethod::Unm, |_, a: LuaDecimal| Ok(LuaDecimal(-a.0)));
        m.add_meta_function(MetaMethod::Eq, |_, (a, b): (LuaValue, LuaValue)| {
            Ok(coerce(&a)?.0 == coerce(&b)?.0)
        });
        m.add_meta_function(MetaMethod::Lt, |_, (a, b): (LuaValue, LuaValue)| {
            Ok(coerce(&a)?.0 < coerce(&b)?.0)
        });
        m.add_meta_function(MetaMethod::Le, |_, (a, b): (LuaValue, LuaValue)| {
            Ok(coerce(&a)?.0 <= coerce(&b)?.0)
        });
        m.add_meta_method(MetaMethod::ToString, |_, d, ()| Ok(d.0.to_string()));
        m.add_meta_method(MetaMethod::Concat, |_, d, other: LuaValue| {
            Ok(format!("{}{}", d.0, other.to_string()?))
        });
        m.add_method("round", |_, d, places: u32| {
            Ok(LuaDecimal(d.0.round_dp(places)))
        });
        m.add_method("tonumber", |_, d, ()| {
            Ok(d.0.to_string().parse::<f64>().unwrap_or(f64::NAN))
        });
        m.add_method("scale", |_, d, ()| Ok(d.0.scale()));
    }
}

/// Registers `luamig.decimal` with `new(value)` and `is_decimal(v)`.
pub fn preload(lua: &Lua) -> mlua::Result<()> {
    let loader = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        t.set("new", lua.create_function(|_, v: LuaValue| coerce(&v))?)?;
        t.set(
            "is_decimal",
            lua.create_function(|_, v: LuaValue| {
                Ok(matches!(&v, LuaValue::UserData(ud) if ud.is::<LuaDecimal>()))
            })?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.decimal", loader)
}
