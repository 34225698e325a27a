//! Build script shared by every function binary and the cold-start baseline (`build = ` in their
//! manifests): links the binary as a position-dependent executable on Linux.
//!
//! Why: a position-independent executable has every pointer in its static data relocated by
//! the dynamic loader before `main`. chrono-tz's time-zone tables alone are tens of thousands
//! of such pointers, so each worker copied about a megabyte of pages at every cold start
//! (design §9's cold-start budget). Without PIE those pointers are fixed at link time and
//! pages are only read when used. The cost is that the executable's own image is not
//! randomised (the heap, stack and shared libraries still are), which is Go's default too.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
