//! Just enough JSON for `--json`: objects of strings, numbers, booleans and nulls,
//! written in order, without a dependency.

use std::fmt::Write;

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number; non-finite values become `null`.
pub fn number(v: f64) -> String {
    if v.is_finite() {
        // Enough digits for nanoseconds in seconds, without float noise.
        let s = format!("{v:.9}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" || s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        "null".into()
    }
}

/// An object under construction: `Object::new().str("a", "b").num("n", 1.0).end()`.
#[derive(Debug, Default)]
pub struct Object {
    out: String,
}

impl Object {
    /// `{`
    pub fn new() -> Self {
        Self { out: "{".into() }
    }

    fn key(&mut self, k: &str) {
        if self.out.len() > 1 {
            self.out.push_str(", ");
        }
        self.out.push_str(&string(k));
        self.out.push_str(": ");
    }

    /// A string member.
    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.out.push_str(&string(v));
        self
    }

    /// A number member.
    pub fn num(mut self, k: &str, v: f64) -> Self {
        self.key(k);
        self.out.push_str(&number(v));
        self
    }

    /// An integer member.
    pub fn int(mut self, k: &str, v: i64) -> Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    /// An optional number: `null` when absent.
    pub fn opt(mut self, k: &str, v: Option<f64>) -> Self {
        self.key(k);
        self.out.push_str(&v.map_or_else(|| "null".into(), number));
        self
    }

    /// A boolean member.
    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    /// A member whose value is already JSON.
    pub fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.out.push_str(json);
        self
    }

    /// `}`
    pub fn end(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON array of already-encoded values.
pub fn array(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(-0.000000001), "-0.000000001");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "null");
        let o = Object::new()
            .str("a", "x")
            .int("n", 3)
            .bool("b", true)
            .opt("z", None)
            .end();
        assert_eq!(o, "{\"a\": \"x\", \"n\": 3, \"b\": true, \"z\": null}");
    }
}
