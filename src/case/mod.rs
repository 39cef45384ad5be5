//! Cases: the declarative scenarios in `cases/`, loaded from their on-disk form into resolved,
//! checked data (every placeholder known, every schema compiled, every rule with its origin).

mod catalog;
mod check_kind;
mod checks;
mod file;
mod load;
mod model;
mod resolve;
mod template;

#[cfg(test)]
mod tests;

pub use catalog::Source;
pub use check_kind::*;
pub use load::{load_cases, load_suite};
pub use model::*;
pub use template::{Template, TemplateError, Var, Vars};
