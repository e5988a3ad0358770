//! Evaluation suites: which reference and held-out text, which settings, which gates.
//!
//! A suite is a TOML file (see `evals/ven.toml` and `evals/README.md`):
//!
//! ```toml
//! [suite]
//! name = "ven"
//! lang = "ven"
//! heldout = "heldout/ven.txt"     # relative to the suite file; never used as seed
//! # reference = "../corpora/ven"  # default: the language's shipped seed corpus
//! wordlists = "wordlists"          # folder of <lang>_Latn.txt or <lang>.txt lists
//! neighbours = ["tso", "nso"]
//!
//! [settings]
//! seed = 42
//!
//! [[gate]]
//! name = "no verbatim copies"
//! metric = "metrics.synthetic.leakage.verbatim_copy_rate"
//! max = 0.0
//! ```
//!
//! A gate reads one number from `eval.json` by its dotted path (booleans read as 0 or 1) and
//! checks it against `min` and/or `max`, or against another metric times `factor`
//! (`max_metric`, `min_metric`). A metric that is absent or `null` fails the gate, unless the gate
//! says `missing = "skip"`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EvalSettings;

/// Errors of suite files.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file cannot be read.
    #[error("{}: cannot read the suite: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value is invalid.
    #[error("{}: `{field}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// What a gate does when its metric is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The gate fails.
    #[default]
    Fail,
    /// The gate is skipped (reported, not counted).
    Skip,
}

/// One gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// A short name.
    pub name: String,
    /// Dotted path of the metric in `eval.json`.
    pub metric: String,
    /// Lowest passing value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest passing value.
    #[serde(default)]
    pub max: Option<f64>,
    /// The value must be at least this metric times `factor`.
    #[serde(default)]
    pub min_metric: Option<String>,
    /// The value must be at most this metric times `factor`.
    #[serde(default)]
    pub max_metric: Option<String>,
    /// Factor for `min_metric` / `max_metric` (default 1).
    #[serde(default = "one")]
    pub factor: f64,
    /// What to do when the metric is absent.
    #[serde(default)]
    pub missing: Missing,
    /// Why the gate exists.
    #[serde(default)]
    pub description: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// The `[suite]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SuiteMeta {
    /// Suite name.
    pub name: String,
    /// What it checks.
    pub description: Option<String>,
    /// Target language (ISO 639-3).
    pub lang: Option<String>,
    /// Target script (ISO 15924), default `Latn`.
    pub script: Option<String>,
    /// Reference (seed) corpus: a corpus folder or a text/JSONL file.
    pub reference: Option<PathBuf>,
    /// Held-out real text (one document per line).
    pub heldout: Option<PathBuf>,
    /// Folder of word lists.
    pub wordlists: Option<PathBuf>,
    /// Neighbour languages.
    pub neighbours: Option<Vec<String>>,
}

/// A parsed suite; relative paths are resolved against the suite file's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// `[suite]`.
    pub suite: SuiteMeta,
    /// `[settings]`.
    #[serde(default)]
    pub settings: EvalSettings,
    /// `[[gate]]`.
    #[serde(default, rename = "gate")]
    pub gates: Vec<Gate>,
    /// The file it was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

impl Suite {
    /// Parse a suite from TOML text; `path` names it in errors and anchors relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, SuiteError> {
        let mut s: Suite = toml::from_str(text).map_err(|e| SuiteError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        s.path = path.to_path_buf();
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut s.suite.reference,
            &mut s.suite.heldout,
            &mut s.suite.wordlists,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// Read and parse a suite file.
    pub fn load(path: &Path) -> Result<Self, SuiteError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    fn validate(&self) -> Result<(), SuiteError> {
        let bad = |field: String, message: &str| SuiteError::Invalid {
            path: self.path.clone(),
            field,
            message: message.to_string(),
        };
        self.settings
            .validate()
            .map_err(|(f, m)| bad(format!("settings.{f}"), &m))?;
        for (i, g) in self.gates.iter().enumerate() {
            let f = |k: &str| format!("gate[{i}].{k}");
            if g.metric.trim().is_empty() {
                return Err(bad(f("metric"), "must name a metric path"));
            }
            if g.min.is_none()
                && g.max.is_none()
                && g.min_metric.is_none()
                && g.max_metric.is_none()
            {
                return Err(bad(
                    f("max"),
                    "a gate needs at least one of min, max, min_metric, max_metric",
                ));
            }
            if !g.factor.is_finite() {
                return Err(bad(f("factor"), "must be a finite number"));
            }
            if let (Some(a), Some(b)) = (g.min, g.max) {
                if a > b {
                    return Err(bad(f("min"), "min is larger than max"));
                }
            }
        }
        Ok(())
    }
}

/// The outcome of one gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// Gate name.
    pub name: String,
    /// Metric path.
    pub metric: String,
    /// The value read.
    pub value: Option<f64>,
    /// The condition, in words (e.g. `<= 0.01`).
    pub condition: String,
    /// `passed`, `failed` or `skipped`.
    pub status: String,
    /// Why it failed or was skipped.
    pub note: Option<String>,
}

