//! Diagnostics point at `file:line:column` with a rustc-like snippet, because a Compose
//! file is hand-written and a user fixes it faster when shown the exact spot.
//!
//! Every source text loaded is kept in [`Sources`] so that any later stage (schema
//! validation, normalization of a merged tree) can still render the original line.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One message about a place in a Compose (or env) file. Line and column are 1-based;
/// `0` means "the file as a whole".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending node, like `services.web.ports[0]`.
    pub key: Option<String>,
    pub message: String,
    /// Rendered source excerpt with a caret under the column.
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}: ", self.severity)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

/// Loading failed; holds every error found (at least one), not just the first.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A position in a loaded source. `src` indexes [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub src: usize,
    pub line: usize,
    pub col: usize,
}

pub(crate) struct SourceFile {
    /// Path as shown to the user.
    pub path: PathBuf,
    pub text: String,
    /// Directory relative paths in this file resolve against.
    pub base_dir: PathBuf,
}

/// All texts read while loading, so diagnostics can quote them.
#[derive(Default)]
pub(crate) struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String, base_dir: &Path) -> usize {
        self.files.push(SourceFile { path: path.to_path_buf(), text, base_dir: base_dir.to_path_buf() });
        self.files.len() - 1
    }

    pub fn base_dir(&self, src: usize) -> &Path {
        &self.files[src].base_dir
    }

    pub fn diag(&self, severity: Severity, pos: Pos, key: Option<&str>, message: impl Into<String>) -> Diagnostic {
        let file = &self.files[pos.src];
        Diagnostic {
            severity,
            file: file.path.clone(),
            line: pos.line,
            column: pos.col,
            key: key.map(str::to_string),
            message: message.into(),
            snippet: snippet(&file.text, pos.line, pos.col),
        }
    }
}

/// Renders the line with its number and a caret under `col`.
pub(crate) fn snippet(text: &str, line: usize, col: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    let src_line = text.lines().nth(line - 1)?;
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret_pad: String =
        src_line.chars().take(col.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    Some(format!("{pad} |\n{num} | {src_line}\n{pad} | {caret_pad}^"))
}

/// The message for a value outside a fixed set, worded the same by the schema check and
/// by normalization: "unknown value `x` (expected a, b or c)".
pub(crate) fn unknown_value(value: &str, allowed: &[&str]) -> String {
    let expected = match allowed {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    format!("unknown value `{value}` (expected {expected})")
}
