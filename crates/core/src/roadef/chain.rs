//! Ejection chains of two shifts: process `p` goes to machine `to` after one process `q` of
//! `to` has left for the machine where it costs least. It is the move a single shift or swap
//! cannot make when `to` has no room for `p` and `p`'s machine none for `q`, the usual case
//! on the tight instances (and the one that brings a moved process home when its initial
//! machine has filled up meanwhile). Both shifts are priced and checked by [`State`], the
//! second after the first is made, so the pair keeps every hard rule; the state is given back
//! as it was. [`relocate`] is a descent of [`make_room`] moves over every process and machine,
//! the search's last step.

use super::model::*;
use super::state::{Move, State};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A chain: `first` (q leaves `to`) then `second` (p comes), and the change of the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// The shift that makes room.
    pub first: Move,
    /// The shift of `p` into the room.
    pub second: Move,
    /// The change of the objective of both.
    pub delta: i64,
}

/// The cheapest chain that brings `p` to `to`, trying up to `tries` processes of `to` (drawn
/// at random, all if fewer) each on its cheapest other machine; `None` if no chain keeps
/// every rule. The state is left as it was (up to the order of its machine lists).
pub fn eject(
    state: &mut State,
    p: ProcessIx,
    to: MachineIx,
    tries: usize,
    rng: &mut ChaCha8Rng,
) -> Option<Chain> {
    let from = state.machine_of(p);
    if from == to {
        return None;
    }
    let on = state.processes_on(to);
    let picks: Vec<ProcessIx> = if on.len() <= tries {
        on.to_vec()
    } else {
        (0..tries)
            .map(|_| on[rng.random_range(0..on.len())])
            .collect()
    };
    let mut best: Option<Chain> = None;
    for q in picks {
        let Some((first, d1)) = best_shift_away(state, q, to) else {
            continue;
        };
        state.apply(first);
        let second = Move::Shift(p, to);
        let d2 = state.delta(second);
        state.apply(Move::Shift(q, to));
        if let Some(d2) = d2 {
            let delta = d1 + d2;
            if best.is_none_or(|b| delta < b.delta) {
                best = Some(Chain {
                    first,
                    second,
                    delta,
                });
            }
        }
    }
    best
}

/// Makes room for `p` on `to`: moves away the process of `to` that frees most of what `p`
/// lacks there (its service's place, capacity, transient capacity, then room below the
/// safety capacity), each to its cheapest other machine, at most `most` of them, and keeps
/// the cheapest prefix after which `p` fits. The shifts, `p`'s last, and their change of the
/// objective; `None` if `p` never fits. It is the move that places a large process where
/// several small ones were. The state is left as it was (up to the order of its machine
/// lists).
pub fn make_room(
    state: &mut State,
    p: ProcessIx,
    to: MachineIx,
    most: usize,
) -> Option<(Vec<Move>, i64)> {
    if state.machine_of(p) == to {
        return None;
    }
    let last = Move::Shift(p, to);
    let mut done: Vec<(Move, ProcessIx)> = Vec::new();
    let mut total = 0;
    let mut answer: Option<(usize, i64)> = None;
    loop {
        if let Some(d) = state.delta(last) {
            if answer.is_none_or(|(_, b)| total + d < b) {
                answer = Some((done.len(), total + d));
            }
        }
        if done.len() == most {
            break;
        }
        let Some(q) = most_in_the_way(state, p, to) else {
            break;
        };
        let Some((mv, d)) = best_shift_away(state, q, to) else {
            break;
        };
        state.apply(mv);
        total += d;
        done.push((mv, q));
    }
    for &(_, q) in done.iter().rev() {
        state.apply(Move::Shift(q, to));
    }
    let (n, delta) = answer?;
    let mut moves: Vec<Move> = done[..n].iter().map(|&(mv, _)| mv).collect();
    moves.push(last);
    Some((moves, delta))
}

