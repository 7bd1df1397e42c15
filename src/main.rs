fn main() -> std::process::ExitCode {
    imdswatch::cli::main()
}
