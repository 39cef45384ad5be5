//! Cases: the declarative scenarios in `cases/`, loaded from their on-disk form into resolved,
//! checked data (every placeholder known, every schema compiled, every rule with its origin).

mod load;
mod model;
mod template;

pub use load::load_cases;
pub use model::*;
pub use template::{Template, TemplateError, Var, Vars};
