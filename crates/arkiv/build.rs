//! Links the `arkiv` executable as a non-PIE binary: its ~36,000 relative relocations are then
//! resolved by the linker instead of at every start. `arkiv search` is often run once per query
//! by scripts, and the relocations cost about a millisecond of every process start.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
