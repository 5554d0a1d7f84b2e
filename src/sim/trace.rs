//! PlanetLab traces: one file per VM, one CPU percentage per line, every 300 s.

use crate::format::errors::ErrorCode;
use crate::format::InputError;
use std::path::Path;

/// One VM's trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// File name.
    pub name: String,
    /// CPU utilisation per interval, fraction.
    pub samples: Vec<f64>,
}

/// Reads a PlanetLab day: one file per VM, one integer percentage per line, files in byte order
/// of their names. Every problem of every file is reported, with the file and line.
pub fn load_planetlab(dir: &Path, samples: usize) -> Result<Vec<Trace>, Vec<InputError>> {
    let unreadable =
        |path: String, why: String| InputError::new(ErrorCode::TraceUnreadable, path, why);
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![unreadable(
            dir.display().to_string(),
            format!("cannot list: {e}"),
        )]
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.') && n != "README.md")
        .collect();
    names.sort();
    let mut errors = Vec::new();
    let mut traces = Vec::with_capacity(names.len());
    for name in names {
        let text = match std::fs::read_to_string(dir.join(&name)) {
            Ok(t) => t,
            Err(e) => {
                errors.push(unreadable(name.clone(), format!("cannot read: {e}")));
                continue;
            }
        };
        let mut values = Vec::with_capacity(samples);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            match line.parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => values.push(v / 100.0),
                Ok(v) => errors.push(InputError::new(
                    ErrorCode::TraceOutOfRange,
                    at,
                    format!("{v} is not a percentage in 0..100"),
                )),
                Err(_) => errors.push(InputError::new(
                    ErrorCode::TraceNotNumber,
                    at,
                    format!("`{line}` is not a number"),
                )),
            }
        }
        if values.len() < samples {
            errors.push(InputError::new(
                ErrorCode::TraceShort,
                name.clone(),
                format!("{} samples, {samples} needed", values.len()),
            ));
        }
        values.truncate(samples);
        traces.push(Trace {
            name,
            samples: values,
        });
    }
    if errors.is_empty() {
        Ok(traces)
    } else {
        Err(errors)
    }
}
