//! synthcorpus: synthetic text corpora for low-resource languages, first Tshivenda.
//!
//! The library is a chain of pipeline stages; see `ARCHITECTURE.md` for the map.

pub mod backend;
pub mod cli;
pub mod config;
pub mod curate;
pub mod eval;
pub mod generate;
pub mod ingest;
pub mod label;
pub mod lid;
pub mod models;
pub mod ngram;
pub mod prompts;
pub mod run;
pub mod types;