/// The 95% interval `[low, high]` the report keeps beside the metric at `path`
/// (`<path>_interval`), if it has one.
pub fn interval(root: &Value, path: &str) -> Option<[f64; 2]> {
    let at = format!("{path}_interval");
    Some([
        lookup(root, &format!("{at}.0"))?,
        lookup(root, &format!("{at}.1"))?,
    ])
}

/// Read a number at a dotted path (booleans as 0/1; `None` when absent, null or not a number).
pub fn lookup(root: &Value, path: &str) -> Option<f64> {
    let mut v = root;
    for part in path.split('.') {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Check every gate against a serialised report.
pub fn check_gates(gates: &[Gate], report: &Value) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            let value = lookup(report, &g.metric);
            let mut conds: Vec<String> = Vec::new();
            let mut failed: Vec<String> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            if value.is_none() {
                missing.push(format!("`{}` is absent", g.metric));
            }
            let mut check = |ok: Option<bool>, cond: String, missing_ref: Option<&str>| {
                if let Some(m) = missing_ref {
                    missing.push(format!("`{m}` is absent"));
                }
                if ok == Some(false) {
                    failed.push(cond.clone());
                }
                conds.push(cond);
            };
            if let Some(m) = g.min {
                check(value.map(|v| v >= m), format!(">= {m}"), None);
            }
            if let Some(m) = g.max {
                check(value.map(|v| v <= m), format!("<= {m}"), None);
            }
            for (path, is_min) in [(&g.min_metric, true), (&g.max_metric, false)] {
                if let Some(p) = path {
                    let r = lookup(report, p);
                    let bound = r.map(|r| r * g.factor);
                    let op = if is_min { ">=" } else { "<=" };
                    let cond = match bound {
                        Some(b) => format!("{op} {} × {p} = {b}", g.factor),
                        None => format!("{op} {} × {p}", g.factor),
                    };
                    let ok = match (value, bound) {
                        (Some(v), Some(b)) => Some(if is_min { v >= b } else { v <= b }),
                        _ => None,
                    };
                    check(ok, cond, r.is_none().then_some(p.as_str()));
                }
            }
            let (status, note) = if !missing.is_empty() {
                match g.missing {
                    Missing::Skip => ("skipped", Some(missing.join("; "))),
                    Missing::Fail => ("failed", Some(missing.join("; "))),
                }
            } else if failed.is_empty() {
                ("passed", None)
            } else {
                let interval = interval(report, &g.metric)
                    .map_or_else(String::new, |[lo, hi]| format!(" (95% interval {lo}-{hi})"));
                (
                    "failed",
                    Some(format!("not {}{interval}", failed.join(" and "))),
                )
            };
            GateResult {
                name: g.name.clone(),
                metric: g.metric.clone(),
                value,
                condition: conds.join(" and "),
                status: status.to_string(),
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_pass_fail_skip() {
        let report = serde_json::json!({"m": {"a": 0.5, "b": 1.0, "ok": true, "n": null}});
        let text = r#"
[suite]
name = "t"
[[gate]]
name = "a max"
metric = "m.a"
max = 0.4
[[gate]]
name = "a below b"
metric = "m.a"
max_metric = "m.b"
[[gate]]
name = "ok"
metric = "m.ok"
min = 1
[[gate]]
name = "absent"
metric = "m.n"
min = 0
missing = "skip"
[[gate]]
name = "absent fails"
metric = "m.zzz"
min = 0
"#;
        let s = Suite::from_toml(text, Path::new("x/suite.toml")).unwrap();
        let r = check_gates(&s.gates, &report);
        let st: Vec<&str> = r.iter().map(|g| g.status.as_str()).collect();
        assert_eq!(st, ["failed", "passed", "passed", "skipped", "failed"]);
        assert_eq!(r[0].note.as_deref(), Some("not <= 0.4"));
    }

    #[test]
    fn a_failed_gate_names_the_metric_interval_and_a_gate_can_read_a_bound() {
        let report = serde_json::json!({"m": {"cov": 0.242, "cov_interval": [0.21, 0.27]}});
        let text = r#"
[suite]
name = "t"
[[gate]]
name = "coverage"
metric = "m.cov"
min = 0.25
[[gate]]
name = "coverage not clearly under"
metric = "m.cov_interval.1"
min = 0.25
"#;
        let s = Suite::from_toml(text, Path::new("suite.toml")).unwrap();
        let r = check_gates(&s.gates, &report);
        assert_eq!(r[0].status, "failed");
        assert_eq!(
            r[0].note.as_deref(),
            Some("not >= 0.25 (95% interval 0.21-0.27)")
        );
        assert_eq!(r[1].status, "passed");
        assert_eq!(r[1].value, Some(0.27));
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = Suite::from_toml("[suite]\nname = 1\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().starts_with("s.toml:"), "{e}");
        let e = Suite::from_toml(
            "[suite]\nname='x'\n[[gate]]\nname='g'\nmetric='a'\n",
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("gate[0].max"), "{e}");
        let e = Suite::from_toml("[suite]\nname='x'\nbogus=1\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_the_suite() {
        let s = Suite::from_toml(
            "[suite]\nname='x'\nheldout='heldout/ven.txt'\n",
            Path::new("evals/ven.toml"),
        )
        .unwrap();
        assert_eq!(
            s.suite.heldout.unwrap(),
            PathBuf::from("evals/heldout/ven.txt")
        );
    }
}
