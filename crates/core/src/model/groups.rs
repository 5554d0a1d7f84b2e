//! Group rules in the host MIP (models/host.md, "Group rules"): one function per family, each
//! adding its rows over the columns of one solve. Soft rules get slack columns, priced at their
//! weight in the policy stage.

use super::{Col, MipBuilder};
use crate::domain::groups::{Counts, GroupRule, MemberCounts, Policy};
use crate::domain::HostIx;
use good_lp::{constraint, variable, Expression};
use std::collections::BTreeMap;

/// One column of a group member: VMs of one flavor of `rule` on `host`.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    /// Index into `Domain::group_rules`.
    pub rule: usize,
    /// The host.
    pub host: HostIx,
    /// The column.
    pub col: Col,
    /// Its upper bound.
    pub ub: f64,
    /// Its warm-start value.
    pub warm: f64,
}

/// What the soft rules add to the policy objective: priced columns and a constant.
#[derive(Debug, Default)]
pub struct Penalties {
    /// (column, weight per unit).
    pub columns: Vec<(Col, f64)>,
    /// Violations no column of this solve can change, times their weights.
    pub constant: f64,
}

impl Penalties {
    /// `sum weight * column`.
    pub fn expression(&self) -> Expression {
        let mut e = Expression::default();
        for (c, w) in &self.columns {
            e.add_mul(*w, c.var);
        }
        e
    }
}

/// Per domain of a rule: the columns there.
type ByDomain<'a> = BTreeMap<usize, Vec<&'a Term>>;

/// Adds every rule's rows; `counts` are the members per domain of what stays fixed. Rows are
/// sparse (issue 27, H2): only domains with columns or members get rows of their own.
pub fn group_rows(
    b: &mut MipBuilder,
    rules: &[GroupRule],
    counts: &[Counts],
    terms: &[Term],
) -> Penalties {
    let mut out = Penalties::default();
    let mut of_rule: Vec<Vec<&Term>> = vec![Vec::new(); rules.len()];
    for t in terms {
        of_rule[t.rule].push(t);
    }
    for (g, rule) in rules.iter().enumerate() {
        let mut by_domain: ByDomain = BTreeMap::new();
        for &t in &of_rule[g] {
            if let Some(dm) = rule.domain_of[t.host] {
                by_domain.entry(dm).or_default().push(t);
            }
        }
        if by_domain.is_empty() {
            if !rule.hard {
                out.constant += rule.weight * rule.violations(&counts[g]) as f64;
            }
            continue;
        }
        match rule.policy {
            Policy::AntiAffinity { max } => {
                group_anti_affinity(b, rule, max, &counts[g], &by_domain, &mut out)
            }
            Policy::Affinity => group_affinity(b, rule, &counts[g], &by_domain, &mut out),
            Policy::Spread { skew } => {
                group_spread(b, rule, skew, &counts[g], &by_domain, &mut out)
            }
        }
    }
    out
}

fn sum(ts: &[&Term]) -> (Expression, f64) {
    let mut e = Expression::default();
    let mut warm = 0.0;
    for t in ts {
        e += t.col.var;
        warm += t.warm;
    }
    (e, warm)
}

/// A soft rule's slack column, `>= 0`, priced at its weight.
fn slack(b: &mut MipBuilder, rule: &GroupRule, warm: f64, out: &mut Penalties) -> Col {
    let s = b.column(variable().min(0), true, warm.max(0.0));
    out.columns.push((s, rule.weight));
    s
}

/// **`group_anti_affinity`**: per domain with columns, `sum x <= max - present` (`+ s` for a soft
/// rule). Domains no column reaches keep their present violations as a constant.
fn group_anti_affinity(
    b: &mut MipBuilder,
    rule: &GroupRule,
    max: u32,
    counts: &Counts,
    by_domain: &ByDomain,
    out: &mut Penalties,
) {
    if !rule.hard {
        for (dm, n) in counts.occupied() {
            if !by_domain.contains_key(&dm) {
                out.constant += rule.weight * f64::from(n.saturating_sub(max));
            }
        }
    }
    for (&dm, ts) in by_domain {
        let room = max as f64 - counts.at(dm) as f64;
        let (mut e, warm) = sum(ts);
        if !rule.hard {
            let s = slack(b, rule, warm - room, out);
            e -= s.var;
        }
        b.row(constraint::leq(e, room));
    }
}

