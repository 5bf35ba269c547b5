//! The orchestration: plan → render → pki → fetch → images → packages → repository → bundle, each
//! stage's output passed to the next, with per-stage timings and nothing half-written left
//! in the output folder when a stage fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fetch;
use crate::report::{Event, Reporter};

#[derive(Clone, Debug)]
pub struct Options {
    pub inventory: PathBuf,
    pub catalog: Option<PathBuf>,
    /// `--packages`: a package spec in place of the embedded one.
    pub packages: Option<PathBuf>,
    pub output: PathBuf,
    pub state: PathBuf,
    /// Downloads; `mirrors` here are the command line's, the inventory's are added from the plan.
    pub fetch: fetch::Options,
    pub signing_key: Option<PathBuf>,
    pub source_date: Option<u64>,
    pub registry_mirrors: Vec<String>,
    pub registry_credentials: crate::images::Credentials,
    /// `--os-mirror`: OS package trees (with `Packages/`), tried before the catalog's URLs.
    pub os_mirrors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Receipt {
    /// The tarball.
    pub bundle: PathBuf,
    pub bundle_sha256: String,
    pub release: u32,
    pub versions: crate::plan::Versions,
    pub signing_key_fingerprint: String,
    pub artifacts: Vec<crate::model::Fetched>,
    pub certificates: Vec<crate::model::Change>,
    pub images: Vec<crate::model::PulledImage>,
    pub packages: Vec<crate::model::Built>,
    /// The plan's warnings (also printed by the command line).
    pub warnings: Vec<crate::error::Diagnostic>,
    /// Certificate warnings: lifetimes cut to their CA's, CAs close to expiry.
    pub certificate_warnings: Vec<String>,
    /// The OS vendor's packages the repository carries unchanged.
    pub os_packages: Vec<crate::model::FetchedOs>,
    pub stages: Vec<Stage>,
}

struct Timer {
    stages: Vec<Stage>,
    t: Instant,
}

impl Timer {
    fn lap(&mut self, name: &str) {
        self.stages.push(Stage { name: name.into(), seconds: (self.t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0 });
        self.t = Instant::now();
    }
}

/// Test hooks: `BUNDLER_TEST_FAIL_AT=<stage>` makes that stage fail, `BUNDLER_TEST_KILL_AT=<stage>`
/// kills the process (SIGKILL) as the stage starts, so tests can show a failed or killed build
/// leaves the output folder as it was.
fn checkpoint(name: &str) -> Result<()> {
    if std::env::var("BUNDLER_TEST_KILL_AT").is_ok_and(|v| v == name) {
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    if std::env::var("BUNDLER_TEST_FAIL_AT").is_ok_and(|v| v == name) {
        return Err(Error::Injected.in_stage(name));
    }
    Ok(())
}

fn stage<T>(name: &str, r: Result<T>) -> Result<T> {
    checkpoint(name)?;
    r.map_err(|e| e.in_stage(name))
}

/// A staging folder in the cache, removed when the build ends (a killed build's is removed by the next).
struct Staging(PathBuf);
impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn build(o: &Options, rep: &dyn Reporter) -> Result<Receipt> {
    let mut timer = Timer { stages: Vec::new(), t: Instant::now() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();

    let mut plan = crate::plan_with(&o.inventory, o.catalog.as_deref(), o.packages.as_deref())?;
    // One build or `certs issue` at a time per state folder: two would mix CA keys and certificates.
    let _lock = crate::pki::lock_state(&o.state)?;
    // A user's signing key is read and checked before the first download.
    let mut user_key = o.signing_key.as_deref().map(crate::signing::SigningKey::load_user).transpose()?;

    // Warnings go out as soon as they are known: a build that fails later still shows them.
    for w in &plan.warnings {
        rep.event(&Event::Warning { text: &w.to_string() });
    }
    timer.lap("plan");

    // Templates and certificates before the first download: a template or certificate-name
    // error costs no bytes.
    let rendered = stage("render", crate::render::packages(&plan))?;
    let scriptlets = stage("render", crate::render::scriptlets(&plan, &rendered))?;
    timer.lap("render");

    let pki = stage("pki", crate::pki::ensure(&plan, &crate::pki_options(&plan, &o.state, false)))?;
    for w in &pki.warnings {
        rep.event(&Event::Warning { text: &format!("warning: {w}") });
    }
    timer.lap("pki");

    let fopts = fetch::Options { mirrors: fetch::mirror_list(&o.fetch.mirrors, &plan), ..o.fetch.clone() };
    let fetched = stage("fetch", fetch::fetch(&fetch::Want::from_plan(&plan), &fopts, rep))?;
    let os = stage("fetch", fetch::os::fetch_os(&plan, &fopts, &fetch::os::os_mirror_list(&o.os_mirrors, &plan)))?;
    let os_packages: Vec<crate::model::FetchedOs> = os.as_ref().map(|o| o.packages.clone()).unwrap_or_default();
    timer.lap("fetch");

    // Work happens in the cache folder; the output folder only ever sees the finished tarball.
    let staging_root = crate::layout::cache::staging(&o.fetch.cache);
    clean_stale(&staging_root);
    let staging = Staging(staging_root.join(format!("{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&staging.0);
    // Private: the staged packages and tarball hold keys.
    crate::files::create_private_dir(&staging.0).map_err(|source| Error::Write { path: staging.0.clone(), source })?;
    crate::files::check_private_dir(&staging_root, "cache folder", true)?;
    let images_dir = staging.0.join("images");
    // A fixed time, not SOURCE_DATE_EPOCH: the archives' bytes depend on the images only, so
    // a new epoch with the same images keeps k8s-images (and what pins it) at its release.
    let image_time = 0;
    let images = stage(
        "images",
        crate::images::pull(
            &plan,
            &crate::images::Options {
                fetch: &fopts,
                registry_mirrors: &o.registry_mirrors,
                creds: &o.registry_credentials,
                out_dir: &images_dir,
                time: image_time,
            },
            rep,
        ),
    )?;
    // First pulls of images without a published digest are recorded now, so the manifest and
    // SBOM list their digests and later builds verify them.
    stage("images", crate::image_lock::record(&crate::image_lock::path_for(&o.inventory), &mut plan, &images, &crate::image_lock::day(now)))?;
    timer.lap("images");
    let work = staging.0.join("work");
    let key = match user_key.take() {
        Some(k) => k,
        None => stage("packages", crate::signing::SigningKey::load_or_create(&o.state, None, &plan.bundle_name))?,
    };
    timer.lap("signing-key");
    let specs = stage("packages", crate::rpm::assemble(&plan, &pki, &rendered, &scriptlets, &fetched, Some(&images)))?;
    // Where each staged file goes on a host, so the receipt can name image archives there.
    let specs_files: Vec<(String, PathBuf)> = specs
        .iter()
        .flat_map(|s| s.files.iter())
        .filter_map(|f| match &f.content {
            crate::rpm::Content::Path(p) => Some((f.path.clone(), p.clone())),
            crate::rpm::Content::Bytes(_) => None,
        })
        .collect();
    let repo_dir = staging.0.join("bundle").join("repo");
    let rpm_opts = crate::rpm::Options {
        out_dir: &repo_dir.join("Packages"),
        cache_dir: &o.fetch.cache,
        state: &o.state,
        key: &key,
        source_date: o.source_date,
        now,
        // One package at a time: each one compresses on every core, so memory stays flat.
        jobs: 1,
        work: &work,
    };
    let prepared = stage("packages", crate::rpm::prepare(specs, &rpm_opts))?;
    timer.lap("extract");
    let built = stage("packages", crate::rpm::write_all(prepared, &rpm_opts))?;
    for b in &built {
        use std::os::unix::fs::PermissionsExt;
        // Role packages carry private keys: readable by the builder only while staged.
        std::fs::set_permissions(&b.path, std::fs::Permissions::from_mode(0o600)).map_err(|source| Error::Write { path: b.path.clone(), source })?;
    }
    let _ = std::fs::remove_dir_all(&work);
    // The vendor's packages go in unchanged (copied: the repository stage sets file times),
    // with the vendor's key beside ours for yum's gpgcheck.
    let werr = |path: &Path, source| Error::Write { path: path.to_path_buf(), source };
    for p in &os_packages {
        let dst = repo_dir.join("Packages").join(&p.file_name);
        std::fs::copy(&p.path, &dst).map_err(|e| werr(&dst, e))?;
    }
    if let Some(os) = &os {
        let dst = repo_dir.join(&os.key_name);
        std::fs::write(&dst, &os.key_armored).map_err(|e| werr(&dst, e))?;
    }
    timer.lap("packages");

    let repo_time = o.source_date.unwrap_or_else(|| built.iter().map(|b| b.build_time).max().unwrap_or(0));
    let bundle_dir = staging.0.join("bundle");
    // Packages were hashed as they were written; nothing reads them again for that.
    let known: std::collections::BTreeMap<String, (String, u64)> = built
        .iter()
        .map(|b| (b.file_name.clone(), (b.sha256.clone(), b.size)))
        .chain(os_packages.iter().map(|p| (p.file_name.clone(), (p.sha256.clone(), p.bytes))))
        .collect();
    let _repo = stage("repository", crate::repo::write(&repo_dir, &key, repo_time, &known))?;
    timer.lap("repository");

    checkpoint("bundle")?;
    let release = crate::bundle::release(&o.state, &built, &plan)?;
    let stem = crate::names::bundle_stem(&plan.bundle_name, &plan.versions.kubernetes, release);
    // The bundle's own files name its release, known only now; the packages' were rendered above.
    let bundle_files = stage("bundle", crate::render::bundle_files(&plan, release))?;
    let contents = crate::bundle::Contents {
        plan: &plan,
        inventory_sha256: &plan.inventory_sha256,
        fetched: &fetched,
        built: &built,
        os_packages: &os_packages,
        key_fingerprint: &key.fingerprint,
        stem: &stem,
        time: repo_time,
    };
    let tar_name = format!("{stem}.tar");
    let staged_tar = staging.0.join(&tar_name);
    let bundle_sha256 = stage("bundle", crate::bundle::write(&bundle_dir, &contents, &bundle_files, &key, &staged_tar))?.hex;
    checkpoint("publish")?;
    std::fs::create_dir_all(&o.output).map_err(|source| Error::Write { path: o.output.clone(), source })?;
    let output = std::fs::canonicalize(&o.output).map_err(|source| Error::Read { path: o.output.clone(), source })?;
    let final_tar = output.join(&tar_name);
    publish(&staged_tar, &final_tar)?;
    timer.lap("bundle");
    crate::cache::record_use(&o.fetch.cache, &fetched, os.as_ref(), &images, &built);

    // The staging folder is gone once the build returns: the receipt names packages and
    // image archives by where they are in the bundle (`<stem>/repo/Packages/...`) and in
    // the package that carries them.
    let mut built = built;
    for b in built.iter_mut() {
        b.path = Path::new(&stem).join("repo/Packages").join(&b.file_name);
    }
    let mut images = images;
    for i in images.iter_mut() {
        let carried = specs_files.iter().find(|(_, src)| src == &i.archive);
        i.archive = carried.map(|(dst, _)| PathBuf::from(dst)).unwrap_or_default();
    }
    Ok(Receipt {
        bundle: final_tar,
        bundle_sha256,
        release,
        versions: plan.versions.clone(),
        signing_key_fingerprint: key.fingerprint.clone(),
        artifacts: fetched,
        images,
        certificates: pki.changes,
        packages: built,
        warnings: plan.warnings.clone(),
        certificate_warnings: pki.warnings,
        os_packages,
        stages: timer.stages,
    })
}

/// Move the finished tarball into the output folder in one step: a rename on one file
/// system; across file systems a copy into a nameless file (`O_TMPFILE`) that gets its name
/// only when complete and synced, so a full disk or a kill leaves nothing in the output folder.
fn publish(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    use std::os::unix::fs::OpenOptionsExt;
    let w = |source| Error::Write { path: to.to_path_buf(), source };
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.{}.partial", to.file_name().unwrap().to_string_lossy(), std::process::id()));
    let copy = |dst: &mut std::fs::File| -> std::io::Result<()> {
        let mut src = std::fs::File::open(from)?;
        std::io::copy(&mut src, dst)?;
        dst.sync_all()
    };
    match std::fs::OpenOptions::new().write(true).custom_flags(libc::O_TMPFILE).mode(0o640).open(dir) {
        Ok(mut f) => {
            copy(&mut f).map_err(w)?;
            checkpoint("publish-copied")?;
            // Give the finished inode a name (hidden, for an instant), then the real one.
            use std::os::unix::io::AsRawFd;
            let proc_path = std::ffi::CString::new(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap();
            let tmp_c =
                std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(tmp.as_os_str())).map_err(|_| w(std::io::ErrorKind::InvalidInput.into()))?;
            let r = unsafe { libc::linkat(libc::AT_FDCWD, proc_path.as_ptr(), libc::AT_FDCWD, tmp_c.as_ptr(), libc::AT_SYMLINK_FOLLOW) };
            if r != 0 {
                return Err(w(std::io::Error::last_os_error()));
            }
        }
        Err(_) => {
            // No O_TMPFILE on this file system: a hidden name from the start, removed on failure.
            let r =
                std::fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).mode(0o640).open(&tmp).and_then(|mut f| copy(&mut f));
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(w(e));
            }
        }
    }
    std::fs::rename(&tmp, to).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        w(e)
    })?;
    let _ = std::fs::File::open(dir).and_then(|f| f.sync_all());
    Ok(())
}

/// Staging folders of build processes that no longer run (killed) are removed.
fn clean_stale(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let pid: Option<i32> = e.file_name().to_str().and_then(|n| n.parse().ok());
        if let Some(pid) = pid {
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            if !alive {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
