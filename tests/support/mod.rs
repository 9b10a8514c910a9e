//! Shared helpers for integration tests. Include with `mod support;`.

#[allow(dead_code, unused_imports)]
pub mod prometheus;

#[allow(dead_code, unused_imports)]
pub mod mlflow;

#[allow(dead_code, unused_imports)]
pub mod airflow;

#[allow(dead_code)]
pub mod venv;

#[allow(unused_imports)]
pub use prometheus::*;
pub mod fault_proxy;
