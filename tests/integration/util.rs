//! The harness: inventories written into a temporary folder, and the real `bundler`
//! binary run on them, with exit code and output captured.

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

/// The binary under test; `BUNDLER_TEST_BIN` runs the suite against another build (to show a
/// new regression test fails on the code before the fix).
pub fn bundler() -> Command {
    Command::new(std::env::var_os("BUNDLER_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_bundler").into()))
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
