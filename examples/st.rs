#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let o = vmplace::service::api::Overrides::default();
    let cfg = vmplace::placement::RunConfig::default();
    let mut t = [0.0f64; 7];
    let n = 100;
    for _ in 0..n {
        let mut s = vmplace::service::api::solve_text(&text, vmplace::placement::Mode::Place, &o, &cfg).unwrap();
        let _ = vmplace::service::api::encode_solution(&mut s, true).unwrap();
        let x = s.stats.timings;
        for (a, b) in t.iter_mut().zip([x.parse_s, x.validate_s, x.domain_s, x.model_s, x.solve_s, x.explain_s, x.write_s]) { *a += b * 1000.0 / n as f64; }
    }
    println!("parse {:.2} validate {:.2} domain {:.2} model {:.2} solve {:.2} explain {:.2} write {:.2} ms", t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
}
