//! Every request exactly once, in placements or unplaced, and every reason code known.

use super::Answer;
use crate::codes::{wire_name, Rule, UNPLACED_CODES};
use crate::{v, Collector};
use std::collections::HashSet;

/// The request ids the answer lists, placed then unplaced, each with its list and position.
fn listed<'a>(cx: &Answer<'a>) -> impl Iterator<Item = (&'static str, usize, &'a str)> {
    let placed = cx.solution.placements.iter().enumerate();
    let unplaced = cx.solution.unplaced.iter().enumerate();
    placed
        .map(|(i, p)| ("placements", i, p.request.as_str()))
        .chain(unplaced.map(|(i, u)| ("unplaced", i, u.request.as_str())))
}

/// `UNKNOWN_REQUEST`: a listed request the problem does not have.
pub(super) fn unknown_request(cx: &Answer, out: &mut Collector) {
    for (list, i, id) in listed(cx) {
        if !cx.requests.contains_key(id) {
            out.push(v(
                Rule::UnknownRequest,
                format!("/{list}/{i}/request"),
                format!("request `{id}` is not in the problem"),
            ));
        }
    }
}

/// `DUPLICATE_REQUEST`: a known request listed again.
pub(super) fn duplicate_request(cx: &Answer, out: &mut Collector) {
    let mut seen: HashSet<&str> = HashSet::new();
    for (list, i, id) in listed(cx) {
        if cx.requests.contains_key(id) && !seen.insert(id) {
            out.push(v(
                Rule::DuplicateRequest,
                format!("/{list}/{i}/request"),
                format!("request `{id}` appears twice"),
            ));
        }
    }
}

/// `MISSING_REQUEST`: a request neither placed nor unplaced.
pub(super) fn missing_request(cx: &Answer, out: &mut Collector) {
    let seen: HashSet<&str> = listed(cx).map(|(_, _, id)| id).collect();
    for r in &cx.problem.requests {
        if !seen.contains(r.id.as_str()) {
            out.push(v(
                Rule::MissingRequest,
                "/placements",
                format!("request `{}` is neither placed nor unplaced", r.id),
            ));
        }
    }
}

/// `UNKNOWN_REASON_CODE`: an unplaced request's code is not one the README lists.
pub(super) fn unknown_reason_code(cx: &Answer, out: &mut Collector) {
    for (i, u) in cx.solution.unplaced.iter().enumerate() {
        if !UNPLACED_CODES.contains(&wire_name(&u.code).as_str()) {
            out.push(v(
                Rule::UnknownReasonCode,
                format!("/unplaced/{i}/code"),
                format!("unknown code `{}`", wire_name(&u.code)),
            ));
        }
    }
}
