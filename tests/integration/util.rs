//! The harness: inventories written into a temporary folder, and the real `bundler`
//! binary run on them, with exit code and output captured, in an environment scrubbed of
//! what the developer's shell could leak into a test (`BUNDLER_*`, `XDG_*`,
//! `SOURCE_DATE_EPOCH`): each test sets what it means explicitly.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Case {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
    /// Assert that stderr has a line with exactly this location and message start.
    #[track_caller]
    pub fn has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "expected in stderr:\n  {needle}\n--- stderr was:\n{}", self.stderr);
        self
    }
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "exit code; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Variables that change what bundler does and so must come from the test, not the shell.
pub fn leaks_into_tests(name: &std::ffi::OsStr) -> bool {
    let n = name.to_string_lossy();
    (n.starts_with("BUNDLER_") && n != "BUNDLER_TEST_BIN") || n.starts_with("XDG_") || n == "SOURCE_DATE_EPOCH"
}

/// The test process itself starts scrubbed, before `main` and before any test thread: every
/// child (bundler, `sh install.sh`, host-identity, rpm, dnf) and every in-process library call
/// sees only what its test sets. (`.init_array` runs on Linux as the ctor crate's constructors do.)
#[used]
#[link_section = ".init_array"]
static SCRUB_AT_START: extern "C" fn() = scrub_process_env;

extern "C" fn scrub_process_env() {
    for (k, _) in std::env::vars_os() {
        if leaks_into_tests(&k) {
            std::env::remove_var(&k);
        }
    }
}

/// The harness in one place: commands and their checks here, fixture artifacts and images in
/// `fixtures`, the local HTTP server in `httpd`, build folders in `packages`.
pub use crate::etcd::require;
#[allow(unused_imports)]
pub use crate::packages::{example_built, rpmq, sh, Build};

/// Remove every variable `leaks_into_tests` names from `cmd`'s environment; values the test
/// sets afterwards with `.env()` still apply.
pub fn scrub(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if leaks_into_tests(&k) {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// The `bundler` binary under test, in a scrubbed environment; `BUNDLER_TEST_BIN` runs the suite
/// against another build (to show a new regression test fails on the code before the fix).
pub fn bundler() -> Command {
    let mut c = Command::new(std::env::var_os("BUNDLER_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_bundler").into()));
    scrub(&mut c);
    c
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run bundler");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Case {
    pub fn new() -> Case {
        Case { dir: tempfile::tempdir().unwrap() }
    }
    pub fn file(&self, rel: &str, text: &str) -> &Case {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// `bundler plan --inventory REL` run from inside the folder, so messages show REL.
    pub fn plan(&self, rel: &str, extra: &[&str]) -> Run {
        run(bundler().current_dir(self.dir.path()).args(["plan", "--inventory", rel]).args(extra))
    }
    pub fn plan_json(&self, rel: &str) -> Run {
        self.plan(rel, &["--json"])
    }
}

/// One value built once per test process and shared by the tests that only read it (a
/// built bundle, say); its folder is removed when the test process exits.
pub struct Shared<T: 'static> {
    cell: std::sync::OnceLock<T>,
}

impl<T: Sync + 'static> Shared<T> {
    pub const fn new() -> Shared<T> {
        Shared { cell: std::sync::OnceLock::new() }
    }
    /// The value, made by `init` on first use (other tests wait for it); `dir` says which
    /// folder to remove at exit.
    pub fn get(&'static self, init: impl FnOnce() -> T, dir: impl Fn(&T) -> PathBuf) -> &'static T {
        self.cell.get_or_init(|| {
            let v = init();
            remove_at_exit(dir(&v));
            v
        })
    }
}

static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_registered() {
    if let Ok(dirs) = AT_EXIT.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Statics are never dropped, so shared folders are removed by an exit handler instead.
pub fn remove_at_exit(dir: PathBuf) {
    let mut v = AT_EXIT.lock().unwrap();
    if v.is_empty() {
        unsafe {
            libc::atexit(remove_registered);
        }
    }
    v.push(dir);
}

/// Run any command and capture its exit code and output.
pub fn run_tool(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_test_process_starts_scrubbed() {
    // `BUNDLER_TEST_FAIL_AT=fetch cargo test` once failed every build test, and a developer's
    // BUNDLER_MIRRORS or XDG_CACHE_HOME reached every bundler run that did not remove it.
    let leaked: Vec<String> = std::env::vars_os().filter(|(k, _)| leaks_into_tests(k)).map(|(k, _)| k.to_string_lossy().into_owned()).collect();
    assert!(leaked.is_empty(), "leaked into the tests: {leaked:?}");
}
