//! One entry point per document operation, shared by the CLI and the HTTP service so that both
//! return the same documents for the same input.

use serde::{Deserialize, Serialize};
use std::time::Instant;
use vmplace_check::{check, Expect, Findings, Violation};
use vmplace_core::domain::settings::{settings_capped, Overrides};
use vmplace_core::domain::{Domain, Stopped};
use vmplace_core::placement::{run_or_fallback, Mode, RunConfig};
use vmplace_core::validation::json::parse_json;
use vmplace_core::validation::{finish, read_document, validate_pool, validate_problem, Phase};
use vmplace_wire::check::{CheckPhase, CheckRequest, PlanCheckRequest};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::{DocKind, ErrorSource, Flag, InputError, Problem, Solution, TimeLimitCap};

/// Validates a problem document and solves it.
pub fn solve_text(
    text: &str,
    mode: Mode,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<Solution, Vec<InputError>> {
    let phase = if mode == Mode::Host {
        Phase::Host
    } else {
        Phase::Storage
    };
    let lap = Instant::now();
    // The call's time limit counts from here: parsing, validating and building the domain
    // included (issue 27, H2: the build alone took 3.9 s of a 1 s limit).
    let cfg = &RunConfig {
        clock: cfg.clock.pinned(lap),
        ..cfg.clone()
    };
    let value = parse_json(text).map_err(|e| finish(e, DocKind::Problem))?;
    let parse_s = lap.elapsed().as_secs_f64();
    let lap = Instant::now();
    let problem = validate_problem(value, phase)?;
    let validate_s = lap.elapsed().as_secs_f64();
    let lap = Instant::now();
    let (settings, capped) = settings_capped(&problem, o);
    let budget = cfg.clock.budget(settings.time_limit_s, lap);
    let built = Domain::within(&problem, settings, &budget);
    let domain_s = lap.elapsed().as_secs_f64();
    let mut solution = match built {
        Ok(domain) => {
            let solution = run_or_fallback(&domain, mode, cfg);
            let size = domain.hosts.len() + domain.requests.len();
            vmplace_core::validation::dropper::free_later((problem, domain), size);
            solution
        }
        Err(Stopped) => vmplace_core::placement::solution::stopped_while_building(&problem),
    };
    solution.stats.time_limit_capped = capped;
    let t = &mut solution.stats.timings;
    (t.parse_s, t.validate_s, t.domain_s) = (parse_s, validate_s, domain_s);
    Ok(solution)
}

/// Encodes an answer as JSON (pretty-printed with `pretty`), once, with the time it takes in
/// `stats.timings.write_s`. The one writer of solution documents, for the CLI and HTTP.
///
/// An answer cannot contain the time it takes to write itself, so `write_s` is encoded as a
/// placeholder ([`WRITE_PLACEHOLDER`]) and the measured time is written over the placeholder's
/// bytes, padded with spaces (JSON whitespace), after the encoding.
pub fn encode_solution(solution: &mut Solution, pretty: bool) -> serde_json::Result<Vec<u8>> {
    let lap = Instant::now();
    solution.stats.timings.write_s = WRITE_PLACEHOLDER;
    let mut bytes = if pretty {
        serde_json::to_vec_pretty(solution)?
    } else {
        serde_json::to_vec(solution)?
    };
    let write_s = lap.elapsed().as_secs_f64();
    solution.stats.timings.write_s = write_s;
    if let Some(at) = placeholder_at(&bytes) {
        let width = WRITE_PLACEHOLDER_TEXT.len();
        bytes[at..at + width].copy_from_slice(seconds_in(write_s, width).as_bytes());
    }
    Ok(bytes)
}

/// `write_s` while the answer is encoded: no time is negative, so no other figure spells it.
const WRITE_PLACEHOLDER: f64 = -1.23456e-300;
/// [`WRITE_PLACEHOLDER`] as serde_json spells it.
const WRITE_PLACEHOLDER_TEXT: &str = "-1.23456e-300";

/// Where the placeholder's bytes start: right after the `write_s` key.
fn placeholder_at(bytes: &[u8]) -> Option<usize> {
    let key = b"\"write_s\":";
    let after = bytes.windows(key.len()).rposition(|w| w == key)? + key.len();
    let at = after + bytes[after..].iter().take_while(|b| **b == b' ').count();
    bytes[at..]
        .starts_with(WRITE_PLACEHOLDER_TEXT.as_bytes())
        .then_some(at)
}

/// `seconds` as a JSON number of at most `width` characters (as many decimals as fit), padded
/// with spaces to exactly `width`.
fn seconds_in(seconds: f64, width: usize) -> String {
    let text = (0..=9)
        .rev()
        .map(|d| format!("{seconds:.d$}"))
        .find(|t| t.len() <= width)
        .unwrap_or_else(|| format!("{seconds:.1e}"));
    format!("{text:<width$}")
}

/// Most violations listed in one report; the rest are counted in `omitted`, as input errors
/// are (a plan naming an unknown VM 1.5 million times gave a 197 MB answer). The checker keeps
/// no more than these while it runs.
pub use vmplace_check::MAX_VIOLATIONS;

/// The checker's answer document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CheckReport {
    /// No violation.
    pub valid: bool,
    /// The broken rules, the first [`MAX_VIOLATIONS`] of them.
    pub violations: Vec<Violation>,
    /// Violations found past the first [`MAX_VIOLATIONS`].
    #[serde(default)]
    pub omitted: usize,
}

