//! The shipped JSON Schema of a sample (`schemas/sample.v1.schema.json`) and a small validator
//! for the subset of JSON Schema (2020-12) it uses.
//!
//! Supported keywords: `type` (a name or a list), `const`, `enum`, `required`, `properties`,
//! `additionalProperties` (a boolean or a schema), `items`, `minimum`, `maximum`, `minLength`
//! (in characters), `pattern` (a small regular-expression subset: anchors, literals, escapes,
//! `.`, `\d`, character classes with ranges, groups, and the quantifiers `?`, `*`, `+`, `{n}`,
//! `{n,m}`) and `$ref` to `#/$defs/NAME`. Annotation keywords (`description`, `title`, ...) are
//! ignored. A schema that uses anything else is reported, never silently accepted.

use serde_json::Value;

use super::sample::json_type;

/// The JSON Schema of [`super::SampleV1`], as shipped in `schemas/sample.v1.schema.json`.
pub const SAMPLE_SCHEMA_JSON: &str = include_str!("../../schemas/sample.v1.schema.json");

/// One way a value breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer of the offending value (`/generator/sha256`; empty for the root).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// A compiled schema: the root document, against which `$ref`s resolve.
#[derive(Debug, Clone)]
pub struct Validator {
    root: Value,
}

impl Validator {
    /// A validator for a schema document.
    pub fn new(root: Value) -> Self {
        Self { root }
    }

    /// The validator of the shipped sample schema.
    pub fn sample_v1() -> Self {
        // The schema is compiled into the binary and tested to parse; a parse failure here is
        // a build defect, reported as a schema that rejects everything.
        let root = serde_json::from_str(SAMPLE_SCHEMA_JSON)
            .unwrap_or_else(|e| serde_json::json!({"not-a-valid-schema": e.to_string()}));
        Self::new(root)
    }

    /// Every violation of `value` (empty when it is valid).
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check(&self.root, value, "", &mut out, 0);
        out
    }

    fn check(&self, schema: &Value, v: &Value, ptr: &str, out: &mut Vec<Violation>, depth: usize) {
        let mut bad = |m: String| {
            out.push(Violation {
                pointer: ptr.to_string(),
                message: m,
            })
        };
        if depth > 64 {
            bad("schema nesting too deep (recursive $ref?)".into());
            return;
        }
        let Some(obj) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                bad("no value is allowed here".into());
            }
            return;
        };
        for key in obj.keys() {
            if !KNOWN.contains(&key.as_str()) {
                bad(format!(
                    "schema keyword `{key}` is not supported by the validator"
                ));
            }
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            match r
                .strip_prefix("#/$defs/")
                .and_then(|n| self.root.get("$defs")?.get(n))
            {
                Some(target) => self.check(target, v, ptr, out, depth + 1),
                None => out.push(Violation {
                    pointer: ptr.to_string(),
                    message: format!("unresolvable $ref `{r}`"),
                }),
            }
            return;
        }
        let mut bad = |m: String| {
            out.push(Violation {
                pointer: ptr.to_string(),
                message: m,
            })
        };
        if let Some(t) = obj.get("type") {
            let names: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !names.iter().any(|n| type_matches(n, v)) {
                bad(format!(
                    "expected {}, found {}",
                    names.join(" or "),
                    json_type(v)
                ));
                return;
            }
        }
        if let Some(c) = obj.get("const") {
            if c != v {
                bad(format!("must be {c}, found {}", short(v)));
            }
        }
        if let Some(Value::Array(options)) = obj.get("enum") {
            if !options.contains(v) {
                let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
                bad(format!(
                    "must be one of {}, found {}",
                    list.join(", "),
                    short(v)
                ));
            }
        }
        if let (Some(min), Some(n)) = (obj.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if n < min {
                bad(format!("{n} is below the minimum {min}"));
            }
        }
        if let (Some(max), Some(n)) = (obj.get("maximum").and_then(Value::as_f64), v.as_f64()) {
            if n > max {
                bad(format!("{n} is above the maximum {max}"));
            }
        }
        if let Value::String(s) = v {
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
                if (s.chars().count() as u64) < min {
                    bad(format!("shorter than {min} characters"));
                }
            }
            if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
                match Pattern::compile(p) {
                    Ok(re) => {
                        if !re.is_match(s) {
                            bad(format!("{} does not match the pattern {p}", short(v)));
                        }
                    }
                    Err(e) => bad(format!("pattern {p} is not supported: {e}")),
                }
            }
        }
        if let Value::Array(items) = v {
            if let Some(item_schema) = obj.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check(item_schema, item, &format!("{ptr}/{i}"), out, depth + 1);
                }
            }
        }
        if let Value::Object(map) = v {
            if let Some(Value::Array(req)) = obj.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        out.push(Violation {
                            pointer: ptr.to_string(),
                            message: format!("required field `{r}` is missing"),
                        });
                    }
                }
            }
            let props = obj.get("properties").and_then(Value::as_object);
            for (k, val) in map {
                let child = format!("{ptr}/{}", escape_pointer(k));
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, val, &child, out, depth + 1),
                    None => match obj.get("additionalProperties") {
                        Some(Value::Bool(false)) => out.push(Violation {
                            pointer: child,
                            message: format!("field `{k}` is not allowed by the schema"),
                        }),
                        Some(s @ Value::Object(_)) => self.check(s, val, &child, out, depth + 1),
                        _ => {}
                    },
                }
            }
        }
    }
}

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "minLength",
    "pattern",
];

