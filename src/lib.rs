//! mltop: a terminal operations console for machine-learning systems in production.
//!
//! The crate is split the way the data flows: `sources` speak HTTP and turn replies into
//! readings, `domain` computes (quantiles, rates, `for:` states) over plain data, `app` holds
//! the state and the one `update` function, `ui` draws it, `demo` simulates a production.

pub mod app;
pub mod audit;
pub mod canary;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod keymap;
pub mod runtime;
pub mod sanitize;
pub mod sources;
pub mod status;
pub mod tui;
pub mod ui;