impl From<Findings> for CheckReport {
    fn from(found: Findings) -> Self {
        CheckReport {
            valid: found.is_empty(),
            violations: found.violations,
            omitted: found.omitted,
        }
    }
}

/// Checks a wire solution against a wire problem.
pub fn check_documents(problem: &Problem, solution: &Solution, expect: Expect) -> CheckReport {
    check(problem, solution, expect).into()
}

/// The body of `POST /v1/check`: both documents and the phase, or a state and a plan.
pub fn check_request(text: &str) -> Result<CheckReport, Vec<InputError>> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    if value
        .as_ref()
        .is_some_and(|v| v.get("iallocator").is_some())
    {
        let req =
            read_document::<vmplace_wire::check::IallocatorCheckRequest>(text, DocKind::Check)?;
        return check_texts(
            &req.iallocator.to_string(),
            &req.answer.to_string(),
            CheckPhase::Any,
        );
    }
    if value.is_some_and(|v| v.get("state").is_some()) {
        let req = read_document::<PlanCheckRequest>(text, DocKind::Check)?;
        return check_texts(
            &req.state.to_string(),
            &req.plan.to_string(),
            CheckPhase::Any,
        );
    }
    let req = read_document::<CheckRequest>(text, DocKind::Check)?;
    check_texts(
        &req.problem.to_string(),
        &req.solution.to_string(),
        req.phase,
    )
}

/// Checks two documents given as text: a problem and a solution, or (when the first has `vms`)
/// a state and a plan. The one reader of `vmplace check` and `POST /v1/check`: error paths are
/// JSON pointers into `{"problem": ..., "solution": ...}` (or `state`, `plan`), the request body
/// of `POST /v1/check`.
pub fn check_texts(
    first: &str,
    second: &str,
    phase: CheckPhase,
) -> Result<CheckReport, Vec<InputError>> {
    if serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| v.get("nodegroups").is_some())
    {
        let input = vmplace_core::validation::ganeti::read_iallocator(first)
            .map_err(|e| prefix(e, "/iallocator"));
        let answer =
            read_document::<vmplace_wire::ganeti::Response>(second, DocKind::IallocatorAnswer)
                .map_err(|e| prefix(e, "/answer"));
        return match (input, answer) {
            (Ok(i), Ok(a)) => Ok(vmplace_check::check_iallocator(&i, &a).into()),
            (i, a) => Err(i.err().into_iter().chain(a.err()).flatten().collect()),
        };
    }
    if serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| v.get("vms").is_some()) {
        let state = read_document::<vmplace_wire::state::State>(first, DocKind::State)
            .map_err(|e| prefix(e, "/state"));
        let plan = read_document::<vmplace_wire::state::Plan>(second, DocKind::Plan)
            .map_err(|e| prefix(e, "/plan"));
        return match (state, plan) {
            (Ok(s), Ok(p)) => Ok(check_plan_documents(&s, &p)),
            (s, p) => Err(s.err().into_iter().chain(p.err()).flatten().collect()),
        };
    }
    let problem =
        read_document::<Problem>(first, DocKind::Problem).map_err(|e| prefix(e, "/problem"));
    let solution =
        read_document::<Solution>(second, DocKind::Solution).map_err(|e| prefix(e, "/solution"));
    match (problem, solution) {
        (Ok(p), Ok(s)) => Ok(check_documents(&p, &s, phase.into())),
        (p, s) => Err(p.err().into_iter().chain(s.err()).flatten().collect()),
    }
}

fn prefix(errors: Vec<InputError>, at: &str) -> Vec<InputError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.path = format!("{at}{}", e.path);
            e
        })
        .collect()
}

/// Validates a state document and plans one migration round.
pub fn migrate_text(text: &str) -> Result<vmplace_wire::state::Plan, Vec<InputError>> {
    migrate_within(text, &Overrides::default(), &RunConfig::default())
}

