fn main() -> std::process::ExitCode {
    nexudus_conformance::cli::main()
}
