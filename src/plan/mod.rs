//! From a validated spec to what must change: the resource graph and the
//! plan (actions over the graph).

pub mod diff;
pub mod graph;

pub use diff::{Action, Change, FieldChange, Plan};
pub use graph::{Address, Graph, Kind};
