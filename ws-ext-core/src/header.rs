//! The `Sec-WebSocket-Extensions` header grammar (RFC 6455 §9.1).
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! Several header lines are one list joined with commas; null list elements
//! (`a, , b`) are allowed and ignored; optional whitespace may stand around
//! `,` `;` and `=`; a quoted value must unescape to a token. Extension names
//! compare case-insensitively ([`ExtensionElement::is`]).

use std::fmt;

/// One `name[=value]` parameter of an extension element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    /// The parameter name, a token, as received.
    pub name: String,
    /// The value, unquoted; `None` for a parameter given without `=`.
    pub value: Option<String>,
}

impl ExtensionParam {
    /// A parameter without a value (`client_max_window_bits`).
    pub fn flag(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: None,
        }
    }

    /// A parameter with a value (`server_max_window_bits=10`).
    pub fn with_value(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// One element of an extension list: an offer in a request, an acceptance in
/// a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionElement {
    /// The extension token, as received (compare with [`ExtensionElement::is`]).
    pub name: String,
    /// The parameters, in the order received.
    pub params: Vec<ExtensionParam>,
}

impl ExtensionElement {
    /// An element with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Builder: append a parameter.
    pub fn param(mut self, param: ExtensionParam) -> Self {
        self.params.push(param);
        self
    }

    /// Whether this element names extension `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Every parameter called `name` (exact, case-sensitive match as RFC 7692
    /// defines lowercase names).
    pub fn params_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ExtensionParam> {
        self.params.iter().filter(move |p| p.name == name)
    }
}

impl fmt::Display for ExtensionElement {
    /// Formats as it goes on the wire; values that are not tokens are quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {}", p.name)?;
            if let Some(v) = &p.value {
                if !v.is_empty() && v.bytes().all(is_tchar) {
                    write!(f, "={v}")?;
                } else {
                    f.write_str("=\"")?;
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// A malformed `Sec-WebSocket-Extensions` header: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Sec-WebSocket-Extensions header (line {line}, byte {offset}): {reason}")]
pub struct HeaderError {
    /// Which header line (0-based) held the fault.
    pub line: usize,
    /// Byte offset in that line.
    pub offset: usize,
    /// What was expected or found.
    pub reason: HeaderFault,
}

/// The kinds of fault in an extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderFault {
    /// A token (extension or parameter name, or value) was expected.
    #[error("expected a token")]
    ExpectedToken,
    /// A character that may not appear here.
    #[error("unexpected character {0:?}")]
    Unexpected(char),
    /// A quoted-string without its closing quote.
    #[error("unterminated quoted-string")]
    UnterminatedQuote,
    /// A quoted value that does not unescape to a token.
    #[error("quoted value does not unescape to a token")]
    QuotedNotToken,
    /// The header holds no extension at all.
    #[error("empty extension list")]
    Empty,
    /// A byte that is not visible ASCII or whitespace.
    #[error("non-ASCII or control byte 0x{0:02x}")]
    BadByte(u8),
}

/// Is `b` a `tchar` (RFC 7230 token character)?
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whether `s` is a non-empty token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
}

impl Cursor<'_> {
    fn err(&self, reason: HeaderFault) -> HeaderError {
        HeaderError {
            line: self.line,
            offset: self.i,
            reason,
        }
    }
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && is_ws(self.s[self.i]) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn token(&mut self) -> Result<String, HeaderError> {
        let start = self.i;
        while self.i < self.s.len() && is_tchar(self.s[self.i]) {
            self.i += 1;
        }
        if start == self.i {
            return Err(match self.peek() {
                None => self.err(HeaderFault::ExpectedToken),
                Some(b) if b.is_ascii() && !b.is_ascii_control() => {
                    self.err(HeaderFault::Unexpected(b as char))
                }
                Some(b) => self.err(HeaderFault::BadByte(b)),
            });
        }
        // Only tchar bytes: always ASCII.
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Result<String, HeaderError> {
        let open = self.i;
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.i = open;
                    return Err(self.err(HeaderFault::UnterminatedQuote));
                }
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b) if b.is_ascii() => {
                            out.push(b);
                            self.i += 1;
                        }
                        Some(b) => return Err(self.err(HeaderFault::BadByte(b))),
                        None => {
                            self.i = open;
                            return Err(self.err(HeaderFault::UnterminatedQuote));
                        }
                    }
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        if out.is_empty() || !out.iter().all(|&b| is_tchar(b)) {
            self.i = open;
            return Err(self.err(HeaderFault::QuotedNotToken));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Parse one or more `Sec-WebSocket-Extensions` header lines into the
/// ordered list of elements. Several lines are one list; null elements are
/// skipped. A header that holds only null elements is an error
/// ([`HeaderFault::Empty`]) because the grammar requires `1#extension`.
///
/// ```
/// use ws_ext_core::header::parse;
/// let list = parse([&b"permessage-deflate; client_max_window_bits"[..], b"foo, bar; x=\"1\""]).unwrap();
/// assert_eq!(list.len(), 3);
/// assert_eq!(list[2].params[0].value.as_deref(), Some("1"));
/// ```
pub fn parse<'a, I>(lines: I) -> Result<Vec<ExtensionElement>, HeaderError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out = Vec::new();
    let mut last_line = 0;
    for (line, s) in lines.into_iter().enumerate() {
        last_line = line;
        parse_line(s, line, &mut out)?;
    }
    if out.is_empty() {
        return Err(HeaderError {
            line: last_line,
            offset: 0,
            reason: HeaderFault::Empty,
        });
    }
    Ok(out)
}

