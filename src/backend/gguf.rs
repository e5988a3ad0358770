//! Reading GGUF files: the header, typed metadata look-ups, and a description of the model.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;

use super::BackendError;
use crate::types::ModelInfo;

/// A parsed GGUF header together with the path it came from.
pub struct GgufFile {
    /// Where the file is.
    pub path: PathBuf,
    /// Metadata and tensor directory as candle parsed them.
    pub content: Content,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .finish()
    }
}

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

impl GgufFile {
    /// Open and parse the header of a GGUF file. Errors name the file.
    pub fn open(path: &Path) -> Result<Self, BackendError> {
        let bad = |reason: String| BackendError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut reader = BufReader::new(file);
        let mut magic = [0u8; 4];
        std::io::Read::read_exact(&mut reader, &mut magic)
            .map_err(|_| bad("file is too short to be a GGUF model".into()))?;
        if &magic != GGUF_MAGIC {
            return Err(bad(format!(
                "not a GGUF file (magic bytes {:02x?}, expected \"GGUF\")",
                magic
            )));
        }
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0)).map_err(|e| {
            BackendError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        })?;
        let content = Content::read(&mut reader)
            .map_err(|e| bad(format!("cannot parse the GGUF header: {e}")))?;
        let file_len = std::fs::metadata(path)
            .map_err(|e| BackendError::Io {
                path: path.to_path_buf(),
                source: e,
            })?
            .len();
        // A truncated download parses (the header is at the front) but its tensors are cut off.
        let mut by_offset: Vec<_> = content.tensor_infos.iter().collect();
        by_offset.sort_by_key(|(name, info)| (info.offset, (*name).clone()));
        for (name, info) in by_offset {
            let bytes = info.shape.elem_count() / info.ggml_dtype.block_size()
                * info.ggml_dtype.type_size();
            let end = content.tensor_data_offset + info.offset + bytes as u64;
            if end > file_len {
                return Err(bad(format!(
                    "truncated: tensor `{name}` ends at byte {end} but the file has {file_len} bytes"
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            content,
        })
    }

    /// The raw metadata value for `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn missing(&self, key: &str, what: &str) -> BackendError {
        BackendError::BadModel {
            path: self.path.clone(),
            reason: format!("metadata key `{key}` is {what}"),
        }
    }

    /// A required string value.
    pub fn string(&self, key: &str) -> Result<&str, BackendError> {
        match self.get(key) {
            None => Err(self.missing(key, "missing")),
            Some(v) => v
                .to_string()
                .map(|s| s.as_str())
                .map_err(|_| self.missing(key, "not a string")),
        }
    }

    /// An optional string value.
    pub fn opt_string(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(|v| v.to_string().ok())
            .map(|s| s.as_str())
    }

    /// An optional unsigned integer, whatever its stored width.
    pub fn opt_u64(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        match v {
            Value::U8(x) => Some(*x as u64),
            Value::U16(x) => Some(*x as u64),
            Value::U32(x) => Some(*x as u64),
            Value::U64(x) => Some(*x),
            Value::I8(x) => u64::try_from(*x).ok(),
            Value::I16(x) => u64::try_from(*x).ok(),
            Value::I32(x) => u64::try_from(*x).ok(),
            Value::I64(x) => u64::try_from(*x).ok(),
            _ => None,
        }
    }

    /// A required unsigned integer.
    pub fn u64(&self, key: &str) -> Result<u64, BackendError> {
        self.opt_u64(key)
            .ok_or_else(|| self.missing(key, "missing or not an integer"))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| v.to_bool().ok())
    }

    /// An optional array.
    pub fn opt_array(&self, key: &str) -> Option<&Vec<Value>> {
        self.get(key).and_then(|v| v.to_vec().ok())
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Result<&str, BackendError> {
        self.string("general.architecture")
    }

    /// Describe the model for `models inspect` and for provenance records.
    pub fn describe(&self) -> Result<ModelInfo, BackendError> {
        let arch = self.architecture()?.to_string();
        let mut quant_types: BTreeMap<String, usize> = BTreeMap::new();
        let mut parameters: u64 = 0;
        for info in self.content.tensor_infos.values() {
            *quant_types
                .entry(dtype_name(info.ggml_dtype).to_string())
                .or_default() += 1;
            parameters += info.shape.elem_count() as u64;
        }
        let file_size = std::fs::metadata(&self.path)
            .map(|m| m.len())
            .unwrap_or_default();
        Ok(ModelInfo {
            name: self
                .opt_string("general.name")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    self.path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }),
            path: self.path.display().to_string(),
            architecture: arch.clone(),
            file_size,
            parameters,
            quantization: self.file_type_name(&quant_types),
            tensor_types: quant_types,
            tokenizer_kind: self
                .opt_string("tokenizer.ggml.model")
                .unwrap_or("none")
                .to_string(),
            vocab_size: self
                .opt_array("tokenizer.ggml.tokens")
                .map(|v| v.len())
                .unwrap_or_default(),
            context_length: self
                .opt_u64(&format!("{arch}.context_length"))
                .unwrap_or_default(),
            has_chat_template: self.get("tokenizer.chat_template").is_some(),
            sha256: None,
        })
    }

    /// The dominant quantisation: llama.cpp's `general.file_type` when present, else the most
    /// common tensor type by count.
    fn file_type_name(&self, counts: &BTreeMap<String, usize>) -> String {
        // Values from llama.cpp's `enum llama_ftype`.
        let named = match self.opt_u64("general.file_type") {
            Some(0) => Some("F32"),
            Some(1) => Some("F16"),
            Some(2) => Some("Q4_0"),
            Some(3) => Some("Q4_1"),
            Some(7) => Some("Q8_0"),
            Some(8) => Some("Q5_0"),
            Some(9) => Some("Q5_1"),
            Some(10) => Some("Q2_K"),
            Some(11) => Some("Q3_K_S"),
            Some(12) => Some("Q3_K_M"),
            Some(13) => Some("Q3_K_L"),
            Some(14) => Some("Q4_K_S"),
            Some(15) => Some("Q4_K_M"),
            Some(16) => Some("Q5_K_S"),
            Some(17) => Some("Q5_K_M"),
            Some(18) => Some("Q6_K"),
            Some(32) => Some("BF16"),
            _ => None,
        };
        match named {
            Some(n) => n.to_string(),
            None => counts
                .iter()
                .max_by_key(|(name, n)| (**n, std::cmp::Reverse((*name).clone())))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// The ggml name of a tensor type, as llama.cpp prints it.
pub fn dtype_name(d: GgmlDType) -> &'static str {
    match d {
        GgmlDType::F32 => "F32",
        GgmlDType::F16 => "F16",
        GgmlDType::BF16 => "BF16",
        GgmlDType::Q4_0 => "Q4_0",
        GgmlDType::Q4_1 => "Q4_1",
        GgmlDType::Q5_0 => "Q5_0",
        GgmlDType::Q5_1 => "Q5_1",
        GgmlDType::Q8_0 => "Q8_0",
        GgmlDType::Q8_1 => "Q8_1",
        GgmlDType::Q2K => "Q2_K",
        GgmlDType::Q3K => "Q3_K",
        GgmlDType::Q4K => "Q4_K",
        GgmlDType::Q5K => "Q5_K",
        GgmlDType::Q6K => "Q6_K",
        GgmlDType::Q8K => "Q8_K",
    }
}
