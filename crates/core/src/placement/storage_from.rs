//! The glue between the two phases: phase 1's answer (`vmplace storage`) applied to its problem
//! gives phase 2's input (`vmplace host PROBLEM --storage-from ANSWER`, and the same over HTTP).
//!
//! The contract: PROBLEM is the document phase 1 solved, so its `used_gib` does not yet count
//! the images phase 1 placed. The caller writes those images after phase 1; phase 2's input
//! counts each one in its storage system's `used_gib` and names the storage in the request's
//! `storage`. A request that already named its storage in PROBLEM has its image counted there
//! already (the contract of `requests[].storage`) and adds nothing. The requests phase 1 left
//! unplaced are dropped from phase 2 and come back in its answer's `unplaced`, with phase 1's
//! code and reason.

use super::{run_or_fallback, Mode, RunConfig};
use crate::domain::settings::{settings, Overrides};
use crate::domain::Domain;
use crate::validation::{read_document, read_problem, validate_problem, Phase};
use std::collections::{HashMap, HashSet};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::{DocKind, InputError, Problem, Solution, Status, Unplaced};

/// Where the storage answer's errors point: JSON pointers into it are prefixed with this, as
/// if PROBLEM and ANSWER were the fields `problem` and `storage_from` of one body.
pub const ANSWER_PATH: &str = "/storage_from";

/// Why a storage answer does not fit the problem it is applied to, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageAnswerError {
    /// JSON pointer into the answer (`/placements/3/storage`).
    pub path: String,
    /// What is wrong there.
    pub kind: Mismatch,
}

/// The ways a storage answer does not fit its problem.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// A placement or an unplaced entry names this request, which the problem does not have.
    UnknownRequest(String),
    /// This request appears more than once among the placements and unplaced entries.
    RepeatedRequest(String),
    /// This request of the problem is neither placed nor unplaced by the answer.
    MissingRequest(String),
    /// A placement names this storage system, which the problem does not have.
    UnknownStorage(String),
    /// The problem fixed the request's storage (request, fixed storage), and the answer put
    /// it on another.
    FixedStorageChanged(String, String),
    /// The storage system lacks a storage trait the request requires, or has one it forbids
    /// (request, storage).
    StorageTraits(String, String),
    /// No host connected to the storage system could ever run the request: none is connected,
    /// or none has the host traits the request asks for (request, storage).
    Unreachable(String, String),
}

impl StorageAnswerError {
    /// The input error: a stable code, the path under [`ANSWER_PATH`], the cause and what to do.
    pub fn to_input_error(&self) -> InputError {
        use Mismatch as M;
        let same = "give the answer `vmplace storage` wrote for this same problem";
        let (code, cause, action) = match &self.kind {
            M::UnknownRequest(r) => (
                ErrorCode::InvalidValue,
                format!("request `{r}` is not in the problem"),
                same.to_string(),
            ),
            M::RepeatedRequest(r) => (
                ErrorCode::DuplicateId,
                format!("request `{r}` is placed or unplaced more than once"),
                format!("list each request once; {same}"),
            ),
            M::MissingRequest(r) => (
                ErrorCode::MissingField,
                format!("request `{r}` of the problem is neither placed nor unplaced"),
                same.to_string(),
            ),
            M::UnknownStorage(s) => (
                ErrorCode::UnknownRequestStorage,
                format!("storage `{s}` is not in the problem"),
                same.to_string(),
            ),
            M::FixedStorageChanged(r, fixed) => (
                ErrorCode::InvalidValue,
                format!("request `{r}` has storage `{fixed}` in the problem, another here"),
                same.to_string(),
            ),
            M::StorageTraits(r, s) => (
                ErrorCode::StorageTraitsUnmet,
                format!("storage `{s}` does not have the storage traits request `{r}` asks for"),
                same.to_string(),
            ),
            M::Unreachable(r, s) => (
                ErrorCode::VmNotConnected,
                format!("no host with the traits of request `{r}` is connected to storage `{s}`"),
                format!("choose a storage system some eligible host reaches; {same}"),
            ),
        };
        let mut e = InputError::new(code, format!("{ANSWER_PATH}{}", self.path), cause);
        e.action = action;
        e
    }
}

