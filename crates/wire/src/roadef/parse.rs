//! Reads the challenge's model and assignment files (integers separated by white space, see
//! `models/roadef.md`) into a [`Model`] and [`Assignment`]s.
//!
//! Bounded: every count is checked against the tokens left in the file before anything is
//! allocated for it. Bad files never panic: each error names the file, the line and the
//! token's index on that line (`FILE:LINE:TOKEN` in the error's `path`) and the cause. Value
//! errors (a non-number, a negative number, an index beyond its count) are collected and the
//! reading goes on, so one run lists them all; a short file or a count the file cannot hold
//! stops it.

use super::model::*;
use crate::errors::ErrorCode;
use crate::InputError;

/// Largest number accepted for any value (the official checker reads 32-bit integers).
pub const MAX_VALUE: i64 = i32::MAX as i64;

/// Largest worst-case total cost accepted, so that no sum can overflow 64-bit integers.
const MAX_COST: i128 = (i64::MAX / 4) as i128;

/// One token and where it is.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    line: u32,
    column: u32,
}

/// Walks the tokens of one file, collecting errors.
struct Reader<'a> {
    file: &'a str,
    tokens: Vec<Token<'a>>,
    next: usize,
    errors: Vec<InputError>,
}

/// The reading stopped (short file, impossible count); the errors say why.
struct Stop;

impl<'a> Reader<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let tokens = text
            .lines()
            .enumerate()
            .flat_map(|(l, line)| {
                line.split_whitespace()
                    .enumerate()
                    .map(move |(c, text)| Token {
                        text,
                        line: l as u32 + 1,
                        column: c as u32 + 1,
                    })
            })
            .collect();
        Reader {
            file,
            tokens,
            next: 0,
            errors: Vec::new(),
        }
    }

    fn left(&self) -> usize {
        self.tokens.len() - self.next
    }

    fn at(&self, t: &Token) -> String {
        format!("{}:{}:{}", self.file, t.line, t.column)
    }

    fn end(&self) -> String {
        let line = self.tokens.last().map_or(1, |t| t.line);
        format!("{}:{}:end", self.file, line)
    }

    fn fail(&mut self, code: ErrorCode, path: String, cause: String) {
        self.errors.push(InputError::new(code, path, cause));
    }

    /// The next integer in `min..=max`. A non-number or a value out of range is an error and
    /// reads as `min` so that the reading goes on; the end of the file stops it.
    fn int(&mut self, what: &str, min: i64, max: i64) -> Result<i64, Stop> {
        let Some(t) = self.tokens.get(self.next).copied() else {
            let at = self.end();
            self.fail(
                ErrorCode::RoadefShort,
                at,
                format!("the file ends where {what} was expected"),
            );
            return Err(Stop);
        };
        self.next += 1;
        match t.text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            Ok(v) => {
                let at = self.at(&t);
                self.fail(
                    ErrorCode::RoadefOutOfRange,
                    at,
                    format!("{what} is {v}, outside {min}..={max}"),
                );
                Ok(min)
            }
            Err(_) => {
                let at = self.at(&t);
                self.fail(
                    ErrorCode::RoadefNotInteger,
                    at,
                    format!("{what} should be an integer, found {:?}", t.text),
                );
                Ok(min)
            }
        }
    }

    /// A count of items that take at least `per_item` tokens each: it must fit in the tokens
    /// left, or the reading stops before anything is allocated for it.
    fn count(&mut self, what: &str, per_item: usize) -> Result<usize, Stop> {
        let t = self.tokens.get(self.next).copied();
        let errors = self.errors.len();
        let n = self.int(what, 0, MAX_VALUE)? as usize;
        if self.errors.len() > errors {
            return Err(Stop); // a bad count leaves nothing after it readable
        }
        let need = n.checked_mul(per_item.max(1));
        if need.is_none_or(|need| need > self.left()) {
            let at = t.map_or_else(|| self.end(), |t| self.at(&t));
            self.fail(
                ErrorCode::RoadefTooLarge,
                at,
                format!(
                    "{what} is {n}, but only {} numbers are left in the file",
                    self.left()
                ),
            );
            return Err(Stop);
        }
        Ok(n)
    }

    /// An index below `n` (`n` items of that kind).
    fn index(&mut self, what: &str, n: usize) -> Result<u32, Stop> {
        Ok(self.int(what, 0, n as i64 - 1)? as u32)
    }

    fn value(&mut self, what: &str) -> Result<i64, Stop> {
        self.int(what, 0, MAX_VALUE)
    }

    /// Tokens after the last expected one are an error.
    fn finish(&mut self) {
        if let Some(t) = self.tokens.get(self.next).copied() {
            let at = self.at(&t);
            let extra = self.left();
            self.fail(
                ErrorCode::RoadefTrailing,
                at,
                format!("{extra} numbers after the end of the expected content"),
            );
        }
    }
}

