//! Search filters, `order_by` clauses and page tokens, after `mlflow/utils/search_utils.py`:
//! filters are `AND`-joined comparisons such as `name LIKE 'recsys%'`, `name = 'x'`,
//! `run_id IN ('a', 'b')` or `tags.team = 'risk'`; page tokens are base64 of `{"offset": N}`.

use super::RegistryError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Like,
    ILike,
    In,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Attribute(String),
    Tag(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Clause {
    pub key: Key,
    pub op: Op,
    pub values: Vec<String>,
}

impl Clause {
    /// Whether `lhs` (None: the attribute or tag is absent) satisfies the clause.
    pub fn matches(&self, lhs: Option<&str>) -> bool {
        let Some(lhs) = lhs else { return false };
        let value = self.values.first().map(String::as_str).unwrap_or("");
        match self.op {
            Op::Eq => lhs == value,
            Op::Ne => lhs != value,
            Op::Like => like(lhs, value, false),
            Op::ILike => like(lhs, value, true),
            Op::In => self.values.iter().any(|v| v == lhs),
            Op::Gt | Op::Ge | Op::Lt | Op::Le => false,
        }
    }

    /// Whether the number `lhs` satisfies the clause (`version_number`).
    pub fn matches_number(&self, lhs: i64) -> bool {
        let Some(value) = self
            .values
            .first()
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            return false;
        };
        match self.op {
            Op::Eq => lhs == value,
            Op::Ne => lhs != value,
            Op::Gt => lhs > value,
            Op::Ge => lhs >= value,
            Op::Lt => lhs < value,
            Op::Le => lhs <= value,
            Op::Like | Op::ILike | Op::In => false,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokenize(filter: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = filter.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' | '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let ch = *chars.get(i)?;
                    i += 1;
                    if ch == c {
                        // A doubled quote is an escaped quote.
                        if chars.get(i) == Some(&c) {
                            s.push(c);
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    s.push(ch);
                }
                tokens.push(Token::Str(s));
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '=' => {
                tokens.push(Token::Op("="));
                i += 1;
            }
            '!' | '<' | '>' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(match c {
                    '!' => "!=",
                    '<' => "<=",
                    _ => ">=",
                }));
                i += 2;
            }
            '<' if chars.get(i + 1) == Some(&'>') => {
                tokens.push(Token::Op("!="));
                i += 2;
            }
            '<' | '>' => {
                tokens.push(Token::Op(if c == '<' { "<" } else { ">" }));
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' || c == '`' || c == '.' => {
                let mut s = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch == '`' {
                        s.push(ch);
                        i += 1;
                        while let Some(&inner) = chars.get(i) {
                            s.push(inner);
                            i += 1;
                            if inner == '`' {
                                break;
                            }
                        }
                    } else if ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '-' {
                        s.push(ch);
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(s));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

fn python_set(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

fn parse_key(ident: &str, attributes: &[&str]) -> Result<Key, RegistryError> {
    let strip = |s: &str| s.trim_matches('`').to_string();
    let (entity, key) = match ident.split_once('.') {
        Some((entity, key)) if !entity.starts_with('`') => (Some(entity), key),
        _ => (None, ident),
    };
    match entity {
        None | Some("attribute") => {
            let key = strip(key);
            if attributes.contains(&key.as_str()) {
                Ok(Key::Attribute(key))
            } else {
                Err(RegistryError::invalid(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                    python_set(attributes)
                )))
            }
        }
        Some("tag" | "tags") => Ok(Key::Tag(strip(key))),
        Some(other) => Err(RegistryError::invalid(format!(
            "Invalid entity type '{other}'. Valid entity types are ('attribute', 'tag', 'tags')"
        ))),
    }
}

/// Parse a search filter; `attributes` are the attribute keys the entity supports. An empty
/// filter is no clause at all.
pub(crate) fn parse_filter(
    filter: &str,
    attributes: &[&str],
) -> Result<Vec<Clause>, RegistryError> {
    if filter.trim().is_empty() {
        return Ok(Vec::new());
    }
    let bad = || RegistryError::invalid(format!("Error on parsing filter '{filter}'"));
    let tokens = tokenize(filter).ok_or_else(bad)?;
    let mut clauses = Vec::new();
    let mut it = tokens.into_iter().peekable();
    loop {
        let Some(Token::Ident(ident)) = it.next() else {
            return Err(bad());
        };
        let lone = match it.peek() {
            None => true,
            Some(Token::Ident(word)) => word.eq_ignore_ascii_case("AND"),
            Some(_) => false,
        };
        if lone {
            return Err(RegistryError::invalid(format!(
                "Invalid clause(s) in filter string: {ident}"
            )));
        }
        let key = parse_key(&ident, attributes)?;
        let numeric = key == Key::Attribute("version_number".to_string());
        let op = match it.next() {
            Some(Token::Op("=")) => Op::Eq,
            Some(Token::Op("!=")) => Op::Ne,
            Some(Token::Op(cmp)) if numeric => match cmp {
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Le,
            },
            Some(Token::Op(cmp)) => {
                return Err(RegistryError::invalid(format!(
                    "Invalid comparator for attribute: {cmp}"
                )));
            }
            Some(Token::Ident(word)) => match word.to_ascii_uppercase().as_str() {
                "LIKE" => Op::Like,
                "ILIKE" => Op::ILike,
                "IN" => Op::In,
                _ => {
                    return Err(RegistryError::invalid(format!(
                        "Invalid clause(s) in filter string: {ident} {word}"
                    )));
                }
            },
            _ => return Err(bad()),
        };
        let values = if op == Op::In {
            if key != Key::Attribute("run_id".to_string()) {
                return Err(RegistryError::invalid(
                    "Invalid comparator for attribute: IN".to_string(),
                ));
            }
            if it.next() != Some(Token::Open) {
                return Err(bad());
            }
            let mut values = Vec::new();
            loop {
                match it.next() {
                    Some(Token::Str(s)) => values.push(s),
                    _ => return Err(bad()),
                }
                match it.next() {
                    Some(Token::Comma) => continue,
                    Some(Token::Close) => break,
                    _ => return Err(bad()),
                }
            }
            values
        } else {
            match it.next() {
                Some(Token::Str(s)) => vec![s],
                Some(Token::Ident(word)) if numeric && word.parse::<i64>().is_ok() => vec![word],
                Some(Token::Ident(word)) => {
                    return Err(RegistryError::invalid(format!(
                        "Parameter value is either not quoted or unidentified quote types used \
                         for string value {word}. Use either single or double quotes."
                    )));
                }
                _ => return Err(bad()),
            }
        };
        clauses.push(Clause { key, op, values });
        match it.next() {
            None => break,
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("AND") => continue,
            Some(_) => return Err(bad()),
        }
    }
    Ok(clauses)
}

/// SQL `LIKE`: `%` any run of characters, `_` any one character.
pub(crate) fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (t, p) = (fold(text), fold(pattern));
    // matched[j]: the first i characters of text match the first j of the pattern.
    let mut matched = vec![false; p.len() + 1];
    matched[0] = true;
    for j in 1..=p.len() {
        matched[j] = matched[j - 1] && p[j - 1] == '%';
    }
    for &tc in &t {
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = match p[j - 1] {
                '%' => next[j - 1] || matched[j],
                '_' => matched[j - 1],
                pc => matched[j - 1] && pc == tc,
            };
        }
        matched = next;
    }
    matched[p.len()]
}

/// Splits an `order_by` clause into (key, ascending).
fn split_order_by(clause: &str) -> Result<(&str, bool), RegistryError> {
    let mut words = clause.split_whitespace();
    let bad = || {
        RegistryError::invalid(format!(
            "Invalid ordering key in order_by clause '{clause}'."
        ))
    };
    let key = words.next().ok_or_else(bad)?;
    let ascending = match words.next().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => true,
        Some("DESC") => false,
        Some(_) => return Err(bad()),
    };
    if words.next().is_some() {
        return Err(bad());
    }
    Ok((key, ascending))
}

