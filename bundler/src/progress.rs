//! Progress for people: bars on a terminal (indicatif), plain lines in logs (a start, each
//! 10%, a finish; no control codes), nothing with --quiet. The library only sends events.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use bundler::report::{Event, Outcome, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub enum Progress {
    /// No progress; warnings still shown when the flag is set (`--json` without `--quiet`).
    Quiet(bool),
    Log(Mutex<HashMap<String, u64>>),
    Bars(MultiProgress, Mutex<HashMap<String, ProgressBar>>),
}

impl Progress {
    pub fn new(quiet: bool, warnings: bool) -> Progress {
        if quiet {
            Progress::Quiet(warnings)
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), Mutex::new(HashMap::new()))
        } else {
            Progress::Log(Mutex::new(HashMap::new()))
        }
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Cached => "cached (verified)",
        Outcome::Downloaded => "downloaded and verified",
        Outcome::Resumed => "resumed and verified",
        Outcome::Copied => "copied from mirror and verified",
    }
}

impl Reporter for Progress {
    fn event(&self, e: &Event) {
        match self {
            Progress::Quiet(warnings) => {
                if let (true, Event::Warning { text }) = (warnings, e) {
                    eprintln!("{text}");
                }
            }
            Progress::Log(last) => match e {
                Event::Waiting { name } => {
                    eprintln!("{name}: waiting for another bundler process fetching the same file")
                }
                Event::Start { name, url, total, offset } => {
                    last.lock().unwrap().insert(name.to_string(), 0);
                    let size = total.map(mib).unwrap_or_else(|| "unknown size".into());
                    if *offset > 0 {
                        eprintln!("{name}: resuming {url} at {} of {size}", mib(*offset));
                    } else {
                        eprintln!("{name}: fetching {url} ({size})");
                    }
                }
                Event::Progress { name, done, total: Some(t) } if *t > 0 => {
                    let decile = done * 10 / t;
                    let mut l = last.lock().unwrap();
                    let prev = l.entry(name.to_string()).or_insert(0);
                    if decile > *prev && decile < 10 {
                        *prev = decile;
                        eprintln!("{name}: {}% ({} of {})", decile * 10, mib(*done), mib(*t));
                    }
                }
                Event::Progress { .. } => {}
                Event::Retry { name, url, attempt, reason, delay } => {
                    eprintln!("{name}: attempt {attempt} at {url} failed: {reason}; retrying in {:.1}s", delay.as_secs_f64())
                }
                Event::Damaged { name, path } => eprintln!("{name}: cached file {} no longer matches its digest; fetching it again", path.display()),
                Event::Done { name, outcome, bytes } => eprintln!("{name}: {} ({})", outcome_word(*outcome), mib(*bytes)),
                Event::Failed { name, .. } => eprintln!("{name}: failed"),
                Event::Warning { text } => eprintln!("{text}"),
            },
            Progress::Bars(mp, bars) => {
                let mut bars = bars.lock().unwrap();
                match e {
                    Event::Start { name, total, offset, .. } => {
                        let pb = mp.add(ProgressBar::new(total.unwrap_or(0)));
                        pb.set_style(
                            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                                .unwrap()
                                .progress_chars("=> "),
                        );
                        pb.set_prefix(name.to_string());
                        pb.set_position(*offset);
                        if let Some(old) = bars.insert(name.to_string(), pb) {
                            old.finish_and_clear();
                        }
                    }
                    Event::Progress { name, done, .. } => {
                        if let Some(pb) = bars.get(*name) {
                            pb.set_position(*done);
                        }
                    }
                    Event::Done { name, outcome, bytes } => match bars.get(*name) {
                        Some(pb) => pb.finish_with_message(outcome_word(*outcome)),
                        None => {
                            let _ = mp.println(format!("{name:>18} {} ({})", outcome_word(*outcome), mib(*bytes)));
                        }
                    },
                    Event::Retry { name, attempt, reason, delay, .. } => {
                        let _ = mp.println(format!("{name:>18} attempt {attempt} failed: {reason}; retrying in {:.1}s", delay.as_secs_f64()));
                    }
                    Event::Waiting { name } => {
                        let _ = mp.println(format!("{name:>18} waiting for another bundler process"));
                    }
                    Event::Damaged { name, path } => {
                        let _ = mp.println(format!("{name:>18} cached file {} is damaged; fetching again", path.display()));
                    }
                    Event::Failed { name, .. } => {
                        if let Some(pb) = bars.get(*name) {
                            pb.abandon_with_message("failed");
                        }
                    }
                    Event::Warning { text } => {
                        let _ = mp.println(*text);
                    }
                }
            }
        }
    }
}