/// A descent of large relocations: for each process of `processes` in turn, the cheapest
/// [`make_room`] (at most `most` leave) over every machine whose capacity can hold it at all;
/// applied when it lowers the cost. Repeats while a pass gains and `deadline` is ahead. The
/// number of relocations made.
pub fn relocate(
    state: &mut State,
    processes: &[ProcessIx],
    most: usize,
    deadline: std::time::Instant,
) -> usize {
    let model = state.model();
    let mut made = 0;
    loop {
        let mut gained = false;
        for &p in processes {
            let req = model.requirement(p);
            let mut best: Option<(Vec<Move>, i64)> = None;
            for m in 0..state.machine_count() as u32 {
                if std::time::Instant::now() >= deadline {
                    return made;
                }
                let m = MachineIx(m);
                if !model.capacity(m).iter().zip(req).all(|(c, r)| c >= r) {
                    continue;
                }
                if let Some((moves, d)) = make_room(state, p, m, most) {
                    if d < 0 && best.as_ref().is_none_or(|(_, b)| d < *b) {
                        best = Some((moves, d));
                    }
                }
            }
            if let Some((moves, _)) = best {
                moves.into_iter().for_each(|mv| state.apply(mv));
                made += 1;
                gained = true;
            }
        }
        if !gained {
            return made;
        }
    }
}

/// The process of `to` whose leaving frees most of what `p` lacks there: one of `p`'s service
/// (the conflict rule) first, else the largest share of the missing capacity per resource
/// (a process on its initial machine frees no transient capacity by leaving), else of the
/// missing room below the safety capacity.
fn most_in_the_way(state: &State, p: ProcessIx, to: MachineIx) -> Option<ProcessIx> {
    let model = state.model();
    let service = |x: ProcessIx| model.processes[x.ix()].service;
    let on = state.processes_on(to);
    if let Some(&q) = on.iter().find(|&&q| service(q) == service(p)) {
        return Some(q);
    }
    let (usage, held) = (state.usage(to), state.held(to));
    let home = state.initial_of(p) == to;
    let req = model.requirement(p);
    let transient = |k: usize| model.resources[k].transient;
    let over = |limit: &[i64], with_held: bool| -> Vec<(usize, i64)> {
        (0..model.r())
            .filter_map(|k| {
                let after = if with_held && transient(k) {
                    usage[k] + held[k] + if home { 0 } else { req[k] }
                } else {
                    usage[k] + req[k]
                };
                (after > limit[k]).then_some((k, after - limit[k]))
            })
            .collect()
    };
    let mut lack = over(model.capacity(to), true);
    let for_capacity = !lack.is_empty();
    if !for_capacity {
        lack = over(model.safety(to), false);
    }
    let score = |q: ProcessIx| -> f64 {
        let stuck = for_capacity && state.initial_of(q) == to;
        let freed = model.requirement(q);
        lack.iter()
            .filter(|&&(k, _)| !(stuck && transient(k)))
            .map(|&(k, l)| freed[k].min(l) as f64 / l as f64)
            .sum()
    };
    let (q, best) = on
        .iter()
        .map(|&q| (q, score(q)))
        .fold(
            (None, 0.0),
            |(bq, bs), (q, s)| {
                if s > bs {
                    (Some(q), s)
                } else {
                    (bq, bs)
                }
            },
        );
    q.filter(|_| best > 0.0)
}