/// A `registered-models/search` `order_by` clause: (`name` | `last_updated_timestamp`,
/// ascending); `timestamp` stands for `last_updated_timestamp`.
pub(crate) fn parse_model_order_by(clause: &str) -> Result<(&'static str, bool), RegistryError> {
    let (key, ascending) = split_order_by(clause)?;
    let key = match key {
        "name" => "name",
        "timestamp" | "last_updated_timestamp" => "last_updated_timestamp",
        other => {
            return Err(RegistryError::invalid(format!(
                "Invalid order by key '{other}' specified. Valid keys are '{{'name', \
                 'timestamp'}}'"
            )));
        }
    };
    Ok((key, ascending))
}

/// A `model-versions/search` `order_by` clause: (key, ascending); the key may be backquoted or
/// prefixed with `attribute.`.
pub(crate) fn parse_version_order_by(clause: &str) -> Result<(&'static str, bool), RegistryError> {
    const KEYS: [&str; 4] = [
        "name",
        "creation_timestamp",
        "last_updated_timestamp",
        "version_number",
    ];
    let (key, ascending) = split_order_by(clause)?;
    let key = key
        .strip_prefix("attribute.")
        .unwrap_or(key)
        .trim_matches('`');
    match KEYS.iter().find(|k| **k == key) {
        Some(k) => Ok((k, ascending)),
        None => Err(RegistryError::invalid(format!(
            "Invalid attribute key '{key}' specified. Valid keys are '{}'",
            python_set(&KEYS)
        ))),
    }
}

