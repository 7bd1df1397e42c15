//! Resolves references to launch templates, launch configurations and AMIs within one
//! module instance: `aws_launch_template.lt.id`, `aws_launch_template.lt[0].id`,
//! `"${aws_launch_template.lt.id}"` (JSON syntax) or a template's literal `name`.

use hcl_edit::expr::{Expression, TraversalOperator};

use super::eval::{Value, expr_text};
use super::modules::Instance;

/// Resolves a reference such as `aws_launch_template.lt.id`, `aws_launch_template.lt[0].id`,
/// `"${aws_launch_template.lt.id}"` or a literal template name to instances of `rtype` in the
/// same module instance.
pub fn find_refs(expr: &Expression, rtype: &str, inst: &Instance, all: &[Instance]) -> Result<Vec<usize>, String> {
    let same = |i: &&Instance| i.module == inst.module && i.rtype == rtype;
    match expr {
        Expression::Traversal(t) if matches!(&t.expr, Expression::Variable(v) if v.as_str() == rtype) => {
            let mut ops = t.operators.iter().map(|o| o.value());
            let Some(TraversalOperator::GetAttr(name)) = ops.next() else {
                return Err(format!("`{}` does not name a {rtype}", expr_text(expr)));
            };
            let key = match ops.next() {
                Some(TraversalOperator::Index(e)) => Some(inst.env().eval(e)),
                Some(TraversalOperator::LegacyIndex(n)) => Some(Value::Number(*n.value() as f64)),
                _ => None,
            };
            let found: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|(_, i)| same(i) && i.name == name.as_str())
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
        Expression::StringTemplate(t) => match t.iter().collect::<Vec<_>>().as_slice() {
            [hcl_edit::template::Element::Interpolation(i)] => find_refs(&i.expr, rtype, inst, all),
            _ => by_name(expr, rtype, inst, all),
        },
        Expression::Parenthesis(p) => find_refs(p.inner(), rtype, inst, all),
        _ => by_name(expr, rtype, inst, all),
    }
}

fn by_name(expr: &Expression, rtype: &str, inst: &Instance, all: &[Instance]) -> Result<Vec<usize>, String> {
    let target = match inst.env().eval(expr) {
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
        .filter(|(_, i)| i.module == inst.module && i.rtype == rtype)
        .filter(|(_, i)| {
            i.block.body.attr("name").is_some_and(|a| i.env().eval(&a.expr) == Value::String(target.clone()))
        })
        .map(|(n, _)| n)
        .collect();
    if found.is_empty() {
        Err(format!("{rtype} {target:?} is not defined in the checked configuration"))
    } else {
        Ok(found)
    }
}
