//! Cases: the declarative scenarios in `cases/`, loaded from their on-disk form into resolved,
//! checked data (every placeholder known, every schema compiled, every rule with its origin).

mod load;
mod model;
mod suggest;
mod template;

pub use load::{load_cases, path_to_pointer};
pub use model::*;
pub use suggest::{annotate_serde_message, closest};
pub use template::{Template, TemplateError, Var, Vars};
