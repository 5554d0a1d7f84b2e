//! PlanetLab traces: one file per VM, one CPU percentage per line, every 300 s.

use std::ffi::OsString;
use std::path::Path;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// One VM's trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// File name.
    pub name: String,
    /// CPU utilisation per interval, fraction.
    pub samples: Vec<f64>,
}

/// The trace files of `dir`, in byte order of their names: every file but hidden ones and
/// `README.md`. Names stay as the file system gives them (a name that is not UTF-8 was read
/// back through its lossy spelling and reported "No such file"; issue 27, L6).
fn trace_files(dir: &Path) -> Result<Vec<OsString>, InputError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        InputError::new(
            ErrorCode::TraceUnreadable,
            dir.display().to_string(),
            format!("cannot list: {e}"),
        )
    })?;
    let mut names: Vec<OsString> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name())
        .filter(|n| n.as_encoded_bytes().first() != Some(&b'.') && n != "README.md")
        .collect();
    names.sort();
    Ok(names)
}

/// One trace's samples from its text (`name` is how errors spell the file), at least `samples`
/// of them, as fractions.
fn samples_of(name: &str, text: &str, samples: usize, errors: &mut Vec<InputError>) -> Vec<f64> {
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
            name,
            format!("{} samples, {samples} needed", values.len()),
        ));
    }
    values.truncate(samples);
    values
}

/// Reads a PlanetLab day: one file per VM, one integer percentage per line, files in byte order
/// of their names. Every problem of every file is reported, with the file and line.
pub fn load_planetlab(dir: &Path, samples: usize) -> Result<Vec<Trace>, Vec<InputError>> {
    let names = trace_files(dir).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut traces = Vec::with_capacity(names.len());
    for file in names {
        // Opened by its real name; errors name it lossily.
        let name = file.to_string_lossy().into_owned();
        let text = match std::fs::read_to_string(dir.join(&file)) {
            Ok(t) => t,
            Err(e) => {
                errors.push(InputError::new(
                    ErrorCode::TraceUnreadable,
                    name,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let samples = samples_of(&name, &text, samples, &mut errors);
        traces.push(Trace { name, samples });
    }
    if errors.is_empty() {
        Ok(traces)
    } else {
        Err(errors)
    }
}