/// **`group_affinity`**: `z_D` binary per domain with columns, `sum x <= (sum ub) z_D`, and the
/// domains used (those with members already, plus `sum z_D`) at most one (`+ s` for a soft rule).
fn group_affinity(
    b: &mut MipBuilder,
    rule: &GroupRule,
    counts: &Counts,
    by_domain: &ByDomain,
    out: &mut Penalties,
) {
    let used_before = counts.len() as f64;
    let mut domains = Expression::default();
    let mut warm_domains = used_before;
    for (&dm, ts) in by_domain {
        let (mut e, warm) = sum(ts);
        if counts.at(dm) > 0 {
            continue;
        }
        let ub: f64 = ts.iter().map(|t| t.ub).sum();
        let z = b.column(variable().min(0).max(1), true, (warm > 0.5) as u8 as f64);
        warm_domains += (warm > 0.5) as u8 as f64;
        e.add_mul(-ub, z.var);
        b.row(constraint::leq(e, 0.0));
        domains += z.var;
    }
    if !rule.hard {
        let s = slack(b, rule, warm_domains - 1.0, out);
        domains -= s.var;
        b.row(constraint::leq(domains, 1.0 - used_before));
    } else if used_before == 0.0 {
        // With members already in a domain, the variable domain keeps the others out.
        b.row(constraint::leq(domains, 1.0));
    }
}

/// **`group_spread`**: over the domains with room, `m <= present_D + sum x <= m + max_skew`
/// (`+ s` for a soft rule), `m` the smallest count; `max_skew` is raised to the skew the pool
/// already has, if larger. Domains with room but no column have the same two rows for the same
/// present count: one pair per distinct count stands for them all.
fn group_spread(
    b: &mut MipBuilder,
    rule: &GroupRule,
    skew: u32,
    counts: &Counts,
    by_domain: &ByDomain,
    out: &mut Penalties,
) {
    if rule.rooms == 0 {
        return;
    }
    let mut warm_n: Vec<f64> = Vec::new();
    let mut sums: Vec<(Expression, f64)> = Vec::new();
    for (&dm, ts) in by_domain.iter().filter(|(dm, _)| rule.room[**dm]) {
        let (e, warm) = sum(ts);
        let n = f64::from(counts.at(dm));
        warm_n.push(n + warm);
        sums.push((e, n));
    }
    let mut without_columns: BTreeMap<u32, usize> = BTreeMap::new();
    for (dm, n) in counts.occupied() {
        if rule.room[dm] && !by_domain.contains_key(&dm) {
            *without_columns.entry(n).or_default() += 1;
        }
    }
    let listed = sums.len() + without_columns.values().sum::<usize>();
    if listed < rule.rooms {
        *without_columns.entry(0).or_default() += rule.rooms - listed;
    }
    for &n in without_columns.keys() {
        warm_n.push(f64::from(n));
        sums.push((Expression::default(), f64::from(n)));
    }
    let least = warm_n.iter().copied().fold(f64::INFINITY, f64::min);
    let most = warm_n.iter().copied().fold(0.0, f64::max);
    // A pool already skewed beyond `max_skew` is not this solve's doing: it may keep that skew,
    // not widen it.
    let present = sums.iter().map(|(_, n)| *n as u32);
    let was = present.clone().max().unwrap_or(0) - present.min().unwrap_or(0);
    let skew = skew.max(was);
    let m = b.column(variable().min(0), false, least);
    let s = (!rule.hard).then(|| slack(b, rule, most - least - skew as f64, out));
    for (e, present) in sums {
        // present + sum x - m >= 0, and present + sum x - m (- s) <= skew.
        let mut low = e.clone();
        low -= m.var;
        b.row(constraint::geq(low, -present));
        let mut high = e;
        high -= m.var;
        if let Some(s) = s {
            high -= s.var;
        }
        b.row(constraint::leq(high, skew as f64 - present));
    }
}
