//! Pure computations over plain data: no I/O, no clock reads, no async. Time is passed in as
//! unix seconds (`f64`) so tests control it.

pub mod alert;
pub mod canary;
pub mod counter;
pub mod drift;
pub mod gate;
pub mod homogeneity;
pub mod panel;
pub mod pipeline;
pub mod quantile;
pub mod registry;
pub mod rollout;
pub mod window;
