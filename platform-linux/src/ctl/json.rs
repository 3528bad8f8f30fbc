//! `--json` output: serde's derive and serde_json's writer, with a [`Formatter`]
//! that keeps the layout slewctl has always printed, so scripts written against it
//! keep working:
//!
//! - a space after each colon and comma, as Python's `json.dumps` writes
//!   (`{"a": 1, "b": "x"}`);
//! - numbers rounded to the nanosecond and written without an exponent or a
//!   needless `.0` (`0.000000001`, `10`, not `1e-9`, `10.0`); serde_json writes a
//!   non-finite value as `null` before a formatter sees it.
//!
//! [`Formatter`]: serde_json::ser::Formatter

use std::io;

use serde::Serialize;

/// `value` as one line of JSON in slewctl's layout.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Layout);
    // Serializing plain structs of strings and numbers into memory cannot fail;
    // if it ever did, the output says so instead of being half a document.
    if let Err(e) = value.serialize(&mut ser) {
        return format!(
            "{{\"error\": {}}}",
            serde_json::Value::String(e.to_string())
        );
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A number as slewctl writes it (see the module docs).
pub fn number(v: f64) -> String {
    // Enough digits for nanoseconds in seconds, without float noise.
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

struct Layout;

impl serde_json::ser::Formatter for Layout {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(number(v).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample<'a> {
        a: &'a str,
        n: i64,
        b: bool,
        z: Option<f64>,
        x: f64,
        tiny: f64,
        nan: f64,
        list: [u8; 2],
    }

    #[test]
    fn layout_escapes_and_numbers() {
        let j = to_string(&Sample {
            a: "q\"b\\c\n\u{1}",
            n: 3,
            b: true,
            z: None,
            x: 10.0,
            tiny: -0.000000001,
            nan: f64::NAN,
            list: [1, 2],
        });
        assert_eq!(
            j,
            "{\"a\": \"q\\\"b\\\\c\\n\\u0001\", \"n\": 3, \"b\": true, \"z\": null, \"x\": 10, \"tiny\": -0.000000001, \"nan\": null, \"list\": [1, 2]}"
        );
        // Still JSON: any parser reads it back.
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["x"], 10);
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(0.0), "0");
    }
}