/// Phase 2's input, made from a problem and phase 1's answer to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The problem with every placed request's `storage` set, the placed images counted in
    /// `used_gib`, and the unplaced requests removed (it may then have no request).
    pub problem: Problem,
    /// The requests phase 1 left unplaced, with its code; the reason says it was phase 1.
    pub dropped: Vec<Unplaced>,
}

impl Applied {
    /// Completes phase 2's answer into an answer to the whole problem: the dropped requests
    /// are unplaced, and counted in `stats.requests`.
    pub fn complete(&self, solution: &mut Solution) {
        solution.unplaced.extend(self.dropped.iter().cloned());
        solution.stats.requests += self.dropped.len();
    }

    /// The answer when phase 1 placed nothing: every request unplaced, for phase 1's reasons.
    fn nothing_placed(&self) -> Solution {
        Solution {
            status: Status::Infeasible,
            placed_weight: 0.0,
            placed_weight_bound: 0.0,
            objective: 0.0,
            bound: 0.0,
            gap: 0.0,
            placements: Vec::new(),
            unplaced: self.dropped.clone(),
            stats: vmplace_wire::Stats {
                requests: self.dropped.len(),
                ..Default::default()
            },
        }
    }
}

/// Applies phase 1's answer (`vmplace storage`, or the storage choices of any placement answer:
/// hosts are ignored) to the problem it answered: the one library function behind
/// `vmplace host PROBLEM --storage-from ANSWER`, for the CLI and the HTTP service alike.
///
/// Each placed request gets `storage` set to the answer's choice and, unless the problem had
/// already fixed it, its `disk_gib` added to that storage's `used_gib` (the images are written
/// between the phases, so phase 2 counts them). Each unplaced request is dropped and returned
/// in [`Applied::dropped`]. Every way the answer does not fit the problem is returned at once,
/// as typed errors with JSON pointers into the answer; the caller validates the result for the
/// host phase (a storage that the written images overfill is `E1207` there).
pub fn apply_storage_answer(
    problem: &Problem,
    answer: &Solution,
) -> Result<Applied, Vec<StorageAnswerError>> {
    let mut errors = Vec::new();
    let requests: HashMap<&str, usize> = problem
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let storage: HashMap<&str, usize> = problem
        .storage
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut chosen: Vec<Option<usize>> = vec![None; problem.requests.len()];
    for (i, p) in answer.placements.iter().enumerate() {
        let at = format!("/placements/{i}");
        let Some(&ri) = requests.get(p.request.as_str()) else {
            errors.push(mismatch(
                format!("{at}/request"),
                Mismatch::UnknownRequest(p.request.clone()),
            ));
            continue;
        };
        if !seen.insert(p.request.as_str()) {
            errors.push(mismatch(
                format!("{at}/request"),
                Mismatch::RepeatedRequest(p.request.clone()),
            ));
            continue;
        }
        match storage.get(p.storage.as_str()) {
            Some(&si) => match placement_error(problem, ri, si, &format!("{at}/storage")) {
                Some(e) => errors.push(e),
                None => chosen[ri] = Some(si),
            },
            None => errors.push(mismatch(
                format!("{at}/storage"),
                Mismatch::UnknownStorage(p.storage.clone()),
            )),
        }
    }
    let mut dropped = Vec::new();
    for (i, u) in answer.unplaced.iter().enumerate() {
        let path = format!("/unplaced/{i}/request");
        if !requests.contains_key(u.request.as_str()) {
            errors.push(mismatch(path, Mismatch::UnknownRequest(u.request.clone())));
        } else if !seen.insert(u.request.as_str()) {
            errors.push(mismatch(path, Mismatch::RepeatedRequest(u.request.clone())));
        } else {
            dropped.push(Unplaced {
                request: u.request.clone(),
                code: u.code,
                reason: format!("phase 1 (--storage-from): {}", u.reason),
            });
        }
    }
    errors.extend(
        problem
            .requests
            .iter()
            .filter(|r| !seen.contains(r.id.as_str()))
            .map(|r| mismatch("/placements".into(), Mismatch::MissingRequest(r.id.clone()))),
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Applied {
        problem: with_choices(problem, &chosen),
        dropped,
    })
}