/// Reads a model file. `file` names it in the errors.
pub fn parse_model(file: &str, text: &str) -> Result<Model, Vec<InputError>> {
    let mut rd = Reader::new(file, text);
    let model = read_model(&mut rd);
    match model {
        Ok(m) if rd.errors.is_empty() => {
            rd.finish();
            if rd.errors.is_empty() {
                check_cost_bound(file, &m)?;
                return Ok(m);
            }
            Err(rd.errors)
        }
        _ => Err(rd.errors),
    }
}

fn read_model(rd: &mut Reader) -> Result<Model, Stop> {
    let resources = read_resources(rd)?;
    let r = resources.len();
    let (machines, capacity, safety, machine_move_cost) = read_machines(rd, r)?;
    let services = read_services(rd)?;
    let (processes, requirement) = read_processes(rd, r, services.len())?;
    let balances = read_balances(rd, r)?;
    let weights = MoveWeights {
        process: rd.value("the process move cost weight")?,
        service: rd.value("the service move cost weight")?,
        machine: rd.value("the machine move cost weight")?,
    };
    let neighborhoods = machines.iter().map(|m| m.neighborhood.ix() + 1).max();
    let locations = machines.iter().map(|m| m.location.ix() + 1).max();
    Ok(Model {
        resources,
        machines,
        capacity,
        safety,
        machine_move_cost,
        services,
        processes,
        requirement,
        balances,
        weights,
        neighborhoods: neighborhoods.unwrap_or(0),
        locations: locations.unwrap_or(0),
    })
}

fn read_resources(rd: &mut Reader) -> Result<Vec<Resource>, Stop> {
    let n = rd.count("the number of resources", 2)?;
    (0..n)
        .map(|i| {
            Ok(Resource {
                transient: rd.int(&format!("resource {i}'s transient flag"), 0, 1)? == 1,
                load_weight: rd.value(&format!("resource {i}'s load cost weight"))?,
            })
        })
        .collect()
}

type Machines = (Vec<Machine>, Vec<i64>, Vec<i64>, Vec<i64>);

fn read_machines(rd: &mut Reader, r: usize) -> Result<Machines, Stop> {
    // A machine takes 2 + 2R + M numbers: bound M by sqrt(tokens left) first.
    let t = rd.tokens.get(rd.next).copied();
    let m = rd.count("the number of machines", 1)?;
    let per = 2 + 2 * r + m;
    if m.checked_mul(per).is_none_or(|need| need > rd.left()) {
        let at = t.map_or_else(|| rd.end(), |t| rd.at(&t));
        let left = rd.left();
        rd.fail(
            ErrorCode::RoadefTooLarge,
            at,
            format!("{m} machines need {per} numbers each, only {left} are left in the file"),
        );
        return Err(Stop);
    }
    let (mut machines, mut capacity, mut safety) = (
        Vec::with_capacity(m),
        Vec::with_capacity(m * r),
        Vec::with_capacity(m * r),
    );
    let mut costs = Vec::with_capacity(m * m);
    for i in 0..m {
        machines.push(Machine {
            neighborhood: NeighborhoodIx(rd.index(&format!("machine {i}'s neighborhood"), m)?),
            location: LocationIx(rd.index(&format!("machine {i}'s location"), m)?),
        });
        for k in 0..r {
            capacity.push(rd.value(&format!("machine {i}'s capacity of resource {k}"))?);
        }
        for k in 0..r {
            safety.push(rd.value(&format!("machine {i}'s safety capacity of resource {k}"))?);
        }
        for j in 0..m {
            costs.push(rd.value(&format!("the move cost from machine {i} to machine {j}"))?);
        }
    }
    Ok((machines, capacity, safety, costs))
}