fn type_matches(name: &str, v: &Value) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// A compiled pattern of the small regular-expression subset (see the module documentation).
#[derive(Debug, Clone)]
pub struct Pattern {
    items: Vec<Item>,
    anchored_start: bool,
    anchored_end: bool,
}

#[derive(Debug, Clone)]
enum Atom {
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Group(Vec<Item>),
}

#[derive(Debug, Clone)]
struct Item {
    atom: Atom,
    min: usize,
    max: usize,
}

impl Pattern {
    /// Compile a pattern; errors say which construct is unsupported.
    pub fn compile(p: &str) -> Result<Self, String> {
        let chars: Vec<char> = p.chars().collect();
        let mut pos = 0;
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            pos = 1;
        }
        let mut end = chars.len();
        let anchored_end =
            end > pos && chars[end - 1] == '$' && (end < 2 || chars[end - 2] != '\\');
        if anchored_end {
            end -= 1;
        }
        let items = parse_seq(&chars[..end], &mut pos, false)?;
        if pos != end {
            return Err(format!("unexpected `{}` at {pos}", chars[pos]));
        }
        Ok(Self {
            items,
            anchored_start,
            anchored_end,
        })
    }

    /// Whether the pattern matches `s` (anywhere, unless anchored).
    pub fn is_match(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        let starts: Vec<usize> = if self.anchored_start {
            vec![0]
        } else {
            (0..=chars.len()).collect()
        };
        let end = self.anchored_end;
        starts
            .into_iter()
            .any(|st| match_items(&self.items, 0, &chars, st, &|p| !end || p == chars.len()))
    }
}

fn parse_seq(c: &[char], pos: &mut usize, in_group: bool) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    while *pos < c.len() {
        let ch = c[*pos];
        let atom = match ch {
            ')' if in_group => return Ok(items),
            '(' => {
                *pos += 1;
                let inner = parse_seq(c, pos, true)?;
                if c.get(*pos) != Some(&')') {
                    return Err("unclosed group".into());
                }
                *pos += 1;
                Atom::Group(inner)
            }
            '[' => {
                *pos += 1;
                let negated = c.get(*pos) == Some(&'^');
                if negated {
                    *pos += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let Some(&a) = c.get(*pos) else {
                        return Err("unclosed character class".into());
                    };
                    if a == ']' {
                        *pos += 1;
                        break;
                    }
                    let a = if a == '\\' {
                        *pos += 1;
                        *c.get(*pos).ok_or("dangling escape")?
                    } else {
                        a
                    };
                    *pos += 1;
                    if c.get(*pos) == Some(&'-') && c.get(*pos + 1).is_some_and(|&b| b != ']') {
                        let b = c[*pos + 1];
                        *pos += 2;
                        ranges.push((a, b));
                    } else {
                        ranges.push((a, a));
                    }
                }
                Atom::Class { ranges, negated }
            }
            '\\' => {
                *pos += 1;
                let e = *c.get(*pos).ok_or("dangling escape")?;
                *pos += 1;
                match e {
                    'd' => Atom::Class {
                        ranges: vec![('0', '9')],
                        negated: false,
                    },
                    'w' | 's' | 'b' | 'D' | 'W' | 'S' | 'B' => {
                        return Err(format!("escape \\{e} is not supported"))
                    }
                    other => Atom::Char(other),
                }
            }
            '.' => {
                *pos += 1;
                Atom::Any
            }
            '|' | '^' | '$' | '*' | '+' | '?' | '{' | ')' => {
                return Err(format!("`{ch}` is not supported here"))
            }
            other => {
                *pos += 1;
                Atom::Char(other)
            }
        };
        let (min, max) = match c.get(*pos) {
            Some('?') => {
                *pos += 1;
                (0, 1)
            }
            Some('*') => {
                *pos += 1;
                (0, usize::MAX)
            }
            Some('+') => {
                *pos += 1;
                (1, usize::MAX)
            }
            Some('{') => {
                let close = c[*pos..]
                    .iter()
                    .position(|&x| x == '}')
                    .ok_or("unclosed {")?
                    + *pos;
                let body: String = c[*pos + 1..close].iter().collect();
                *pos = close + 1;
                let parse = |s: &str| s.trim().parse::<usize>().map_err(|e| e.to_string());
                match body.split_once(',') {
                    None => {
                        let n = parse(&body)?;
                        (n, n)
                    }
                    Some((a, "")) => (parse(a)?, usize::MAX),
                    Some((a, b)) => (parse(a)?, parse(b)?),
                }
            }
            _ => (1, 1),
        };
        items.push(Item { atom, min, max });
    }
    if in_group {
        return Err("unclosed group".into());
    }
    Ok(items)
}

