//! Parsing Traefik router rules (`Host(`a`) && PathPrefix(`/api`)`) into a [`Rule`].
//!
//! Only the matchers roost's proxy can serve are accepted: `Host` (and its v2 alias
//! `HostHeader`) and `PathPrefix`, each with one or more arguments as Traefik v2
//! allows. Any other Traefik matcher is an error that names it, so a rule is never
//! silently widened or narrowed. Precedence as in Traefik: `!` binds tightest, then
//! `&&`, then `||`; both binary operators associate to the left.

use crate::Rule;

/// Why a rule could not be parsed, and where: `offset` is the byte offset in the rule
/// text (0-based); the message shows it as a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at column {}", .offset + 1)]
pub struct ParseError {
    pub offset: usize,
    pub reason: Reason,
}

/// What is wrong with a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("empty rule")]
    Empty,
    #[error("unexpected `{0}`")]
    Unexpected(String),
    #[error("unexpected end of rule, expected {0}")]
    UnexpectedEnd(&'static str),
    #[error("expected {expected}, found `{found}`")]
    Expected { expected: &'static str, found: String },
    #[error("unterminated string")]
    Unterminated,
    #[error("unsupported escape `\\{0}` (only \\\\ and \\\" are)")]
    Escape(char),
    #[error("{0} is not supported; use Host or PathPrefix")]
    Unsupported(String),
    #[error("unknown matcher `{0}`; use Host or PathPrefix")]
    Unknown(String),
    #[error("{0} needs at least one argument")]
    NoArguments(&'static str),
    #[error("empty host")]
    EmptyHost,
    #[error("`{0}` is not a host name (no scheme, port, path or wildcard)")]
    BadHost(String),
    #[error("path prefix `{0}` must start with `/`")]
    BadPath(String),
    #[error("rule nested more than {0} levels deep (parentheses, `!`, `&&` and `||` count)")]
    TooDeep(usize),
}

/// How deep a rule may nest: parentheses, `!` and each `&&`/`||` of a chain (which
/// builds a left-deep tree) count one level. Real rules need a handful; the bound keeps
/// the recursive parser, printer, matcher and drop of a hostile rule off the stack's end.
pub const MAX_DEPTH: usize = 100;

/// Traefik matchers roost knows by name but does not serve; named in the error.
const UNSUPPORTED: &[&str] = &[
    "HostRegexp", "Path", "PathRegexp", "PathPrefixRegexp", "Headers", "HeadersRegexp", "Header", "HeaderRegexp",
    "Method", "Query", "QueryRegexp", "ClientIP", "HostSNI", "HostSNIRegexp", "ALPN",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
    And,
    Or,
    Not,
    End,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
            Tok::And => "&&".into(),
            Tok::Or => "||".into(),
            Tok::Not => "!".into(),
            Tok::End => String::new(),
        }
    }
}

fn err<T>(offset: usize, reason: Reason) -> Result<T, ParseError> {
    Err(ParseError { offset, reason })
}

