#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde::Deserialize;
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let n = 50;
    let mut t = [0.0f64; 6];
    for _ in 0..n {
        let a = Instant::now();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        t[0] += a.elapsed().as_secs_f64();
        let v2 = v.clone();
        let a = Instant::now();
        let p: vmplace::format::Problem = serde_path_to_error::deserialize(v2).unwrap();
        t[1] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let q = vmplace::format::Problem::deserialize(&v).unwrap();
        t[2] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        drop(v);
        t[3] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let r: vmplace::format::Problem = serde_json::from_str(&text).unwrap();
        t[4] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        drop((p, q, r));
        t[5] += a.elapsed().as_secs_f64() / 3.0;
    }
    let ms: Vec<String> = t.iter().map(|x| format!("{:.2}", x * 1000.0 / n as f64)).collect();
    println!("value {} tracked-consume {} borrow {} drop-value {} direct {} drop-problem {}", ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
}