fn match_items(
    items: &[Item],
    i: usize,
    s: &[char],
    pos: usize,
    k: &dyn Fn(usize) -> bool,
) -> bool {
    if i == items.len() {
        return k(pos);
    }
    repeat(items, i, s, pos, 0, k)
}

fn repeat(
    items: &[Item],
    i: usize,
    s: &[char],
    pos: usize,
    count: usize,
    k: &dyn Fn(usize) -> bool,
) -> bool {
    let item = &items[i];
    if count < item.max
        && match_atom(&item.atom, s, pos, &|np| {
            (np > pos || count < item.min) && repeat(items, i, s, np, count + 1, k)
        })
    {
        return true;
    }
    count >= item.min && match_items(items, i + 1, s, pos, k)
}

fn match_atom(a: &Atom, s: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
    match a {
        Atom::Group(inner) => match_items(inner, 0, s, pos, k),
        _ => {
            let Some(&c) = s.get(pos) else {
                return false;
            };
            let ok = match a {
                Atom::Char(x) => c == *x,
                Atom::Any => c != '\n',
                Atom::Class { ranges, negated } => {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                Atom::Group(_) => false,
            };
            ok && k(pos + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_schema_parses_and_uses_only_supported_keywords() {
        let root: Value = serde_json::from_str(SAMPLE_SCHEMA_JSON).unwrap();
        let v = Validator::new(root);
        // An empty object: only "required" violations, no "not supported" ones.
        let errs = v.validate(&serde_json::json!({}));
        assert!(!errs.is_empty());
        assert!(
            errs.iter().all(|e| e.message.contains("required")),
            "{errs:?}"
        );
    }

    #[test]
    fn patterns() {
        let p = Pattern::compile("^sha256:[0-9a-f]{64}$").unwrap();
        assert!(p.is_match(&format!("sha256:{}", "a".repeat(64))));
        assert!(!p.is_match(&format!("sha256:{}", "a".repeat(63))));
        assert!(!p.is_match(&format!("sha256:{}g", "a".repeat(63))));
        let t = Pattern::compile(
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$",
        )
        .unwrap();
        assert!(t.is_match("2025-01-02T03:04:05Z"));
        assert!(t.is_match("2025-01-02T03:04:05.123Z"));
        assert!(!t.is_match("2025-01-02T03:04:05.Z"));
        assert!(!t.is_match("2025-01-02 03:04:05Z"));
        assert!(Pattern::compile("^synthcorpus .+$")
            .unwrap()
            .is_match("synthcorpus 0.1.0"));
        assert!(Pattern::compile("a|b").is_err());
        assert!(Pattern::compile("b+").unwrap().is_match("abbc"));
    }

    #[test]
    fn violations_name_the_pointer() {
        let v = Validator::new(serde_json::json!({
            "type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "array", "items": {"type": "integer", "minimum": 1}}}
        }));
        let errs = v.validate(&serde_json::json!({"a": [1, 0, "x"], "b": 1}));
        let ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(ptrs, vec!["/a/1", "/a/2", "/b"]);
    }
}
