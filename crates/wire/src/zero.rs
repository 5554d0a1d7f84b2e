//! No negative zero in JSON output: an answer where nothing was placed printed
//! `"placed_weight": -0.0`. The writers of every document pass their encoded bytes through
//! [`positive_zeros`] at the one place they write them.

/// The JSON text with every number `-0.0` (how serde_json writes a negative zero) written as
/// `0.0`. Strings are left alone; a text without a negative zero is returned as it is.
pub fn positive_zeros(text: Vec<u8>) -> Vec<u8> {
    if !text.windows(4).any(|w| w == b"-0.0") {
        return text;
    }
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'-' && is_negative_zero(&text[i..]) {
            continue;
        }
        out.push(b);
    }
    out
}

/// Whether the number at the start of `rest` is `-0.0` (with no more digits).
fn is_negative_zero(rest: &[u8]) -> bool {
    rest.starts_with(b"-0.0")
        && !rest
            .get(4)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'e' | b'E' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::positive_zeros;

    fn zeros(text: &str) -> String {
        String::from_utf8(positive_zeros(text.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn only_negative_zero_numbers_change() {
        assert_eq!(
            zeros(r#"{"a": -0.0, "b": [-0.0,1]}"#),
            r#"{"a": 0.0, "b": [0.0,1]}"#
        );
        assert_eq!(
            zeros(r#"{"a": -0.05, "b": -0.0e3}"#),
            r#"{"a": -0.05, "b": -0.0e3}"#
        );
        assert_eq!(
            zeros(r#"{"id": "x -0.0 \" -0.0", "c": -0.0}"#),
            r#"{"id": "x -0.0 \" -0.0", "c": 0.0}"#
        );
    }
}