/// Splits the rule into tokens with their byte offsets; the last is always `End`.
fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '!' => Tok::Not,
            '&' | '|' => match chars.next_if(|&(_, d)| d == c) {
                Some(_) if c == '&' => Tok::And,
                Some(_) => Tok::Or,
                None => return err(i, Reason::Unexpected(c.to_string())),
            },
            '`' | '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return err(i, Reason::Unterminated),
                        Some((_, d)) if d == c => break,
                        Some((j, '\\')) if c == '"' => match chars.next() {
                            Some((_, e @ ('\\' | '"'))) => s.push(e),
                            Some((_, e)) => return err(j, Reason::Escape(e)),
                            None => return err(i, Reason::Unterminated),
                        },
                        Some((_, d)) => s.push(d),
                    }
                }
                Tok::Str(s)
            }
            c if c.is_ascii_alphabetic() => {
                let mut s = c.to_string();
                while let Some((_, d)) = chars.next_if(|&(_, d)| d.is_ascii_alphanumeric() || d == '_') {
                    s.push(d);
                }
                Tok::Ident(s)
            }
            c => return err(i, Reason::Unexpected(c.to_string())),
        };
        out.push((i, tok));
    }
    out.push((text.len(), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }
    fn offset(&self) -> usize {
        self.toks[self.at].0
    }
    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at].clone();
        self.at = (self.at + 1).min(self.toks.len() - 1);
        t
    }
    /// An error for the current token, which is not what the grammar wants here.
    fn unexpected<T>(&self, expected: &'static str) -> Result<T, ParseError> {
        match self.peek() {
            Tok::End => err(self.offset(), Reason::UnexpectedEnd(expected)),
            t => err(self.offset(), Reason::Unexpected(t.text())),
        }
    }
    fn expect(&mut self, want: Tok, expected: &'static str) -> Result<(), ParseError> {
        if *self.peek() == want {
            self.next();
            return Ok(());
        }
        match self.peek() {
            Tok::End => err(self.offset(), Reason::UnexpectedEnd(expected)),
            t => err(self.offset(), Reason::Expected { expected, found: t.text() }),
        }
    }

    /// One level deeper at byte `offset`; an error past [`MAX_DEPTH`].
    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(offset, Reason::TooDeep(MAX_DEPTH));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Rule, ParseError> {
        self.binary(Tok::Or, Self::and, Rule::Or)
    }

    fn and(&mut self) -> Result<Rule, ParseError> {
        self.binary(Tok::And, Self::unary, Rule::And)
    }

    /// `operand (op operand)*`, grouped to the left.
    fn binary(&mut self, op: Tok, operand: fn(&mut Self) -> Result<Rule, ParseError>, make: fn(Box<Rule>, Box<Rule>) -> Rule) -> Result<Rule, ParseError> {
        let mut left = operand(self)?;
        let outer = self.depth;
        while *self.peek() == op {
            let at = self.offset();
            self.enter(at)?;
            self.next();
            left = make(Box::new(left), Box::new(operand(self)?));
        }
        self.depth = outer;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Rule, ParseError> {
        match self.peek().clone() {
            Tok::Not => {
                let at = self.offset();
                self.enter(at)?;
                self.next();
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Rule::Not(Box::new(inner)))
            }
            Tok::Open => {
                let at = self.offset();
                self.enter(at)?;
                self.next();
                let inner = self.or()?;
                self.expect(Tok::Close, "`)`")?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Ident(name) => {
                let at = self.offset();
                let host = match name.as_str() {
                    "Host" | "HostHeader" => true,
                    "PathPrefix" => false,
                    n if UNSUPPORTED.contains(&n) => return err(at, Reason::Unsupported(name)),
                    _ => return err(at, Reason::Unknown(name)),
                };
                self.next();
                let args = self.args(if host { "Host" } else { "PathPrefix" })?;
                for (off, a) in &args {
                    check_arg(host, a).map_err(|reason| ParseError { offset: *off, reason })?;
                }
                let args = args.into_iter().map(|(_, a)| a).collect();
                Ok(if host { Rule::Host(args) } else { Rule::PathPrefix(args) })
            }
            _ => self.unexpected("a matcher such as Host(`example.com`)"),
        }
    }

    /// `( "a", "b" )`: the strings with their offsets.
    fn args(&mut self, matcher: &'static str) -> Result<Vec<(usize, String)>, ParseError> {
        self.expect(Tok::Open, "`(`")?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                (off, Tok::Str(s)) => out.push((off, s)),
                (off, Tok::Close) if out.is_empty() => return err(off, Reason::NoArguments(matcher)),
                (off, Tok::End) => return err(off, Reason::UnexpectedEnd("a quoted string")),
                (off, t) => return err(off, Reason::Expected { expected: "a quoted string", found: t.text() }),
            }
            match self.next() {
                (_, Tok::Comma) => {}
                (_, Tok::Close) => return Ok(out),
                (off, Tok::End) => return err(off, Reason::UnexpectedEnd("`,` or `)`")),
                (off, t) => return err(off, Reason::Expected { expected: "`,` or `)`", found: t.text() }),
            }
        }
    }
}

/// Validates one argument of `Host` (`host` true) or `PathPrefix`.
pub(crate) fn check_arg(host: bool, a: &str) -> Result<(), Reason> {
    if host {
        if a.is_empty() {
            return Err(Reason::EmptyHost);
        }
        if !a.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_')) || a.starts_with('.') {
            return Err(Reason::BadHost(a.to_string()));
        }
    } else if !a.starts_with('/') {
        return Err(Reason::BadPath(a.to_string()));
    }
    Ok(())
}

/// Parses a Traefik router rule.
///
/// # Errors
/// A [`ParseError`] with the byte offset of the first problem: bad syntax, a matcher
/// other than `Host`/`PathPrefix`, an empty or malformed host, a path without `/`.
pub fn parse(text: &str) -> Result<Rule, ParseError> {
    let toks = lex(text)?;
    if toks.len() == 1 {
        return err(0, Reason::Empty);
    }
    let mut p = Parser { toks, at: 0, depth: 0 };
    let rule = p.or()?;
    if *p.peek() != Tok::End {
        return p.unexpected("the end of the rule");
    }
    Ok(rule)
}
