//! Finding the throwaway PostgreSQL cluster that `admin/pg start` runs for the tests (the README's
//! test command starts one and exports [`PG_URL_VAR`]).
//!
//! Tests that need PostgreSQL call [`test_pg_url`]: it never starts a server itself. Under
//! `CI=true` a missing cluster fails the test, so CI cannot pass by skipping them.

use std::path::PathBuf;

/// The environment variable holding the cluster's URL
/// (`postgres://postgres@127.0.0.1:PORT/postgres`; the superuser needs no password there).
pub const PG_URL_VAR: &str = "KEYSTEAD_TEST_PG_URL";

/// The test cluster's URL: [`PG_URL_VAR`], else the `pg/url` file that `admin/pg start` writes
/// in the target directory (`$CARGO_TARGET_DIR`, or the one holding the test binary).
///
/// Returns `None` after printing why on stderr when there is none, so the caller can skip.
///
/// # Panics
/// When there is none and `CI` is `true`: PostgreSQL tests must run in CI.
pub fn test_pg_url() -> Option<String> {
    if let Ok(url) = std::env::var(PG_URL_VAR)
        && !url.trim().is_empty()
    {
        return Some(url.trim().to_owned());
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("pg/url"));
    }
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|dir| dir.join("pg/url")));
    }
    for candidate in candidates {
        if let Ok(url) = std::fs::read_to_string(&candidate)
            && !url.trim().is_empty()
        {
            return Some(url.trim().to_owned());
        }
    }
    let message = format!(
        "no test PostgreSQL: set {PG_URL_VAR} or run `./admin/pg start` (./admin/test does both)"
    );
    if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        panic!("{message}; CI must run the PostgreSQL tests");
    }
    eprintln!("skipping: {message}");
    None
}
