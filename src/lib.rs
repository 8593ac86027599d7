//! pipectl as a library: the layers the binary is built from, exposed so
//! each can be tested alone (a spec without AWS, a graph without a spec).

pub mod cli;
pub mod diag;
pub mod plan;
pub mod spec;