/// Python's `repr` of a list of strings, for error messages.
pub(crate) fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|k| format!("'{k}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Python's `repr` of a JSON value, for error messages.
fn python_repr(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// `SearchUtils.create_page_token`: base64 of `{"offset": N}`.
pub(crate) fn page_token(offset: usize) -> String {
    base64_encode(format!("{{\"offset\": {offset}}}").as_bytes())
}

/// `SearchUtils.parse_start_offset_from_page_token`, with its error messages.
pub(crate) fn page_offset(token: &str) -> Result<usize, RegistryError> {
    if token.is_empty() {
        return Ok(0);
    }
    let decoded = base64_decode(token)
        .ok_or_else(|| RegistryError::invalid("Invalid page token, could not base64-decode"))?;
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        RegistryError::invalid(format!("Invalid page token, decoded value=b'{text}'"))
    })?;
    let offset = parsed.get("offset");
    let falsy = match offset {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(serde_json::Value::String(s)) => s.is_empty(),
        Some(serde_json::Value::Bool(b)) => !b,
        Some(_) => false,
    };
    if falsy {
        return Err(RegistryError::invalid(format!(
            "Invalid page token, parsed value={}",
            python_repr(&parsed)
        )));
    }
    let offset = offset.expect("checked above");
    let as_int = match offset {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    as_int.and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
        RegistryError::invalid(format!("Invalid page token, not stringable {offset}"))
    })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Python's lenient `b64decode`: characters outside the alphabet are skipped; the padding must
/// be right.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut values = Vec::new();
    let mut padding = 0;
    for c in text.bytes() {
        if c == b'=' {
            padding += 1;
            continue;
        }
        if let Some(v) = ALPHABET.iter().position(|&a| a == c) {
            if padding > 0 {
                return None;
            }
            values.push(v as u32);
        }
    }
    if (values.len() + padding) % 4 != 0 || values.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(values.len() * 3 / 4);
    for chunk in values.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &v)| acc | (v << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("recsys-ranker", "recsys%", false));
        assert!(like("recsys-ranker", "%ranker", false));
        assert!(like("recsys-ranker", "recsys_ranker", false));
        assert!(!like("recsys-ranker", "Recsys%", false));
        assert!(like("recsys-ranker", "Recsys%", true));
        assert!(!like("fraud-detector", "recsys%", false));
        assert!(like("", "%", false));
    }

    #[test]
    fn filters_parse() {
        let c = parse_filter("name LIKE 'recsys%'", &["name"]).unwrap();
        assert_eq!(c[0].op, Op::Like);
        assert_eq!(c[0].values, vec!["recsys%".to_string()]);
        let c = parse_filter("name='m' and tags.`team` = \"risk\"", &["name"]).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].key, Key::Tag("team".to_string()));
        let c = parse_filter("run_id IN ('a', 'b')", &["name", "run_id"]).unwrap();
        assert_eq!(c[0].values.len(), 2);
        assert!(parse_filter("owner = 'x'", &["name"]).is_err());
        assert!(parse_filter("name = x", &["name"]).is_err());
        assert!(parse_filter("name =", &["name"]).is_err());
    }

    #[test]
    fn page_tokens_round_trip() {
        let token = page_token(100);
        assert_eq!(token, "eyJvZmZzZXQiOiAxMDB9");
        assert_eq!(page_offset(&token).unwrap(), 100);
        assert_eq!(page_offset("").unwrap(), 0);
        assert!(page_offset("!!!").is_err());
        assert!(page_offset(&page_token(0)).is_err());
        assert_eq!(base64_decode(&base64_encode(b"ab")).unwrap(), b"ab");
        assert_eq!(base64_decode(&base64_encode(b"abcd")).unwrap(), b"abcd");
    }
}
