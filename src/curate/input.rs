//! Reading inputs: JSONL (one object per line, the text in a configurable field) or plain text
//! (one sample per line). Blank lines are skipped and counted; every other line becomes a
//! [`Sample`] or, when it is not a valid record, a rejected one carrying the raw line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::runner::{Reject, Sample};
use super::{CurateConfig, CurateError};

/// Stage name of reading.
pub const STAGE: &str = "read";

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// `.jsonl`/`.ndjson`/`.json` are JSONL, `.txt` text; otherwise JSONL when the first
    /// non-blank line starts with `{`.
    #[default]
    Auto,
    /// JSON Lines.
    Jsonl,
    /// Plain text, one sample per line.
    Text,
}

/// Resolve `Auto` for a file.
pub fn detect_format(path: &Path, requested: InputFormat) -> Result<InputFormat, CurateError> {
    if requested != InputFormat::Auto {
        return Ok(requested);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson" | "json") => return Ok(InputFormat::Jsonl),
        Some("txt") => return Ok(InputFormat::Text),
        _ => {}
    }
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = Vec::new();
    f.take(1 << 16)
        .read_to_end(&mut head)
        .map_err(|e| io_err(path, e))?;
    let first = head
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty());
    Ok(match first {
        Some(l) if l.starts_with(b"{") => InputFormat::Jsonl,
        _ => InputFormat::Text,
    })
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> CurateError {
    CurateError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A line as read: its 1-based number and bytes (line ending removed).
#[derive(Debug, Clone)]
pub struct RawLine {
    /// 1-based line number.
    pub line: usize,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Reads a file in chunks of non-blank lines.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    path: String,
    line: usize,
    /// Blank lines skipped so far.
    pub blank_lines: usize,
    done: bool,
}

impl LineReader {
    /// Open a file.
    pub fn open(path: &Path) -> Result<Self, CurateError> {
        let f = File::open(path).map_err(|e| io_err(path, e))?;
        Ok(Self {
            reader: Box::new(BufReader::with_capacity(1 << 20, f)),
            path: path.display().to_string(),
            line: 0,
            blank_lines: 0,
            done: false,
        })
    }

    /// Up to `max` further non-blank lines; empty at the end of the file.
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<RawLine>, CurateError> {
        let mut out = Vec::new();
        while !self.done && out.len() < max {
            let mut buf = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| CurateError::Io {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            if buf.trim_ascii().is_empty() {
                self.blank_lines += 1;
                continue;
            }
            out.push(RawLine {
                line: self.line,
                bytes: buf,
            });
        }
        Ok(out)
    }
}

fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = record.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// The prompt text of a record: the dotted `prompt_field`, else a string `prompt` field.
pub fn prompt_of(record: &Map<String, Value>, prompt_field: &str) -> Option<String> {
    lookup(record, prompt_field)
        .and_then(Value::as_str)
        .or_else(|| record.get("prompt").and_then(Value::as_str))
        .map(str::to_string)
}

/// A string field of a record by dotted path.
pub fn str_field<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    lookup(record, path).and_then(Value::as_str)
}

fn bad(file: &Arc<str>, raw: &RawLine, reason: &str, message: String) -> Sample {
    let mut s = Sample::new(
        String::new(),
        Map::new(),
        String::new(),
        file.clone(),
        raw.line,
    );
    s.raw_line = Some(String::from_utf8_lossy(&raw.bytes).into_owned());
    s.reject = Some(Reject::new(STAGE, reason, message));
    s
}

/// Parse one line into a sample (rejected at `read` when invalid). Ids are not yet assigned to
/// records without one (see [`super::runner::IdAssigner`]).
pub fn parse_line(
    file: &Arc<str>,
    raw: &RawLine,
    format: InputFormat,
    cfg: &CurateConfig,
) -> Sample {
    // A fast validation first; the standard library's for the position of the error.
    let text =
        match simdutf8::basic::from_utf8(&raw.bytes).or_else(|_| std::str::from_utf8(&raw.bytes)) {
            Ok(t) => t,
            Err(e) => {
                return bad(
                    file,
                    raw,
                    "invalid_utf8",
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )
            }
        };
    if format != InputFormat::Jsonl {
        let mut record = Map::new();
        record.insert(cfg.text_field.clone(), Value::String(text.to_string()));
        return Sample::new(
            String::new(),
            record,
            text.to_string(),
            file.clone(),
            raw.line,
        );
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return bad(file, raw, "malformed_json", e.to_string()),
    };
    let Value::Object(record) = value else {
        return bad(
            file,
            raw,
            "not_an_object",
            "a JSONL record must be a JSON object".into(),
        );
    };
    let id = match record.get(&cfg.id_field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    // The text moves out of the record (the output writes the normalised text in its place)
    // unless another setting reads the same field.
    let movable = cfg.text_field != cfg.id_field
        && cfg.text_field != "prompt"
        && cfg.prompt_field.split('.').next() != Some(cfg.text_field.as_str())
        && cfg.text_field != cfg.finish_reason_field;
    let mut record = record;
    let body = match record.get_mut(&cfg.text_field) {
        Some(Value::String(s)) if movable => std::mem::take(s),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let kind = match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                _ => "an object",
            };
            return bad(
                file,
                raw,
                "missing_text",
                format!("field `{}` is {kind}, not a string", cfg.text_field),
            );
        }
        None => {
            return bad(
                file,
                raw,
                "missing_text",
                format!("no `{}` field", cfg.text_field),
            )
        }
    };
    Sample::new(id, record, body, file.clone(), raw.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(line: &str) -> RawLine {
        RawLine {
            line: 1,
            bytes: line.as_bytes().to_vec(),
        }
    }

    #[test]
    fn text_moves_out_of_the_record_unless_another_setting_reads_it() {
        let file: Arc<str> = "in.jsonl".into();
        let line = raw(r#"{"id":"a","text":"Ndi matsheloni.","prompt":"Ṱalutshedza"}"#);
        let cfg = CurateConfig::default();
        let s = parse_line(&file, &line, InputFormat::Jsonl, &cfg);
        assert_eq!(s.original(), "Ndi matsheloni.");
        assert_eq!(s.record["text"], Value::String(String::new()));
        assert_eq!(s.id, "a");
        // The text field is also the prompt's: it stays where the prompt lookup finds it.
        let cfg = CurateConfig {
            text_field: "prompt".into(),
            ..CurateConfig::default()
        };
        let s = parse_line(&file, &line, InputFormat::Jsonl, &cfg);
        assert_eq!(s.original(), "Ṱalutshedza");
        assert_eq!(s.record["prompt"], Value::String("Ṱalutshedza".into()));
        assert_eq!(
            prompt_of(&s.record, &cfg.prompt_field).as_deref(),
            Some("Ṱalutshedza")
        );
        // The text field is also the id's: the id is read first, the text stays.
        let cfg = CurateConfig {
            text_field: "id".into(),
            ..CurateConfig::default()
        };
        let s = parse_line(&file, &line, InputFormat::Jsonl, &cfg);
        assert_eq!((s.id.as_str(), s.original()), ("a", "a"));
        assert_eq!(s.record["id"], Value::String("a".into()));
    }
}
