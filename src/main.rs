//! The `synthcorpus` binary: parse the command line, run, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = synthcorpus::cli::Cli::parse();
    let code = match synthcorpus::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            synthcorpus::cli::EXIT_FAILURE
        }
    };
    std::process::exit(code);
}
