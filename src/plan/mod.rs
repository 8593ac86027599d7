//! From a validated spec to what must change: the resource graph.

pub mod graph;

pub use graph::{Address, Graph, Kind};
