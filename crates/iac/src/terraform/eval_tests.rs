//! Unit tests for the evaluator.

use std::collections::BTreeMap;

use hcl_edit::expr::Expression;

use super::eval::{Env, ModuleScope, Value};

fn expr(s: &str) -> Expression {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn scope(vars: &[(&str, Value)], locals: &[(&str, &str)]) -> ModuleScope {
    ModuleScope::new(
        vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        locals.iter().map(|(k, v)| (k.to_string(), expr(v))).collect::<BTreeMap<_, _>>(),
    )
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

#[test]
fn literals_vars_locals_and_interpolation() {
    let sc = scope(&[("t", s("required")), ("env", s("prod"))], &[("x", "\"req${\"uired\"}\""), ("y", "local.x")]);
    let env = Env::module(&sc);
    assert_eq!(env.eval(&expr("var.t")), s("required"));
    assert_eq!(env.eval(&expr("local.y")), s("required"));
    assert_eq!(env.eval(&expr("var.env == \"prod\" ? \"required\" : \"optional\"")), s("required"));
    assert_eq!(env.eval(&expr("\"${var.t}\"")), s("required"));
    assert_eq!(env.eval(&expr("lower(\"REQUIRED\")")), s("required"));
    assert_eq!(env.eval(&expr("lookup({a = \"required\"}, \"a\", \"optional\")")), s("required"));
    assert_eq!(env.eval(&expr("{a = [\"x\", \"required\"]}.a[1]")), s("required"));
}

#[test]
fn unknowns_name_the_expression() {
    let sc = scope(&[], &[]);
    let env = Env::module(&sc);
    match env.eval(&expr("data.aws_ssm_parameter.p.value")) {
        Value::Unknown(w) => assert!(w.contains("data.aws_ssm_parameter.p.value"), "{w}"),
        other => panic!("{other:?}"),
    }
    assert!(env.eval(&expr("var.missing")).is_unknown());
    assert!(env.eval(&expr("upper(var.missing)")).is_unknown());
    assert!(env.eval(&expr("[for x in var.missing : x]")).is_unknown());
    assert!(env.eval(&expr("[for x in [1, 2] : x if var.missing]")).is_unknown());
    // An unknown condition with equal branches is still known.
    assert_eq!(env.eval(&expr("var.missing ? \"required\" : \"required\"")), s("required"));
    assert!(env.eval(&expr("var.missing ? \"required\" : \"optional\"")).is_unknown());
    assert_eq!(env.eval(&expr("false && var.missing")), Value::Bool(false));
}

#[test]
fn local_cycles_are_unknown_not_a_crash() {
    let sc = scope(&[], &[("a", "local.b"), ("b", "local.a")]);
    match Env::module(&sc).eval(&expr("local.a")) {
        Value::Unknown(w) => assert!(w.contains("cycle"), "{w}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn long_local_chains_are_bounded() {
    let names: Vec<String> = (0..500).map(|i| format!("l{i}")).collect();
    let bodies: Vec<String> =
        (0..500).map(|i| if i == 499 { "\"required\"".into() } else { format!("local.l{}", i + 1) }).collect();
    let locals: Vec<(&str, &str)> = names.iter().zip(&bodies).map(|(n, b)| (n.as_str(), b.as_str())).collect();
    let sc = scope(&[], &locals);
    assert!(Env::module(&sc).eval(&expr("local.l0")).is_unknown());
}

#[test]
fn count_each_and_iterator() {
    let sc = scope(&[], &[]);
    let mut env = Env::module(&sc);
    env.count_index = Some(Value::Number(1.0));
    env.each = Some((s("k"), s("v")));
    env.iterator = Some(("mo".into(), Value::Number(0.0), Value::Map([("t".to_string(), s("required"))].into())));
    assert_eq!(env.eval(&expr("count.index == 1 ? \"a\" : \"b\"")), s("a"));
    assert_eq!(env.eval(&expr("\"${each.key}-${each.value}\"")), s("k-v"));
    assert_eq!(env.eval(&expr("mo.value.t")), s("required"));
}

#[test]
fn for_expressions_over_known_collections() {
    let sc = scope(&[], &[("pools", "[{ name = \"a\", t = \"required\" }, { name = \"b\", t = \"optional\" }]")]);
    let env = Env::module(&sc);
    let l = |items: &[&str]| Value::List(items.iter().map(|i| s(i)).collect());
    assert_eq!(env.eval(&expr("[for np in local.pools : np[\"name\"]]")), l(&["a", "b"]));
    assert_eq!(
        env.eval(&expr("[for i, np in local.pools : \"${i}-${np.name}\" if np.t != \"optional\"]")),
        l(&["0-a"])
    );
    assert_eq!(
        env.eval(&expr("zipmap([for np in local.pools : np.name], [for np in local.pools : np.t])[\"b\"]")),
        s("optional")
    );
    assert_eq!(env.eval(&expr("{ for np in local.pools : np.name => np.t }[\"a\"]")), s("required"));
    // Grouping mode collects values per key; a duplicate key without `...` is refused.
    assert_eq!(
        env.eval(&expr("{ for k in [\"x\", \"x\"] : k => 1... }[\"x\"]")),
        Value::List(vec![Value::Number(1.0); 2])
    );
    assert!(env.eval(&expr("{ for k in [\"x\", \"x\"] : k => 1 }")).is_unknown());
    // Empty by default: an empty map, so `for_each` over it creates nothing.
    assert_eq!(env.eval(&expr("{ for np in [] : np.name => np }")), Value::Map(Default::default()));
    assert_eq!(env.eval(&expr("local.pools[*].name")), l(&["a", "b"]));
}

#[test]
fn merge_is_known_per_key() {
    let sc = scope(&[], &[]);
    let env = Env::module(&sc);
    let m = "merge(var.missing ? { a = 1 } : {}, { \"disable-legacy-endpoints\" = \"true\" })";
    assert_eq!(env.eval(&expr(&format!("{m}[\"disable-legacy-endpoints\"]"))), s("true"));
    assert_eq!(env.eval(&expr(&format!("lookup({m}, \"disable-legacy-endpoints\", \"x\")"))), s("true"));
    assert!(env.eval(&expr(&format!("{m}[\"a\"]"))).is_unknown(), "a key only the unknown argument may set");
    // A later unknown argument may override anything before it.
    assert!(env.eval(&expr("merge({ a = 1 }, var.missing)[\"a\"]")).is_unknown());
}
