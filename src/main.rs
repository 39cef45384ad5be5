fn main() -> std::process::ExitCode {
    nexudus_conformance::app::main()
}
