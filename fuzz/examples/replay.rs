//! Runs one target's body on input files, outside libFuzzer (plain debug
//! build, ordinary panics and backtraces):
//! `cargo run --example replay -- <target> <file>...`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((target, files)) = args.split_first() else {
        eprintln!("usage: replay <target> <file>...");
        std::process::exit(2);
    };
    let Some((_, body)) = nsq_fuzz::TARGETS.iter().find(|(t, _)| t == target) else {
        eprintln!("unknown target {target}");
        std::process::exit(2);
    };
    for f in files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        println!("{f}: {} bytes", data.len());
        body(&data);
    }
}
