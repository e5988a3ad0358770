//! The prompt library: templates as files (TOML with a minijinja body) and per-language packs
//! (labels used inside prompts, and topic lists by domain).
//!
//! A template file (`prompts/*.toml`):
//! ```toml
//! id = "continuation"         # unique
//! version = 1
//! description = "..."
//! task = "continuation"       # continuation | topic | paraphrase | qa | dialogue
//! suits = "base"              # base (completion) | instruct (chat) | both
//! examples = 4                # real seed sentences the body receives as `examples`
//! body = "..."                # minijinja; sees `examples`, `topic`, `domain`, `lang.*`
//! ```
//! The sha256 of the file's bytes goes into every sample the template produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Errors of the prompt library; each names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not valid TOML for its schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the field).
        message: String,
    },
    /// A template body does not compile or render.
    #[error("{path}: template `{id}`: {message}")]
    Template {
        /// The file.
        path: PathBuf,
        /// Template id.
        id: String,
        /// The minijinja error.
        message: String,
    },
    /// Two templates share an id.
    #[error("template id `{id}` is defined twice: {first} and {second}")]
    DuplicateId {
        /// The id.
        id: String,
        /// First file.
        first: PathBuf,
        /// Second file.
        second: PathBuf,
    },
    /// No language pack for the language.
    #[error("no language pack for `{lang}` in {dir} (available: {available})")]
    NoLanguage {
        /// The language asked for.
        lang: String,
        /// The directory searched.
        dir: PathBuf,
        /// What exists.
        available: String,
    },
}

/// The generation task a template performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Few-shot continuation of real text.
    Continuation,
    /// Writing on a topic.
    Topic,
    /// Paraphrase of a seed sentence.
    Paraphrase,
    /// Question and answer.
    Qa,
    /// Dialogue.
    Dialogue,
}

/// Which kind of model a template is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suits {
    /// Base (completion) models.
    Base,
    /// Instruct (chat) models.
    Instruct,
    /// Either.
    Both,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    id: String,
    version: u32,
    description: String,
    task: TaskKind,
    suits: Suits,
    #[serde(default)]
    examples: usize,
    body: String,
}

/// A loaded prompt template.
#[derive(Debug, Clone, Serialize)]
pub struct PromptTemplate {
    /// Unique id.
    pub id: String,
    /// Version, bumped when the body changes meaningfully.
    pub version: u32,
    /// What it does.
    pub description: String,
    /// The task.
    pub task: TaskKind,
    /// Base, instruct or both.
    pub suits: Suits,
    /// How many seed sentences it shows.
    pub examples: usize,
    /// The minijinja body.
    pub body: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// The file it came from.
    pub path: PathBuf,
}

/// A language pack: labels used inside prompts and topics by domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePack {
    /// ISO 639-3 code.
    pub code: String,
    /// The language's name as prompts write it.
    pub name: String,
    /// Word for a heading or title.
    pub topic_label: String,
    /// Word for "question".
    pub question_label: String,
    /// Word for "answer".
    pub answer_label: String,
    /// Label of the first speaker in dialogues.
    pub speaker_a: String,
    /// Label of the second speaker.
    pub speaker_b: String,
    /// Topics (in the language) by domain.
    pub topics: BTreeMap<String, Vec<String>>,
    /// English names of the domains.
    #[serde(default)]
    pub domains: BTreeMap<String, String>,
    /// sha256 of the file (filled when loaded).
    #[serde(skip_deserializing)]
    pub sha256: String,
}

