//! What `vmplace bench --roadef DIR` needs besides running the solver: the instance pairs of a
//! folder (`model_X.txt` with `assignment_X.txt`), the optional reference file of best known
//! costs, and the row it writes per instance. The runs themselves (one child process each, so
//! that each peak memory is its own) are the command line's (`src/cli/bench.rs`).

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// One instance of the folder: its model and, if there is one, its initial assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePair {
    /// `X` of `model_X.txt`.
    pub name: String,
    /// The model file.
    pub model: PathBuf,
    /// `assignment_X.txt`, when the folder has it.
    pub assignment: Option<PathBuf>,
}

/// The `model_*.txt` files of `dir`, sorted by name, each with its `assignment_*.txt`.
pub fn instance_pairs(dir: &Path) -> std::io::Result<Vec<InstancePair>> {
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(name) = file
            .strip_prefix("model_")
            .and_then(|f| f.strip_suffix(".txt"))
        else {
            continue;
        };
        let assignment = dir.join(format!("assignment_{name}.txt"));
        pairs.push(InstancePair {
            name: name.to_string(),
            model: path.clone(),
            assignment: assignment.is_file().then_some(assignment),
        });
    }
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pairs)
}

/// Best known costs per instance name, from a reference file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference(BTreeMap<String, i64>);

impl Reference {
    /// Reads a reference file: one `instance,best_known` line per instance (`a1_1,44306501`);
    /// blank lines and lines starting with `#` are skipped, and so is a first line
    /// `instance,best_known`. Every malformed line is an `E2007` error at `FILE:LINE`.
    pub fn parse(file: &str, text: &str) -> Result<Reference, Vec<InputError>> {
        let mut map = BTreeMap::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line == "instance,best_known" {
                continue;
            }
            let at = format!("{file}:{}", i + 1);
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let cost = match fields.as_slice() {
                [name, cost] if !name.is_empty() => cost.parse::<i64>().ok().filter(|c| *c >= 0),
                _ => None,
            };
            match cost {
                Some(c) if map.insert(fields[0].to_string(), c).is_none() => {}
                Some(_) => errors.push(reference_error(at, "the instance is listed twice")),
                None => errors.push(reference_error(
                    at,
                    format!("expected `instance,best_known` with a whole cost >= 0, got {line:?}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(Reference(map))
        } else {
            Err(errors)
        }
    }

    /// The best known cost of an instance.
    pub fn best_known(&self, name: &str) -> Option<i64> {
        self.0.get(name).copied()
    }
}

fn reference_error(at: String, cause: impl Into<String>) -> InputError {
    InputError::new(ErrorCode::RoadefReference, at, cause)
}

/// One instance's line of the bench.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoadefBenchRow {
    /// `X` of `model_X.txt`.
    pub instance: String,
    /// Cost of the initial assignment (checker).
    pub initial_cost: Option<i64>,
    /// Cost of the answer (checker).
    pub final_cost: Option<i64>,
    /// vmplace's lower bound.
    pub lower_bound: Option<i64>,
    /// From the reference file.
    pub best_known: Option<i64>,
    /// `final_cost / best_known` (absent when the best known is 0 or unknown).
    pub ratio: Option<f64>,
    /// Wall time of the run (the child process, from start to exit).
    pub time_s: f64,
    /// The run's peak resident memory, as the child reports it.
    pub peak_rss_mib: Option<f64>,
    /// The checker found no broken rule in the answer.
    pub valid: bool,
    /// Processes moved.
    pub moved_processes: Option<usize>,
    /// Why the instance has no answer (a bad file, a failed run).
    pub errors: Vec<InputError>,
}

impl RoadefBenchRow {
    /// Fills `best_known` and `ratio` from the reference.
    pub fn compare(&mut self, reference: &Reference) {
        self.best_known = reference.best_known(&self.instance);
        self.ratio = match (self.final_cost, self.best_known) {
            (Some(f), Some(b)) if b > 0 => Some(f as f64 / b as f64),
            _ => None,
        };
    }
}
