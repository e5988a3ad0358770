//! The library form of `synthcorpus eval`: resolve what a request names (suite, reference,
//! held-out text, word lists) and evaluate.

use std::path::PathBuf;

use super::{evaluate, input, EvalError, EvalInputs, EvalReport, EvalSettings, Suite};

/// What to evaluate and against what: the library form of `synthcorpus eval`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct EvalRequest {
    /// The corpus: a run directory, a JSONL file or a text file.
    pub path: PathBuf,
    /// An evaluation suite file.
    pub suite: Option<PathBuf>,
    /// Reference (seed) corpus; default: the target language's shipped seed corpus.
    pub reference: Option<PathBuf>,
    /// Held-out real text; default: `evals/heldout/<lang>.txt`.
    pub heldout: Option<PathBuf>,
    /// Target language; default: the suite's, else the records', else `ven`.
    pub lang: Option<String>,
    /// Word-list folder; default: the shipped one.
    pub wordlists: Option<PathBuf>,
    /// Seed of the sampled metrics.
    pub seed: Option<u64>,
    /// Skip the per-model and per-template breakdowns.
    pub no_breakdowns: bool,
}

/// Evaluate the corpus a request names: resolve the suite, the reference (seed) text (default:
/// the target language's shipped seed corpus), the held-out real text and the word lists, then
/// run [`evaluate`]. `lid` is the language identifier for the fidelity metrics (none: absent).
pub fn evaluate_request(
    args: &EvalRequest,
    lid: Option<&dyn crate::types::LanguageIdentifier>,
) -> Result<EvalReport, EvalError> {
    let suite = match &args.suite {
        Some(p) => Some(Suite::load(p)?),
        None => None,
    };
    if !args.path.exists() {
        return Err(EvalError::Input {
            path: args.path.clone(),
            message: "no such file or directory".into(),
        });
    }
    let corpus = input::load_samples(&args.path)?;
    let meta = suite.as_ref().map(|s| s.suite.clone()).unwrap_or_default();
    let lang = args
        .lang
        .clone()
        .or(meta.lang.clone())
        .or(corpus.lang.clone())
        .unwrap_or_else(|| "ven".into());
    if lang.len() != 3 || !lang.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(EvalError::Settings {
            field: "lang".into(),
            message: format!("`{lang}`: expected an ISO 639-3 code such as `ven`"),
        });
    }
    let reference = args.reference.clone().or(meta.reference.clone());
    let seed = match &reference {
        Some(p) => input::load_real(p)?,
        None => {
            let dir = crate::ingest::shipped_corpus_dir(&lang);
            if !dir.is_dir() {
                return Err(EvalError::Settings {
                    field: "reference".into(),
                    message: format!(
                        "no shipped seed corpus for `{lang}` ({}): pass a reference",
                        dir.display()
                    ),
                });
            }
            input::load_real(&dir)?
        }
    };
    if seed.texts.is_empty() {
        return Err(EvalError::Settings {
            field: "reference".into(),
            message: "the reference corpus has no documents".into(),
        });
    }
    let heldout_path = args.heldout.clone().or(meta.heldout.clone()).or_else(|| {
        let p = crate::ingest::shipped_heldout_file(&lang);
        p.is_file().then_some(p)
    });
    let heldout = match &heldout_path {
        Some(p) => Some(input::load_real(p)?),
        None => None,
    };
    let script = meta
        .script
        .clone()
        .or(seed.script.clone())
        .unwrap_or_else(|| "Latn".into());
    let wl_dir = args
        .wordlists
        .clone()
        .or(meta.wordlists.clone())
        .unwrap_or_else(input::shipped_wordlists_dir);
    let neighbours: Vec<String> = meta.neighbours.clone().unwrap_or_else(|| {
        input::shipped_wordlist_langs()
            .into_iter()
            .filter(|l| *l != lang)
            .collect()
    });
    let mut langs = neighbours.clone();
    langs.push(lang.clone());
    let wordlists = input::load_wordlists(&wl_dir, &langs)?;
    let mut settings: EvalSettings = suite
        .as_ref()
        .map(|s| s.settings.clone())
        .unwrap_or_default();
    if let Some(s) = args.seed {
        settings.seed = s;
    }
    if args.no_breakdowns {
        settings.breakdowns = false;
    }
    let inputs = EvalInputs {
        lang,
        script,
        corpus,
        seed,
        heldout,
        lid,
        wordlists,
        neighbours,
        settings,
        gates: suite.as_ref().map(|s| s.gates.clone()).unwrap_or_default(),
        suite: suite
            .as_ref()
            .map(|s| (input::display_path(&s.path), s.suite.name.clone())),
    };
    evaluate(&inputs)
}
