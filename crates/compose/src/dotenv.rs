//! `.env` and `env_file` parsing with Compose's rules: `KEY=VALUE`, optional `export `,
//! `#` comments, single quotes literal, double quotes with escapes, and `${VAR}`
//! interpolation in unquoted and double-quoted values (earlier lines and the process
//! environment are visible).

use crate::interpolate::expand;
use std::collections::BTreeMap;

/// A line that is not `KEY=VALUE`.
#[derive(Debug, PartialEq, Eq)]
pub struct EnvFileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses an env file. Lines with a key and no `=` take the value from `outer` or are
/// left out, as Compose does.
///
/// # Errors
/// The first malformed line.
pub fn parse(text: &str, outer: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, EnvFileError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let err = |m: &str| EnvFileError { line: i + 1, column: indent + 1, message: m.to_string() };
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim_end(), Some(v)),
            None => (line.trim_end(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(err(&format!("invalid variable name `{key}`")));
        }
        let Some(value) = value else {
            if let Some(v) = outer.get(key) {
                vars.insert(key.to_string(), v.clone());
            }
            continue;
        };
        let value = value.trim_start();
        let lookup = |n: &str| outer.get(n).or_else(|| vars.get(n)).cloned();
        let parsed = if let Some(rest) = value.strip_prefix('\'') {
            match rest.find('\'') {
                Some(end) => rest[..end].to_string(),
                None => return Err(err("unterminated single quote")),
            }
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = rest.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some(o) => out.push(o),
                        None => {}
                    },
                    c => out.push(c),
                }
            }
            if !closed {
                return Err(err("unterminated double quote"));
            }
            expand(&out, &lookup).map(|e| e.value).unwrap_or(out)
        } else {
            let v = match value.find(" #") {
                Some(i) => &value[..i],
                None => value,
            };
            let v = v.trim_end();
            expand(v, &lookup).map(|e| e.value).unwrap_or_else(|_| v.to_string())
        };
        vars.insert(key.to_string(), parsed);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let outer: BTreeMap<String, String> = [("HOME".to_string(), "/h".to_string())].into();
        let text = "# c\nA=1\nexport B = two words # note\nC='${A} lit'\nD=\"x\\ny ${A}\"\nE=${HOME}/x\nHOME\nMISSING\n";
        let v = parse(text, &outer).unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "${A} lit");
        assert_eq!(v["D"], "x\ny 1");
        assert_eq!(v["E"], "/h/x");
        assert_eq!(v["HOME"], "/h");
        assert!(!v.contains_key("MISSING"));
        assert_eq!(parse("A B=1", &outer).unwrap_err().line, 1);
    }
}
