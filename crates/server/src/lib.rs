#![doc = include_str!("../README.md")]

pub mod app;
pub mod backpressure;
pub mod client;
pub mod config;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod job_outputs;
pub mod openapi;
pub mod realtime;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod web;

pub use app::Application;
pub use config::ServerConfig;
pub use error::ApiError;
pub use state::AppState;