/// Parse a single header value (convenience over [`parse`]).
pub fn parse_str(s: &str) -> Result<Vec<ExtensionElement>, HeaderError> {
    parse([s.as_bytes()])
}

fn parse_line(s: &[u8], line: usize, out: &mut Vec<ExtensionElement>) -> Result<(), HeaderError> {
    let mut c = Cursor { s, i: 0, line };
    loop {
        c.skip_ws();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.i += 1; // null element
                continue;
            }
            _ => {}
        }
        let mut el = ExtensionElement::new(c.token()?);
        loop {
            c.skip_ws();
            match c.peek() {
                None => {
                    out.push(el);
                    return Ok(());
                }
                Some(b',') => {
                    c.i += 1;
                    out.push(el);
                    break;
                }
                Some(b';') => {
                    c.i += 1;
                    c.skip_ws();
                    let name = c.token()?;
                    c.skip_ws();
                    let value = if c.peek() == Some(b'=') {
                        c.i += 1;
                        c.skip_ws();
                        if c.peek() == Some(b'"') {
                            Some(c.quoted()?)
                        } else {
                            Some(c.token()?)
                        }
                    } else {
                        None
                    };
                    el.params.push(ExtensionParam { name, value });
                }
                Some(b) if b.is_ascii() && !b.is_ascii_control() => {
                    return Err(c.err(HeaderFault::Unexpected(b as char)))
                }
                Some(b) => return Err(c.err(HeaderFault::BadByte(b))),
            }
        }
    }
}

/// Format a list as one header value: `a; p=1, b`.
pub fn format(list: &[ExtensionElement]) -> String {
    let mut s = String::new();
    for (i, e) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&e.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<ExtensionElement>, HeaderError> {
        parse_str(s)
    }

    #[test]
    fn simple_and_params() {
        let l = p("permessage-deflate; client_max_window_bits; server_max_window_bits=10").unwrap();
        assert_eq!(l.len(), 1);
        assert!(l[0].is("PerMessage-Deflate"));
        assert_eq!(
            l[0].params[0],
            ExtensionParam::flag("client_max_window_bits")
        );
        assert_eq!(
            l[0].params[1],
            ExtensionParam::with_value("server_max_window_bits", "10")
        );
    }

    #[test]
    fn multiple_lines_equal_joined() {
        let a = parse([&b"foo"[..], b"bar; baz=2"]).unwrap();
        let b = p("foo, bar; baz=2").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn null_elements_and_whitespace() {
        let l = p(" , a ,, b ;  x = 1 ; y ,\t, ").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].params[0], ExtensionParam::with_value("x", "1"));
        assert_eq!(l[1].params[1], ExtensionParam::flag("y"));
    }

    #[test]
    fn quoted_values() {
        let l = p("a; server_max_window_bits=\"10\"").unwrap();
        assert_eq!(l, p("a; server_max_window_bits=10").unwrap());
        let l = p(r#"a; x="\a\b""#).unwrap();
        assert_eq!(l[0].params[0].value.as_deref(), Some("ab"));
    }

    #[test]
    fn bad_quoting() {
        assert_eq!(
            p(r#"a; x="a b""#).unwrap_err().reason,
            HeaderFault::QuotedNotToken
        );
        assert_eq!(
            p(r#"a; x="""#).unwrap_err().reason,
            HeaderFault::QuotedNotToken
        );
        assert_eq!(
            p(r#"a; x="10"#).unwrap_err().reason,
            HeaderFault::UnterminatedQuote
        );
        assert_eq!(
            p(r#"a; x="1\"#).unwrap_err().reason,
            HeaderFault::UnterminatedQuote
        );
    }

    #[test]
    fn non_token_values_and_names() {
        assert_eq!(
            p("a; x=1.0/2").unwrap_err().reason,
            HeaderFault::Unexpected('/')
        );
        assert_eq!(p("a; x=").unwrap_err().reason, HeaderFault::ExpectedToken);
        assert_eq!(p("a;").unwrap_err().reason, HeaderFault::ExpectedToken);
        assert_eq!(p("a b").unwrap_err().reason, HeaderFault::Unexpected('b'));
        assert_eq!(p("a; =1").unwrap_err().reason, HeaderFault::Unexpected('='));
        assert_eq!(p("(a)").unwrap_err().reason, HeaderFault::Unexpected('('));
        assert_eq!(
            parse([&b"a; x=\xff"[..]]).unwrap_err().reason,
            HeaderFault::BadByte(0xff)
        );
        let e = p("foo; bar=b@z").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(e.to_string().contains("byte 10"));
    }

    #[test]
    fn empty_is_error() {
        assert_eq!(p("").unwrap_err().reason, HeaderFault::Empty);
        assert_eq!(p(" , ,").unwrap_err().reason, HeaderFault::Empty);
    }

    #[test]
    fn format_round_trip_and_quoting() {
        let l = vec![
            ExtensionElement::new("a").param(ExtensionParam::with_value("x", "1")),
            ExtensionElement::new("b").param(ExtensionParam::flag("y")),
        ];
        assert_eq!(format(&l), "a; x=1, b; y");
        assert_eq!(p(&format(&l)).unwrap(), l);
        let q = ExtensionElement::new("a").param(ExtensionParam::with_value("x", "a b"));
        assert_eq!(q.to_string(), "a; x=\"a b\"");
    }
}
