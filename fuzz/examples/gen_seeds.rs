//! Regenerates `fuzz/seeds/` from the fixtures: `cargo run --example gen_seeds`
//! (from `fuzz/`). The `seeds_are_current` test fails until this is run
//! after a change to the generator.

fn main() -> std::io::Result<()> {
    let seeds = nsq_fuzz::seeds::generate(&nsq_fuzz::seeds::fixtures());
    let dir = nsq_fuzz::seeds::seeds_dir();
    nsq_fuzz::seeds::write(&seeds, &dir)?;
    for (target, files) in &seeds {
        let bytes: usize = files.values().map(Vec::len).sum();
        println!("{target:20} {:3} seeds, {bytes:6} bytes", files.len());
    }
    Ok(())
}