fn read_services(rd: &mut Reader) -> Result<Vec<Service>, Stop> {
    let s = rd.count("the number of services", 2)?;
    let mut services = Vec::with_capacity(s);
    for i in 0..s {
        let spread_min = rd.value(&format!("service {i}'s spreadMin"))? as u32;
        let k = rd.count(&format!("service {i}'s number of dependencies"), 1)?;
        let mut depends_on = Vec::with_capacity(k);
        for _ in 0..k {
            depends_on.push(ServiceIx(
                rd.index(&format!("a dependency of service {i}"), s)?,
            ));
        }
        services.push(Service {
            spread_min,
            depends_on,
        });
    }
    Ok(services)
}

fn read_processes(rd: &mut Reader, r: usize, s: usize) -> Result<(Vec<Process>, Vec<i64>), Stop> {
    let p = rd.count("the number of processes", 2 + r)?;
    let mut processes = Vec::with_capacity(p);
    let mut requirement = Vec::with_capacity(p * r);
    for i in 0..p {
        let service = ServiceIx(rd.index(&format!("process {i}'s service"), s)?);
        for k in 0..r {
            requirement.push(rd.value(&format!("process {i}'s requirement of resource {k}"))?);
        }
        let move_cost = rd.value(&format!("process {i}'s move cost"))?;
        processes.push(Process { service, move_cost });
    }
    Ok((processes, requirement))
}

fn read_balances(rd: &mut Reader, r: usize) -> Result<Vec<Balance>, Stop> {
    let b = rd.count("the number of balance objectives", 4)?;
    (0..b)
        .map(|i| {
            Ok(Balance {
                first: ResourceIx(rd.index(&format!("balance {i}'s first resource"), r)?),
                second: ResourceIx(rd.index(&format!("balance {i}'s second resource"), r)?),
                target: rd.value(&format!("balance {i}'s target"))?,
                weight: rd.value(&format!("balance {i}'s weight"))?,
            })
        })
        .collect()
}

/// Rejects a model whose worst-case cost would not fit in 64-bit sums.
pub fn check_cost_bound(file: &str, m: &Model) -> Result<(), Vec<InputError>> {
    let r = m.r();
    let sum_col =
        |v: &[i64], k: usize| -> i128 { v.iter().skip(k).step_by(r).map(|&x| x as i128).sum() };
    let load: i128 = (0..r)
        .map(|k| m.resources[k].load_weight as i128 * sum_col(&m.requirement, k))
        .sum();
    let balance: i128 = m
        .balances
        .iter()
        .map(|b| {
            let c1 = sum_col(&m.capacity, b.first.ix());
            let c2 = sum_col(&m.capacity, b.second.ix());
            b.weight as i128 * (b.target as i128 * c1 + c2)
        })
        .sum();
    let p = m.processes.len() as i128;
    let pmc: i128 = m.processes.iter().map(|x| x.move_cost as i128).sum();
    let mmc = m.machine_move_cost.iter().copied().max().unwrap_or(0) as i128 * p;
    let total = load
        + balance
        + m.weights.process as i128 * pmc
        + m.weights.service as i128 * p
        + m.weights.machine as i128 * mmc;
    if total > MAX_COST {
        return Err(vec![InputError::new(
            ErrorCode::RoadefTooLarge,
            format!("{file}:1:1"),
            format!("the worst-case cost {total} would overflow 64-bit sums (limit {MAX_COST})"),
        )]);
    }
    Ok(())
}

/// Reads an assignment file (a machine index for each of `model`'s processes).
pub fn parse_assignment(
    file: &str,
    text: &str,
    model: &Model,
) -> Result<Assignment, Vec<InputError>> {
    let mut rd = Reader::new(file, text);
    let p = model.processes.len();
    let mut out = Vec::with_capacity(p.min(rd.tokens.len()));
    let mut stopped = false;
    for i in 0..p {
        match rd.index(&format!("process {i}'s machine"), model.m()) {
            Ok(m) => out.push(MachineIx(m)),
            Err(Stop) => {
                stopped = true;
                break;
            }
        }
    }
    if !stopped {
        rd.finish();
    }
    if rd.errors.is_empty() {
        Ok(Assignment(out))
    } else {
        Err(rd.errors)
    }
}