/// The cheapest feasible shift of `q` to a machine other than `not`.
fn best_shift_away(state: &mut State, q: ProcessIx, not: MachineIx) -> Option<(Move, i64)> {
    let mut best: Option<(Move, i64)> = None;
    for m in 0..state.machine_count() as u32 {
        let m = MachineIx(m);
        if m == not {
            continue;
        }
        let mv = Move::Shift(q, m);
        if let Some(d) = state.delta(mv) {
            if best.is_none_or(|(_, b)| d < b) {
                best = Some((mv, d));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roadef::parse;
    use rand::SeedableRng;

    /// The model and the initial assignment of a test instance in the challenge's format.
    fn instance(model: &str, assignment: &str) -> (Model, Assignment) {
        let model = parse::parse_model("m.txt", model).expect("model");
        let initial = parse::parse_assignment("a.txt", assignment, &model).expect("assignment");
        (model, initial)
    }

    /// Two machines of capacity 10 (safety 5), a third roomy one; p (size 6) on machine 0
    /// wants machine 1, which holds q (size 6): no shift of p fits, the chain does.
    const MODEL: &str = "1\n0 1\n3\n0 0 10 5 0 1 1\n0 0 10 5 1 0 1\n0 0 20 20 1 1 0\n\
                         2\n0 0\n0 0\n2\n0 6 1\n1 6 1\n0\n1 1 1\n";

    #[test]
    fn a_chain_makes_room_that_no_shift_finds() {
        let (model, initial) = instance(MODEL, "0 1");
        let mut state = State::new(&model, &initial);
        let (p, q) = (ProcessIx(0), ProcessIx(1));
        let before = state.cost();
        assert_eq!(state.delta(Move::Shift(p, MachineIx(1))), None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let chain = eject(&mut state, p, MachineIx(1), 4, &mut rng).expect("a chain");
        assert_eq!(chain.first, Move::Shift(q, MachineIx(2)));
        assert_eq!(state.assignment(), initial, "the state is given back");
        assert_eq!(state.cost(), before);
        state.apply(chain.first);
        state.apply(chain.second);
        assert_eq!(state.cost(), before + chain.delta);
        assert_eq!(state.away().len(), 2);
    }

    /// Machine 1 (capacity 12) holds three processes of size 3; p (size 8) fits there only
    /// once two of them have gone to the roomy machine 2.
    const ROOM: &str = "1\n0 1\n3\n0 0 10 10 0 1 1\n0 0 12 12 1 0 1\n0 0 20 20 1 1 0\n\
                        4\n0 0\n0 0\n0 0\n0 0\n4\n0 8 1\n1 3 1\n2 3 1\n3 3 1\n0\n1 1 1\n";

    #[test]
    fn room_is_made_for_a_large_process() {
        let (model, initial) = instance(ROOM, "0 1 1 1");
        let mut state = State::new(&model, &initial);
        let p = ProcessIx(0);
        assert_eq!(state.delta(Move::Shift(p, MachineIx(1))), None);
        assert_eq!(
            make_room(&mut state, p, MachineIx(1), 1),
            None,
            "one is not enough"
        );
        let (moves, delta) = make_room(&mut state, p, MachineIx(1), 3).expect("room");
        assert_eq!(moves.len(), 3, "two leave, then p: {moves:?}");
        assert_eq!(moves[2], Move::Shift(p, MachineIx(1)));
        assert_eq!(state.assignment(), initial, "the state is given back");
        let before = state.cost();
        for mv in moves {
            assert!(state.delta(mv).is_some(), "{mv:?} keeps every rule in turn");
            state.apply(mv);
        }
        assert_eq!(state.cost(), before + delta);
        assert_eq!(state.machine_of(p), MachineIx(1));
    }

    /// Machine 0 has no safety capacity, so p (size 8) costs 10 a unit there; machine 1
    /// (capacity 12) holds three processes of size 3, machine 2 (capacity 7) none. No shift or
    /// swap gains (p fits on neither other machine, a process of size 3 gains nothing by
    /// moving); two processes to machine 2, then p to machine 1, take the cost from 80 to the
    /// move costs.
    const STUCK: &str = "1\n0 10\n3\n0 0 10 0 0 1 1\n0 0 12 12 1 0 1\n0 0 7 7 1 1 0\n\
                         4\n0 0\n0 0\n0 0\n0 0\n4\n0 8 1\n1 3 1\n2 3 1\n3 3 1\n0\n1 1 1\n";

    #[test]
    fn relocation_descent_moves_a_stuck_process_where_room_is_made() {
        let (model, initial) = instance(STUCK, "0 1 1 1");
        let all: Vec<ProcessIx> = (0..4).map(ProcessIx).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut state = State::new(&model, &initial);
        assert_eq!(state.cost(), 80);
        assert_eq!(
            relocate(&mut state, &all, 1, deadline),
            0,
            "one leaving is not enough"
        );
        assert_eq!(state.assignment(), initial);
        assert_eq!(relocate(&mut state, &all, 4, deadline), 1);
        assert_eq!(state.machine_of(ProcessIx(0)), MachineIx(1));
        // Three moves (1 each), one per service (1), three machine moves (1 each).
        assert_eq!(state.cost(), 7);
    }
}
