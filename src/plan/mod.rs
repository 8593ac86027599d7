//! From a validated spec to what must change: the resource graph, the
//! pure planner (desired + observed -> plan), the diff and its rendering.
//! No AWS here.

pub mod address;
pub mod diff;
pub mod foreign;
pub mod graph;
pub mod markdown;
pub mod planner;
pub mod saved;
pub mod state;
pub mod svg;

pub use diff::{Action, Change, FieldChange, Operation, Plan};
pub use graph::{Address, Graph, Kind};
pub use planner::{Deps, Planned};
pub use state::{Attrs, Observed, Owner, Tags};