fn mismatch(path: String, kind: Mismatch) -> StorageAnswerError {
    StorageAnswerError { path, kind }
}

/// Why request `ri` cannot have its image on storage `si`, if it cannot.
fn placement_error(
    problem: &Problem,
    ri: usize,
    si: usize,
    path: &str,
) -> Option<StorageAnswerError> {
    let r = &problem.requests[ri];
    let s = &problem.storage[si];
    let (request, storage) = (r.id.clone(), s.id.clone());
    let kind = if let Some(fixed) = r.storage.as_ref().filter(|f| **f != s.id) {
        Mismatch::FixedStorageChanged(request, fixed.clone())
    } else if !(r.storage_required_traits.is_subset(&s.traits)
        && r.storage_forbidden_traits.is_disjoint(&s.traits))
    {
        Mismatch::StorageTraits(request, storage)
    } else if !problem.hosts.iter().any(|h| {
        h.storage.contains(&s.id)
            && r.required_traits.is_subset(&h.traits)
            && r.forbidden_traits.is_disjoint(&h.traits)
    }) {
        Mismatch::Unreachable(request, storage)
    } else {
        return None;
    };
    Some(mismatch(path.to_string(), kind))
}

/// The problem with the choices applied: placed requests name their storage and count in its
/// `used_gib`; the others are gone.
fn with_choices(problem: &Problem, chosen: &[Option<usize>]) -> Problem {
    let mut out = problem.clone();
    out.requests.clear();
    for (r, &si) in problem.requests.iter().zip(chosen) {
        let Some(si) = si else { continue };
        let mut r = r.clone();
        if r.storage.is_none() {
            out.storage[si].used_gib += r.disk_gib;
            r.storage = Some(problem.storage[si].id.clone());
        }
        out.requests.push(r);
    }
    out
}

/// `vmplace host PROBLEM --storage-from ANSWER` on the documents' text: reads both, applies
/// the answer ([`apply_storage_answer`]), solves the host phase and completes its answer with
/// the requests phase 1 left unplaced. Errors in PROBLEM have their usual paths; errors in
/// ANSWER are under [`ANSWER_PATH`] (`/storage_from/placements/3/storage`). For the CLI and the
/// HTTP service alike.
pub fn solve_host_from_texts(
    problem: &str,
    answer: &str,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<Solution, Vec<InputError>> {
    let problem = read_problem(problem, Phase::Storage);
    let answer = read_document::<Solution>(answer, DocKind::Solution).map_err(|errors| {
        errors
            .into_iter()
            .map(|mut e| {
                e.path = format!("{ANSWER_PATH}{}", e.path);
                e
            })
            .collect::<Vec<_>>()
    });
    let (problem, answer) = match (problem, answer) {
        (Ok(p), Ok(a)) => (p.into_inner(), a),
        (p, a) => return Err(p.err().into_iter().chain(a.err()).flatten().collect()),
    };
    let applied = apply_storage_answer(&problem, &answer).map_err(|errors| {
        errors
            .iter()
            .map(StorageAnswerError::to_input_error)
            .collect::<Vec<_>>()
    })?;
    if applied.problem.requests.is_empty() {
        return Ok(applied.nothing_placed());
    }
    let value = serde_json::to_value(&applied.problem).unwrap_or(serde_json::Value::Null);
    // What only the applied problem breaks (images that overfill a storage system: `E1207`)
    // is said to be so: the figures differ from PROBLEM's.
    let valid = validate_problem(value, Phase::Host).map_err(|errors| {
        errors
            .into_iter()
            .map(|mut e| {
                e.cause = format!("{}, once the storage answer is applied", e.cause);
                e
            })
            .collect::<Vec<_>>()
    })?;
    let domain = Domain::from_problem(&valid, settings(&valid, o));
    let mut solution = run_or_fallback(&domain, Mode::Host, cfg);
    applied.complete(&mut solution);
    Ok(solution)
}
