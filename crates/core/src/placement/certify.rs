//! Certification of a phase-1 answer: phase 2 must be able to host all of it.

use super::deadline::mip_options;
use super::greedy;
use super::host_phase::{host_columns, LNS_COLUMNS};
use crate::budget::{shares, Budget};

/// Largest certifying MIP, in (flavor, host) columns: ten times the host phase's one-piece limit.
const CERTIFY_COLUMNS: usize = 10 * LNS_COLUMNS;
use crate::domain::{Assignment, Domain, Load, RequestIx};
use crate::model::storage::Stage;
use crate::model::{host, MipError};
use vmplace_wire::Objective;

/// Certifies a phase-1 answer: returns a host assignment for all of it, or the requests phase 2
/// could not host (with that partial host assignment).
pub(crate) fn certify(
    d: &Domain,
    a: &Assignment,
    deadline: &Budget,
) -> Result<(Assignment, Vec<RequestIx>), MipError> {
    let hosted = greedy::host_phase(d, a, Objective::Pack);
    let stranded = |h: &Assignment| -> Vec<RequestIx> {
        d.requests
            .ids()
            .filter(|&i| a.storage[i].is_some() && h.host[i].is_none())
            .collect()
    };
    let left = stranded(&hosted);
    // The certifying MIP covers the whole phase-2 problem: only when time is left and it is not
    // too large to build (100,000 requests on 20,000 hosts took minutes to build alone).
    let columns = host_columns(d, a, None);
    let too_large = columns > CERTIFY_COLUMNS;
    tracing::debug!(columns, stranded = left.len(), too_large, "certify");
    if left.is_empty() || deadline.passed() || too_large {
        return Ok((hosted, left));
    }
    let load = Load::initial(d);
    let active = d.hosts.map(|h| h.initially_active());
    let input = host::HostInput {
        d,
        storage: a,
        warm: &hosted,
        load: &load,
        active: &active,
        allowed: None,
    };
    let opts = mip_options(d, deadline.seconds(shares::CERTIFY), None, deadline);
    let (r, h) = host::solve(&input, Stage::Placement, &opts)?;
    if !r.values.is_empty() && stranded(&h).len() < left.len() {
        let l = stranded(&h);
        return Ok((h, l));
    }
    Ok((hosted, left))
}
