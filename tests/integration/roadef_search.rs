//! The ROADEF search (issue 29, item 4): on small random instances, with every rule in play
//! (transient capacity, conflicts, spread, a dependency, balance and all three move costs),
//! `reassign` reaches the optimum that trying every assignment finds, and the chains and the
//! list of moved processes keep the incremental state exact.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use vmplace_check::roadef::check_roadef;
use vmplace_core::roadef::chain;
use vmplace_core::roadef::model::{Assignment, MachineIx, Model, ProcessIx};
use vmplace_core::roadef::parse::{parse_assignment, parse_model};
use vmplace_core::roadef::state::{Move, State};

const MACHINES: usize = 4;
const PROCESSES: usize = 7;

/// A random instance of 4 machines (2 neighborhoods, 4 locations) and 7 processes of 4
/// services, two resources (the second transient), one balance objective; the initial
/// assignment is random and the capacities just hold it. `None` if it breaks a rule.
fn instance(rng: &mut ChaCha8Rng) -> Option<(Model, Assignment)> {
    let req: Vec<[i64; 2]> = (0..PROCESSES)
        .map(|_| [rng.random_range(1..8), rng.random_range(1..8)])
        .collect();
    let at: Vec<usize> = (0..PROCESSES)
        .map(|_| rng.random_range(0..MACHINES))
        .collect();
    let mut used = [[0i64; 2]; MACHINES];
    for (p, &m) in at.iter().enumerate() {
        used[m][0] += req[p][0];
        used[m][1] += req[p][1];
    }
    let mut text = format!("2\n0 10\n1 10\n{MACHINES}\n");
    for (m, u) in used.iter().enumerate() {
        let cap: Vec<i64> = u.iter().map(|&x| x + rng.random_range(1..6)).collect();
        let safe: Vec<i64> = cap.iter().map(|&c| c - rng.random_range(0..c)).collect();
        let moves: Vec<String> = (0..MACHINES)
            .map(|k| if k == m { 0 } else { rng.random_range(0..3) }.to_string())
            .collect();
        text += &format!(
            "{} {} {} {} {} {} {}\n",
            m % 2,
            m,
            cap[0],
            cap[1],
            safe[0],
            safe[1],
            moves.join(" ")
        );
    }
    text += "4\n2 0\n1 1 0\n1 0\n1 0\n";
    text += &format!("{PROCESSES}\n");
    for (p, r) in req.iter().enumerate() {
        text += &format!("{} {} {} {}\n", p % 4, r[0], r[1], rng.random_range(1..4));
    }
    text += "1\n0 1 1\n1\n1 10 1\n";
    let model = parse_model("random", &text).ok()?;
    let line: Vec<String> = at.iter().map(|m| m.to_string()).collect();
    let initial = parse_assignment("random", &line.join(" "), &model).ok()?;
    check_roadef(&model, &initial, &initial)
        .valid
        .then_some((model, initial))
}

/// The least cost over every assignment (4^7 of them).
fn optimum(model: &Model, initial: &Assignment) -> i64 {
    let mut best = i64::MAX;
    for code in 0..MACHINES.pow(PROCESSES as u32) {
        let machines = (0..PROCESSES)
            .map(|p| MachineIx((code / MACHINES.pow(p as u32) % MACHINES) as u32))
            .collect();
        let c = check_roadef(model, initial, &Assignment(machines));
        if c.valid {
            best = best.min(c.costs.total);
        }
    }
    best
}

#[test]
fn the_search_reaches_the_optimum_of_small_instances() {
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    let (mut tried, mut drawn) = (0, 0);
    while tried < 6 {
        drawn += 1;
        assert!(
            drawn < 300,
            "only {tried} instances whose start is not optimal"
        );
        let Some((model, initial)) = instance(&mut rng) else {
            continue;
        };
        let best = optimum(&model, &initial);
        if best == check_roadef(&model, &initial, &initial).costs.total {
            continue;
        }
        tried += 1;
        let deadline = Instant::now() + Duration::from_millis(200);
        let out = vmplace_core::roadef::reassign(&model, &initial, tried, deadline);
        let c = check_roadef(&model, &initial, &out.assignment);
        assert!(c.valid, "instance {tried}: {:#?}", c.violations);
        assert_eq!(c.costs.total, out.cost, "instance {tried}");
        assert_eq!(out.cost, best, "instance {tried}: not the optimum");
    }
}

/// Random shifts, swaps and chains through the state: its cost, its list of moved processes
/// and its feasibility agree with the checker all along.
#[test]
fn chains_keep_the_state_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut chains = 0;
    for _ in 0..20 {
        let Some((model, initial)) = instance(&mut rng) else {
            continue;
        };
        let mut state = State::new(&model, &initial);
        for _ in 0..200 {
            let p = ProcessIx(rng.random_range(0..PROCESSES as u32));
            let to = MachineIx(rng.random_range(0..MACHINES as u32));
            let moves = if rng.random_bool(0.5) {
                chain::eject(&mut state, p, to, 2, &mut rng)
                    .map(|c| (vec![c.first, c.second], c.delta))
            } else {
                chain::make_room(&mut state, p, to, 3)
            };
            let Some((moves, delta)) = moves else {
                continue;
            };
            chains += 1;
            let before = state.cost();
            for mv in moves {
                assert!(state.delta(mv).is_some(), "{mv:?}");
                state.apply(mv);
            }
            assert_eq!(state.cost(), before + delta);
            let c = check_roadef(&model, &initial, &state.assignment());
            assert!(c.valid, "{:#?}", c.violations);
            assert_eq!(c.costs.total, state.cost());
            let mut away: Vec<ProcessIx> = state.away().to_vec();
            away.sort();
            let off: Vec<ProcessIx> = (0..PROCESSES as u32)
                .map(ProcessIx)
                .filter(|&q| state.machine_of(q) != initial.0[q.ix()])
                .collect();
            assert_eq!(away, off);
        }
    }
    assert!(chains > 100, "only {chains} chains kept the rules");
}

#[test]
fn a_move_back_home_is_a_shift_like_any_other() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (model, initial) = loop {
        if let Some(pair) = instance(&mut rng) {
            break pair;
        }
    };
    let mut state = State::new(&model, &initial);
    let start = state.cost();
    let made = (0..PROCESSES as u32).map(ProcessIx).find_map(|p| {
        (0..MACHINES as u32).map(MachineIx).find_map(|m| {
            let mv = Move::Shift(p, m);
            state.delta(mv).map(|_| (p, mv))
        })
    });
    let (p, mv) = made.expect("some shift keeps the rules");
    state.apply(mv);
    assert_eq!(state.away(), [p]);
    state.apply(Move::Shift(p, initial.0[p.ix()]));
    assert!(state.away().is_empty());
    assert_eq!(state.cost(), start);
}
