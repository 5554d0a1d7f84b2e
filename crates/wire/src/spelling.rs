//! How the documents spell things: a JSON pointer's tokens and an enum's name on the wire.

use serde::Serialize;

/// Escapes one JSON pointer token (RFC 6901).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A code as the document spells it (its JSON string), whatever type the reader gave it.
pub fn wire_name<T: Serialize>(code: &T) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