impl LanguagePack {
    /// All (domain, topic) pairs, in a stable order.
    pub fn all_topics(&self) -> Vec<(String, String)> {
        self.topics
            .iter()
            .flat_map(|(d, ts)| ts.iter().map(move |t| (d.clone(), t.clone())))
            .collect()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, PromptError> {
    std::fs::read(path).map_err(|e| PromptError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, PromptError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PromptError::Parse {
        path: path.to_path_buf(),
        message: format!("not UTF-8: {e}"),
    })?;
    toml::from_str(text).map_err(|e| PromptError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The prompt library: templates by id and a compiled environment.
#[derive(Debug)]
pub struct PromptLibrary {
    /// Templates by id.
    pub templates: BTreeMap<String, PromptTemplate>,
    env: Environment<'static>,
}

/// What a template is rendered with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PromptInputs {
    /// Real seed sentences.
    pub examples: Vec<String>,
    /// Topic, in the language.
    pub topic: String,
    /// Domain (English).
    pub domain: String,
}

impl PromptLibrary {
    /// Load every `*.toml` directly in `dir` as a template (sub-folders hold language packs).
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        let entries = std::fs::read_dir(dir).map_err(|e| PromptError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut templates: BTreeMap<String, PromptTemplate> = BTreeMap::new();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| PromptError::Parse {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        env.set_syntax(syntax);
        for path in paths {
            let bytes = read(&path)?;
            let f: TemplateFile = parse(&path, &bytes)?;
            if let Some(prev) = templates.get(&f.id) {
                return Err(PromptError::DuplicateId {
                    id: f.id,
                    first: prev.path.clone(),
                    second: path,
                });
            }
            env.add_template_owned(f.id.clone(), f.body.clone())
                .map_err(|e| PromptError::Template {
                    path: path.clone(),
                    id: f.id.clone(),
                    message: e.to_string(),
                })?;
            templates.insert(
                f.id.clone(),
                PromptTemplate {
                    id: f.id,
                    version: f.version,
                    description: f.description,
                    task: f.task,
                    suits: f.suits,
                    examples: f.examples,
                    body: f.body,
                    sha256: sha256_hex(&bytes),
                    path,
                },
            );
        }
        Ok(Self { templates, env })
    }

    /// Render template `id` for a language.
    pub fn render(
        &self,
        id: &str,
        lang: &LanguagePack,
        inputs: &PromptInputs,
    ) -> Result<String, PromptError> {
        let t = self
            .templates
            .get(id)
            .ok_or_else(|| PromptError::Template {
                path: PathBuf::new(),
                id: id.to_string(),
                message: "no such template".into(),
            })?;
        let err = |e: minijinja::Error| PromptError::Template {
            path: t.path.clone(),
            id: id.to_string(),
            message: format!("{e:#}"),
        };
        let tmpl = self.env.get_template(id).map_err(err)?;
        let lang_value = Value::from_pairs([
            ("code", lang.code.as_str()),
            ("name", lang.name.as_str()),
            ("topic_label", lang.topic_label.as_str()),
            ("question_label", lang.question_label.as_str()),
            ("answer_label", lang.answer_label.as_str()),
            ("speaker_a", lang.speaker_a.as_str()),
            ("speaker_b", lang.speaker_b.as_str()),
        ]);
        tmpl.render(minijinja::context! {
            lang => lang_value,
            examples => inputs.examples.clone(),
            topic => inputs.topic.clone(),
            domain => inputs.domain.clone(),
        })
        .map_err(err)
    }
}

/// Load the language pack `prompts/languages/<lang>.toml`.
pub fn load_language(prompts_dir: &Path, lang: &str) -> Result<LanguagePack, PromptError> {
    let dir = prompts_dir.join("languages");
    let path = dir.join(format!("{lang}.toml"));
    if !path.is_file() {
        let mut available: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.path()
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        available.sort();
        return Err(PromptError::NoLanguage {
            lang: lang.to_string(),
            dir,
            available: available.join(", "),
        });
    }
    let bytes = read(&path)?;
    let mut pack: LanguagePack = parse(&path, &bytes)?;
    pack.sha256 = sha256_hex(&bytes);
    if pack.topics.values().all(|t| t.is_empty()) {
        return Err(PromptError::Parse {
            path,
            message: "`topics` has no topic".into(),
        });
    }
    Ok(pack)
}

/// The prompts directory shipped with synthcorpus.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_render_for_tshivenda() {
        let lib = PromptLibrary::load(&shipped_dir()).unwrap();
        let ven = load_language(&shipped_dir(), "ven").unwrap();
        assert!(lib.templates.len() >= 8);
        let tasks: std::collections::BTreeSet<TaskKind> =
            lib.templates.values().map(|t| t.task).collect();
        assert_eq!(tasks.len(), 5, "all five tasks are covered");
        let inputs = PromptInputs {
            examples: vec!["Vhathu vhoṱhe vho bebwa vho vhofholowa.".into(); 4],
            topic: "mvula".into(),
            domain: "climate and weather".into(),
        };
        for id in lib.templates.keys() {
            let text = lib.render(id, &ven, &inputs).unwrap();
            assert!(!text.trim().is_empty(), "{id}");
            assert!(!text.contains("{{"), "{id}");
        }
        let c = lib.render("continuation", &ven, &inputs).unwrap();
        assert!(c.ends_with("vhofholowa.\n"), "{c:?}");
        assert!(lib
            .render("topic-chat", &ven, &inputs)
            .unwrap()
            .contains("Tshivenda"));
    }

    #[test]
    fn ven_topics_cover_the_scarce_domains() {
        let ven = load_language(&shipped_dir(), "ven").unwrap();
        for d in [
            "health",
            "agriculture",
            "education",
            "finance",
            "climate_and_weather",
            "government_services",
            "family_and_daily_life",
            "culture",
            "news",
        ] {
            assert!(!ven.topics[d].is_empty(), "{d}");
        }
    }

    #[test]
    fn unknown_fields_and_missing_languages_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.toml"),
            "id='x'\nversion=1\ndescription='d'\ntask='qa'\nsuits='base'\nbody='b'\ncolour='red'\n",
        )
        .unwrap();
        let e = PromptLibrary::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("t.toml") && e.contains("colour"), "{e}");
        let e = load_language(&shipped_dir(), "xyz")
            .unwrap_err()
            .to_string();
        assert!(e.contains("xyz") && e.contains("ven"), "{e}");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.toml"),
            "id='x'\nversion=1\ndescription='d'\ntask='qa'\nsuits='base'\nbody='{{ nope }}'\n",
        )
        .unwrap();
        let lib = PromptLibrary::load(dir.path()).unwrap();
        let ven = load_language(&shipped_dir(), "ven").unwrap();
        assert!(lib.render("x", &ven, &PromptInputs::default()).is_err());
    }
}
