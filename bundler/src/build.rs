//! The orchestration: plan → fetch → pki → render → packages → repository → bundle, each
//! stage's output passed to the next, with per-stage timings and nothing half-written left
//! in the output folder when a stage fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fetch::{self, Reporter};

#[derive(Clone, Debug)]
pub struct Options {
    pub inventory: PathBuf,
    pub catalog: Option<PathBuf>,
    pub output: PathBuf,
    pub state: PathBuf,
    pub cache: PathBuf,
    pub mirrors: Vec<String>,
    pub no_upstream: bool,
    pub offline: bool,
    pub jobs: usize,
    pub ca_cert: Option<PathBuf>,
    pub signing_key: Option<PathBuf>,
    pub source_date: Option<u64>,
    pub stall_timeout: std::time::Duration,
    pub retries: u32,
}

#[derive(Debug, Serialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Receipt {
    pub bundle: PathBuf,
    pub repository: PathBuf,
    pub versions: crate::plan::Versions,
    pub signing_key_fingerprint: String,
    pub artifacts: Vec<fetch::Fetched>,
    pub certificates: Vec<crate::pki::Change>,
    pub packages: Vec<crate::rpm::Built>,
    pub stages: Vec<Stage>,
}

struct Timer {
    stages: Vec<Stage>,
    t: Instant,
}

impl Timer {
    fn lap(&mut self, name: &str) {
        self.stages.push(Stage {
            name: name.into(),
            seconds: (self.t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
        self.t = Instant::now();
    }
}

fn stage<T>(name: &str, r: Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        Error::Failed(m) => Error::Failed(format!("stage {name} failed: {m}")),
        other => other,
    })
}

/// A staging folder inside the output folder, removed unless kept.
struct Staging(PathBuf);
impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn build(o: &Options, rep: &dyn Reporter) -> Result<Receipt> {
    let mut timer = Timer {
        stages: Vec::new(),
        t: Instant::now(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let plan = crate::plan(&o.inventory, o.catalog.as_deref())?;
    timer.lap("plan");

    let fopts = fetch::Options {
        cache: o.cache.clone(),
        mirrors: fetch::mirror_list(&o.mirrors, &plan),
        no_upstream: o.no_upstream,
        offline: o.offline,
        jobs: o.jobs,
        ca_cert: o.ca_cert.clone(),
        stall_timeout: o.stall_timeout,
        retry: fetch::RetryPolicy {
            attempts: o.retries.max(1),
            ..Default::default()
        },
    };
    let fetched = stage(
        "fetch",
        fetch::fetch(&fetch::Want::from_plan(&plan), &fopts, rep),
    )?;
    timer.lap("fetch");

    let pki = stage(
        "pki",
        crate::pki::ensure(&plan, &crate::pki_options(&plan, &o.state, false)),
    )?;
    timer.lap("pki");

    let rendered = stage("render", crate::render::render(&plan))?;
    timer.lap("render");

    std::fs::create_dir_all(&o.output).map_err(|source| Error::Write {
        path: o.output.clone(),
        source,
    })?;
    let staging = Staging(
        o.output
            .join(format!(".bundler-staging-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&staging.0);
    let work = staging.0.join("work");
    let key = stage(
        "packages",
        crate::signing::SigningKey::load_or_create(
            &o.state,
            o.signing_key.as_deref(),
            &plan.bundle_name,
        ),
    )?;
    let specs = stage(
        "packages",
        crate::rpm::assemble(&plan, &pki, &rendered, &fetched, &work, None),
    )?;
    let repo_dir = staging.0.join("bundle").join("repo");
    let built = stage(
        "packages",
        crate::rpm::build(
            specs,
            &crate::rpm::Options {
                out_dir: &repo_dir.join("Packages"),
                cache_dir: &o.cache,
                state: &o.state,
                key: &key,
                source_date: o.source_date,
                now,
                jobs: o.jobs.clamp(1, 4),
            },
        ),
    )?;
    let _ = std::fs::remove_dir_all(&work);
    timer.lap("packages");

    let repo_time = o
        .source_date
        .unwrap_or_else(|| built.iter().map(|b| b.build_time).max().unwrap_or(0));
    let _repo = stage("repository", crate::repo::write(&repo_dir, &key, repo_time))?;
    std::fs::write(
        staging
            .0
            .join("bundle")
            .join(format!("{}.repo", plan.bundle_name)),
        crate::repo::repo_file(&plan.bundle_name, "/var/lib/bundler/repo"),
    )
    .map_err(|source| Error::Write {
        path: staging.0.clone(),
        source,
    })?;
    timer.lap("repository");

    // Move the finished bundle folder into place.
    let name = format!(
        "{}-{}",
        plan.bundle_name,
        plan.versions.kubernetes.trim_start_matches('v')
    );
    let final_dir = o.output.join(&name);
    let old = o.output.join(format!(".{name}.old-{}", std::process::id()));
    if final_dir.exists() {
        std::fs::rename(&final_dir, &old).map_err(|source| Error::Write {
            path: final_dir.clone(),
            source,
        })?;
    }
    if let Err(source) = std::fs::rename(staging.0.join("bundle"), &final_dir) {
        let _ = std::fs::rename(&old, &final_dir);
        return Err(Error::Write {
            path: final_dir,
            source,
        });
    }
    let _ = std::fs::remove_dir_all(&old);
    timer.lap("bundle");

    Ok(Receipt {
        repository: final_dir.join("repo"),
        bundle: final_dir,
        versions: plan.versions.clone(),
        signing_key_fingerprint: key.fingerprint.clone(),
        artifacts: fetched,
        certificates: pki.changes,
        packages: built,
        stages: timer.stages,
    })
}

pub fn default_output() -> PathBuf {
    Path::new("out").to_path_buf()
}
