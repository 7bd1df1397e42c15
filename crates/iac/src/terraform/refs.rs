//! Resolves references to launch templates, launch configurations and AMIs within one
//! module instance: `aws_launch_template.lt.id`, `aws_launch_template.lt[0].id`,
//! `"${aws_launch_template.lt.id}"` (JSON syntax), a template's literal `name`, and the ways
//! modules pass them around: through `local.x`, a conditional whose condition is known, and
//! `try(...)` / `coalesce(...)` (the first argument that names a created resource), and a
//! module input back to the expression the calling module gave it.

use hcl_edit::expr::{Expression, TraversalOperator};

use super::eval::{Env, Value, expr_text};
use super::modules::Instance;

/// Locals followed through before giving up (cycles end here too).
const MAX_DEPTH: usize = 16;

/// Resolves a reference such as `aws_launch_template.lt.id` to instances of `rtype` in the
/// same module instance; `env` is where the expression is written (a dynamic block's content
/// sees its iterator). A module input given by the caller is followed into the calling module.
pub fn find_refs(
    expr: &Expression,
    rtype: &str,
    inst: &Instance,
    env: &Env<'_>,
    all: &[Instance],
) -> Result<Vec<usize>, String> {
    follow(expr, rtype, &inst.module, env, all, 0)
}

fn follow(
    expr: &Expression,
    rtype: &str,
    module: &str,
    env: &Env<'_>,
    all: &[Instance],
    depth: usize,
) -> Result<Vec<usize>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("`{}`: references nested too deeply", expr_text(expr)));
    }
    let root_is =
        |t: &hcl_edit::expr::Traversal, name: &str| matches!(&t.expr, Expression::Variable(v) if v.as_str() == name);
    let single_attr = |t: &hcl_edit::expr::Traversal| match t.operators.first().map(|o| o.value()) {
        Some(TraversalOperator::GetAttr(a)) if t.operators.len() == 1 => Some(a.as_str().to_string()),
        _ => None,
    };
    match expr {
        Expression::Traversal(t) if root_is(t, rtype) => by_address(expr, &t.operators, rtype, module, env, all),
        Expression::Traversal(t) if root_is(t, "local") => {
            let Some(name) = single_attr(t) else {
                return by_name(expr, rtype, module, env, all);
            };
            match env.module.locals.get(&name) {
                // Locals are evaluated in the module's scope, not the dynamic block's.
                Some(e) => follow(e, rtype, module, &Env::module(env.module), all, depth + 1),
                None => Err(format!("local.{name} is not defined")),
            }
        }
        Expression::Traversal(t) if root_is(t, "var") => {
            let caller = single_attr(t).and_then(|n| env.module.callers.get(&n));
            match caller {
                // Not when null took the variable's default (nullable = false).
                Some(c) if env.eval(expr) != Value::Null => {
                    let env = Env {
                        module: &c.scope,
                        count_index: c.count_index.clone(),
                        each: c.each.clone(),
                        iterator: None,
                        bound: Vec::new(),
                    };
                    follow(&c.expr, rtype, &c.module, &env, all, depth + 1)
                }
                _ => by_name(expr, rtype, module, env, all),
            }
        }
        Expression::Conditional(c) => match env.eval(&c.cond_expr) {
            Value::Bool(true) => follow(&c.true_expr, rtype, module, env, all, depth + 1),
            Value::Bool(false) => follow(&c.false_expr, rtype, module, env, all, depth + 1),
            _ => by_name(expr, rtype, module, env, all),
        },
        Expression::FuncCall(f)
            if f.name.namespace.is_empty() && matches!(f.name.name.as_str(), "try" | "coalesce") =>
        {
            let mut first_err = None;
            for a in f.args.iter() {
                if matches!(a, Expression::Null(_)) {
                    continue;
                }
                match follow(a, rtype, module, env, all, depth + 1) {
                    Ok(found) => return Ok(found),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            Err(first_err.unwrap_or_else(|| format!("`{}` names no {rtype}", expr_text(expr))))
        }
        // `one(aws_launch_template.x[*].id)`, `element(aws_launch_template.x.*.id, 0)`: the
        // list holds the template's (computed) id, and the reference names the template.
        Expression::FuncCall(f)
            if f.name.namespace.is_empty()
                && matches!(
                    f.name.name.as_str(),
                    "one" | "element" | "tolist" | "toset" | "concat" | "compact" | "flatten"
                ) =>
        {
            match f.args.iter().next() {
                Some(a) => follow(a, rtype, module, env, all, depth + 1),
                None => by_name(expr, rtype, module, env, all),
            }
        }
        Expression::StringTemplate(t) => match t.iter().collect::<Vec<_>>().as_slice() {
            [hcl_edit::template::Element::Interpolation(i)] => follow(&i.expr, rtype, module, env, all, depth + 1),
            _ => by_name(expr, rtype, module, env, all),
        },
        Expression::Parenthesis(p) => follow(p.inner(), rtype, module, env, all, depth + 1),
        _ => by_name(expr, rtype, module, env, all),
    }
}

fn by_address(
    expr: &Expression,
    operators: &[hcl_edit::Decorated<TraversalOperator>],
    rtype: &str,
    module: &str,
    env: &Env<'_>,
    all: &[Instance],
) -> Result<Vec<usize>, String> {
    let mut ops = operators.iter().map(|o| o.value());
    let Some(TraversalOperator::GetAttr(name)) = ops.next() else {
        return Err(format!("`{}` does not name a {rtype}", expr_text(expr)));
    };
    let key = match ops.next() {
        Some(TraversalOperator::Index(e)) => Some(env.eval(e)),
        Some(TraversalOperator::LegacyIndex(n)) => Some(Value::Number(*n.value() as f64)),
        _ => None,
    };
    let found: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| i.module == module && i.rtype == rtype && i.name == name.as_str())
        .filter(|(_, i)| match (&key, &i.key) {
            (Some(k), Some(ik)) if !k.is_unknown() => k.as_text() == ik.as_text(),
            _ => true,
        })
        .map(|(n, _)| n)
        .collect();
    if found.is_empty() {
        Err(format!("{rtype}.{} is referenced but not created in the checked configuration", name.as_str()))
    } else {
        Ok(found)
    }
}

fn by_name(
    expr: &Expression,
    rtype: &str,
    module: &str,
    env: &Env<'_>,
    all: &[Instance],
) -> Result<Vec<usize>, String> {
    let target = match env.eval(expr) {
        Value::String(s) => s,
        Value::Unknown(w) => {
            return Err(format!("the {rtype} `{}` cannot be resolved: {w}", expr_text(expr)));
        }
        _ => {
            return Err(format!("the {rtype} `{}` cannot be resolved", expr_text(expr)));
        }
    };
    let found: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| i.module == module && i.rtype == rtype)
        .filter(|(_, i)| {
            // `name` (AWS), `launch_template_name` (alicloud_ecs_launch_template)
            let name = i.block.body.attr("name").or_else(|| i.block.body.attr("launch_template_name"));
            name.is_some_and(|a| i.env().eval(&a.expr) == Value::String(target.clone()))
        })
        .map(|(n, _)| n)
        .collect();
    if found.is_empty() {
        Err(format!("{rtype} {target:?} is not defined in the checked configuration"))
    } else {
        Ok(found)
    }
}
