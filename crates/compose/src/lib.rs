#![forbid(unsafe_code)]
pub mod diag;
pub mod yaml;
pub mod interpolate;
pub mod dotenv;
pub mod schema;
