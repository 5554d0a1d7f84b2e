//! The JSON reader of every input document: serde_json's syntax, plus duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys, so a second `requests` key would silently
//! replace the first. This reader builds the same `Value` in one pass and records the JSON pointer
//! of every repeated key instead.

use super::pointer_token;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;
use vmplace_wire::errors::{ErrorCode, InputError};

/// Parses JSON text into a value. A syntax error is one `E1001` with its line and column; a
/// repeated key is one `E1106` per repetition, at its pointer.
pub fn parse_json(text: &str) -> Result<Value, Vec<InputError>> {
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed {
        path: Path::Root,
        duplicates: &duplicates,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Err(e) => Err(vec![InputError::new(
            ErrorCode::MalformedJson,
            "",
            format!(
                "invalid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                e
            ),
        )]),
        Ok(_) if !duplicates.borrow().is_empty() => Err(duplicates.into_inner()),
        Ok(v) => Ok(v),
    }
}

/// Where a value is: a chain of segments up to the root, spelled as a JSON pointer only when a
/// repeated key is reported (building every value's pointer made reading a large document slow).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Index(parent, i) => format!("{}/{i}", parent.pointer()),
            Path::Key(parent, k) => format!("{}/{}", parent.pointer(), pointer_token(k)),
        }
    }
}

/// Builds the value at `path`, recording repeated keys in `duplicates`.
struct ValueSeed<'a> {
    path: Path<'a>,
    duplicates: &'a RefCell<Vec<InputError>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        // JSON text cannot spell a non-finite number, so this is never Null in practice.
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed {
            path: Path::Index(&self.path, items.len()),
            duplicates: self.duplicates,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed {
                path: Path::Key(&self.path, &key),
                duplicates: self.duplicates,
            })?;
            if object.contains_key(&key) {
                self.duplicates.borrow_mut().push(InputError::new(
                    ErrorCode::DuplicateKey,
                    Path::Key(&self.path, &key).pointer(),
                    format!("key `{key}` appears more than once in this object"),
                ));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text =
            r#"{"a": [1, -2, 3.5, 1e300, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let ours = parse_json(text).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn repeated_keys_are_reported_at_their_pointer() {
        let errors = parse_json(r#"{"a": 1, "b": [{"x/y": 1, "x/y": 2}], "a": 3}"#).unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/b/0/x~1y", "/a"]);
        assert!(errors.iter().all(|e| e.code == "E1106"));
    }

    #[test]
    fn trailing_text_is_a_syntax_error() {
        let errors = parse_json("{} {}").unwrap_err();
        assert_eq!(errors[0].code, "E1001");
    }
}