/// [`migrate_text`] within a service's limits: `policy.time_limit_s` capped by
/// `o.max_time_limit_s` and counted from here (parsing included), and stopped by `cfg.cancel`.
pub fn migrate_within(
    text: &str,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<vmplace_wire::state::Plan, Vec<InputError>> {
    let started = std::time::Instant::now();
    let state = vmplace_core::validation::read_state(text)?;
    let mut policy = vmplace_core::migration::RoundPolicy::from_state(&state);
    let (limit_s, capped) = TimeLimitCap::apply(policy.time_limit_s, o.max_time_limit_s);
    policy.time_limit_s = limit_s;
    policy.clock = cfg.clock.pinned(started);
    let mut plan = vmplace_core::migration::plan_checked(&state, &policy)?;
    plan.stats.time_limit_capped = capped;
    Ok(plan)
}

/// Reads a state and a plan made for it, and orders the plan's moves into safe waves
/// (`migrate --sequence`); errors carry `/state` or `/plan` before their paths.
pub fn sequence_texts(
    state: &str,
    plan: &str,
) -> Result<vmplace_wire::state::Plan, Vec<InputError>> {
    let state = vmplace_core::validation::read_state(state).map_err(|e| prefix(e, "/state"));
    let plan = read_document::<vmplace_wire::state::Plan>(plan, DocKind::Plan)
        .map_err(|e| prefix(e, "/plan"));
    let (state, plan) = match (state, plan) {
        (Ok(s), Ok(p)) => (s, p),
        (s, p) => return Err(s.err().into_iter().chain(p.err()).flatten().collect()),
    };
    let errors = vmplace_core::validation::check_moves(&state, &plan);
    if !errors.is_empty() {
        return Err(prefix(errors, "/plan"));
    }
    Ok(vmplace_core::migration::sequence_plan(&state, plan))
}

/// Checks a plan against its state.
pub fn check_plan_documents(
    state: &vmplace_wire::state::State,
    plan: &vmplace_wire::state::Plan,
) -> CheckReport {
    vmplace_check::check_plan(state, plan).into()
}

/// Validates a Ganeti IAllocator document and answers it; the vmplace solves behind the answer
/// come with it (tests check each one).
pub fn iallocator_text(
    text: &str,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<
    (
        vmplace_wire::ganeti::Response,
        Vec<vmplace_ganeti::place::Solve>,
    ),
    Vec<InputError>,
> {
    let input = vmplace_core::validation::ganeti::read_iallocator(text)?;
    Ok(vmplace_ganeti::answer(&input, o, cfg))
}

/// Reads a problem document whose `requests` may be empty or absent, or a migration state
/// document (it has `vms`), counts each flavor on the pool it describes (after the problem's
/// requests, when it has some) and checks the failures.
pub fn capacity_text(
    text: &str,
    q: &vmplace_core::capacity::Query,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<vmplace_core::capacity::CapacityReport, Vec<InputError>> {
    if q.flavors.is_empty() && q.fails.is_empty() {
        return Err(vec![InputError::new(
            ErrorCode::Usage,
            "",
            "nothing to answer: give a --flavor, a --fail, or both",
        )]);
    }
    vmplace_core::capacity::check_flavors(&q.flavors)?;
    // The call's time limit counts from here, parsing included.
    let cfg = &RunConfig {
        clock: cfg.clock.pinned(Instant::now()),
        ..cfg.clone()
    };
    let value = parse_json(text).map_err(|e| finish(e, DocKind::Problem))?;
    if value.get("vms").is_some() {
        let state = vmplace_core::validation::state::read_state(text)?.into_inner();
        let mut report = vmplace_core::capacity::capacity_of_state(&state, q, o, cfg)?;
        let asked = o
            .time_limit_s
            .unwrap_or(vmplace_core::domain::Settings::default().time_limit_s);
        report.time_limit_capped = TimeLimitCap::apply(asked, o.max_time_limit_s).1;
        return Ok(report);
    }
    let problem = validate_pool(value)?.into_inner();
    let mut report = vmplace_core::capacity::capacity(&problem, q, o, cfg)?;
    report.time_limit_capped = settings_capped(&problem, o).1;
    Ok(report)
}

/// The body of `POST /v1/capacity`: a pool, its flavors and its failures.
pub fn capacity_request(
    text: &str,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<vmplace_core::capacity::CapacityReport, Vec<InputError>> {
    let req = read_document::<vmplace_wire::check::CapacityRequest>(text, DocKind::Check)?;
    let flavors = req
        .flavors
        .into_iter()
        .map(|f| vmplace_core::capacity::Flavor {
            name: f.name,
            demand: f.demand,
            disk_gib: f.disk_gib,
        })
        .collect();
    let (fails, errors): (Vec<_>, Vec<_>) = req
        .fail
        .iter()
        .enumerate()
        .map(|(i, t)| fail_spec(i, t))
        .partition(Result::is_ok);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .filter_map(Result::err)
            .map(http_path)
            .collect());
    }
    let q = vmplace_core::capacity::Query {
        flavors,
        fails: fails.into_iter().filter_map(Result::ok).collect(),
        mix: req.mix,
        tiered: req.tiered,
    };
    capacity_text(&req.problem.to_string(), &q, o, cfg)
        .map_err(|e| e.into_iter().map(http_path).collect())
}

/// Parses the `i`-th failure (`--fail i+1`).
pub fn fail_spec(i: usize, text: &str) -> Result<vmplace_core::capacity::FailSpec, InputError> {
    vmplace_core::capacity::FailSpec::parse(text)
        .map_err(|why| InputError::new(ErrorCode::BadFailure, Flag::Fail(i + 1), why))
}

/// A capacity error as `POST /v1/capacity` reports it, at a JSON pointer into the request body:
/// the `n`-th `--flavor` is `/flavors/n-1`, the `n`-th `--fail` `/fail/n-1`, `--mix` and
/// `--tiered` are `/mix` and `/tiered`, and a place in the pool is under `/problem`. The one
/// converter of that endpoint's paths; the CLI writes errors as they are made.
fn http_path(mut e: InputError) -> InputError {
    e.path = match e.source {
        ErrorSource::Flag(Flag::Flavor(n)) => format!("/flavors/{}", n.saturating_sub(1)),
        ErrorSource::Flag(Flag::Fail(n)) => format!("/fail/{}", n.saturating_sub(1)),
        ErrorSource::Flag(Flag::Mix) => "/mix".to_string(),
        ErrorSource::Flag(Flag::Tiered) => "/tiered".to_string(),
        ErrorSource::Path => format!("/problem{}", e.path),
    };
    // The path is now a pointer into the body, the document at fault.
    e.source = ErrorSource::Path;
    e
}

/// The body of `POST /v1/host-from-storage`: a problem and the answer `vmplace storage` (or
/// `POST /v1/storage`) gave for it, as `vmplace host PROBLEM --storage-from ANSWER` takes them.
#[derive(Debug, Deserialize)]
struct HostFromStorage<'a> {
    #[serde(borrow)]
    problem: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    storage_from: Option<&'a serde_json::value::RawValue>,
}

/// `POST /v1/host-from-storage`: phase 2 on phase 1's answer
/// ([`vmplace_core::placement::storage_from::solve_host_from_texts`]). Errors in the problem have paths
/// under `/problem`, errors in the answer under `/storage_from`.
pub fn host_from_storage_text(
    text: &str,
    o: &Overrides,
    cfg: &RunConfig,
) -> Result<Solution, Vec<InputError>> {
    let body: HostFromStorage = serde_json::from_str(text).map_err(|e| {
        vec![InputError::new(
            ErrorCode::MalformedJson,
            "",
            format!("the body is not an object with `problem` and `storage_from`: {e}"),
        )]
    })?;
    let missing = |field: &str| {
        InputError::new(
            ErrorCode::MissingField,
            format!("/{field}"),
            format!("the body has no `{field}`"),
        )
    };
    let (problem, answer) = match (body.problem, body.storage_from) {
        (Some(p), Some(a)) => (p.get(), a.get()),
        (p, a) => {
            let mut errors = Vec::new();
            if p.is_none() {
                errors.push(missing("problem"));
            }
            if a.is_none() {
                errors.push(missing("storage_from"));
            }
            return Err(errors);
        }
    };
    vmplace_core::placement::storage_from::solve_host_from_texts(problem, answer, o, cfg).map_err(
        |errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    if !e
                        .path
                        .starts_with(vmplace_core::placement::storage_from::ANSWER_PATH)
                    {
                        e.path = format!("/problem{}", e.path);
                    }
                    e
                })
                .collect()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer is encoded once, and the time it took reads back as a number.
    #[test]
    fn the_write_time_is_written_into_the_one_encoding() {
        for pretty in [false, true] {
            let mut solution: Solution = serde_json::from_str(include_str!(
                "../../../instances/answers/small.storage.json"
            ))
            .expect("a shipped answer");
            let bytes = encode_solution(&mut solution, pretty).expect("encodes");
            let back: Solution = serde_json::from_slice(&bytes).expect("valid JSON");
            let write_s = back.stats.timings.write_s;
            assert!((0.0..1.0).contains(&write_s), "{write_s}");
            assert!(!String::from_utf8_lossy(&bytes).contains("e-300"));
        }
    }

    #[test]
    fn seconds_fit_the_placeholder() {
        assert_eq!(seconds_in(0.001234567891, 13), "0.001234568  ");
        assert_eq!(seconds_in(1234.5, 13), "1234.50000000");
        assert_eq!(seconds_in(0.5, 13).len(), 13);
        assert_eq!(seconds_in(1e20, 13), "1.0e20       ");
    }
}
