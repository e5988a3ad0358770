//! Data types that flow between pipeline stages.
//!
//! Stages never import each other: they exchange the values defined here. Anything serialised uses
//! ordered maps ([`std::collections::BTreeMap`]) so that output is byte-identical for the same inputs.

use serde::{Deserialize, Serialize};

/// One language hypothesis from a language identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LangScore {
    /// ISO 639-3 code, e.g. `ven`.
    pub lang: String,
    /// Calibrated probability in `[0, 1]`; over the label set in use the scores sum to 1.
    pub score: f64,
}

/// A language identifier, as curation and evaluation use it.
///
/// Curation defines this trait so that any identifier plugs in; synthcorpus's own character n-gram
/// model ([`crate::lid`]) is the shipped implementation.
pub trait LanguageIdentifier: Send + Sync {
    /// Ranked hypotheses, best first. An empty vector means "no opinion" (empty text, unseen script).
    fn identify(&self, text: &str) -> Vec<LangScore>;
    /// A stable identifier of the model (name and content hash), recorded in provenance.
    fn model_id(&self) -> String;
}
