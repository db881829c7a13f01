//! `cargo bench --bench anchors [-- --rounds N --quick]`: the same comparison as
//! `brine bench anchors` — brine's CPU backend and CPU wave engine beside PyTorch's CPU step
//! and deepwave's CPU propagator, on the same shapes and threads, alternated round by round.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut rounds, mut quick) = (3usize, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds needs a value")?.parse()?,
            "--quick" => quick = true,
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let (threads, note) = brine::fast::threads::init(None)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let machine = brine::bench::cpu::Machine::measure();
    println!("{}", machine.describe());
    let dir = brine::bench::cpu::default_reference_dir();
    println!("anchors from {}; {rounds} round(s), medians; ratio < 1: brine is faster", dir.display());
    brine::bench::cpu::anchors(&dir, rounds.max(1), quick, threads, |p| println!("{}", p.line()))?;
    Ok(())
}
