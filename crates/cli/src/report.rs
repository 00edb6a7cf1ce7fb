//! `plantshield report`: the plant security report, one self-contained
//! HTML file (and a PDF through a converter found on PATH), from the
//! platform store of `plantshield serve --data DIR`, or from captures
//! ingested into a temporary store the way `serve` ingests them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use plantshield_engine::policy::{self, Policy};
use plantshield_store::platform::{self, queries};

/// Exit status when `--pdf` is given and no converter is on PATH (the
/// HTML is written).
pub const EXIT_NO_CONVERTER: u8 = 3;
/// Exit status when the converter failed or ran out of time (the HTML is
/// written).
pub const EXIT_CONVERTER_FAILED: u8 = 4;

/// Converters tried in order: headless Chromium, then wkhtmltopdf.
const CHROMIUMS: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];
const WKHTMLTOPDF: &str = "wkhtmltopdf";

/// Options of `plantshield report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Captures (pcap or pcapng) to report on without a platform: ingested
    /// into a temporary store through the same pipeline as `serve`.
    #[arg(value_name = "CAPTURE", required_unless_present = "data")]
    captures: Vec<PathBuf>,
    /// Report on the platform store of `plantshield serve --data DIR`
    /// (zones from its current policy).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["captures", "policy"])]
    data: Option<PathBuf>,
    /// Check the captures against a policy or baseline (repeatable), as
    /// `analyze --policy`; its zones group the report.
    #[arg(long = "policy", value_name = "FILE")]
    policy: Vec<PathBuf>,
    /// Write the HTML report to FILE.
    #[arg(short = 'o', long = "output", value_name = "FILE.html")]
    output: PathBuf,
    /// Also write a PDF, converted from the HTML by headless Chromium or
    /// wkhtmltopdf found on PATH (exit 3 when there is none, 4 when it fails).
    #[arg(long, value_name = "FILE.pdf")]
    pdf: Option<PathBuf>,
    /// The site's name on the title page.
    #[arg(long, value_name = "NAME")]
    site: Option<String>,
    /// Seconds the PDF converter may run before it is stopped.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pdf_timeout: u64,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Result<TempDir, String> {
        let nanos = platform::now_ns();
        let p =
            std::env::temp_dir().join(format!("plantshield-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("plantshield: report: {msg}");
    ExitCode::from(2)
}

pub fn run(args: ReportArgs) -> ExitCode {
    let opts = plantshield_report::Options {
        site: args.site.clone(),
        generated_ns: platform::now_ns(),
    };
    let html = match &args.data {
        Some(dir) => from_store(dir, &opts),
        None => from_captures(&args.captures, &args.policy, &opts),
    };
    let html = match html {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    if let Err(e) = std::fs::write(&args.output, &html) {
        return fail(format!("{}: {e}", args.output.display()));
    }
    eprintln!("plantshield: wrote {}", args.output.display());
    let Some(pdf) = &args.pdf else {
        return ExitCode::SUCCESS;
    };
    match to_pdf(
        &args.output,
        pdf,
        Duration::from_secs(args.pdf_timeout.max(1)),
    ) {
        Ok(conv) => {
            eprintln!("plantshield: wrote {} ({conv})", pdf.display());
            ExitCode::SUCCESS
        }
        Err(PdfError::NoConverter) => {
            eprintln!(
                "plantshield: report: no PDF converter on PATH (looked for {} and {WKHTMLTOPDF}); \
                 install Chromium (Debian: apt-get install chromium) or wkhtmltopdf. \
                 The HTML report is written: {}",
                CHROMIUMS.join(", "),
                args.output.display()
            );
            ExitCode::from(EXIT_NO_CONVERTER)
        }
        Err(PdfError::Failed(e)) => {
            eprintln!(
                "plantshield: report: PDF conversion failed: {e}. The HTML report is written: {}",
                args.output.display()
            );
            ExitCode::from(EXIT_CONVERTER_FAILED)
        }
    }
}

/// The report of the store in `dir`, zoned by its current policy.
fn from_store(dir: &Path, opts: &plantshield_report::Options) -> Result<String, String> {
    let db = plantshield_web::db_path(dir);
    if !db.is_file() {
        return Err(format!(
            "no platform store in {} (expected {}; see `plantshield serve --data`)",
            dir.display(),
            db.display()
        ));
    }
    let conn = plantshield_store::open_read_only(&db).map_err(|e| e.to_string())?;
    let pol: Option<Policy> = queries::current_policy(&conn)
        .map_err(|e| e.to_string())?
        .and_then(|(_, name, text, _, _)| {
            let l = policy::load_str(Path::new(&name), &text);
            (!l.has_errors()).then_some(l.policy)
        });
    plantshield_report::render(&conn, pol.as_ref(), opts).map_err(|e| e.to_string())
}

/// The report of captures ingested into a temporary store.
fn from_captures(
    captures: &[PathBuf],
    policy_files: &[PathBuf],
    opts: &plantshield_report::Options,
) -> Result<String, String> {
    let pol = if policy_files.is_empty() {
        None
    } else {
        Some(
            crate::policy::load_for_analyze(policy_files)
                .ok_or_else(|| "the policy has errors".to_string())?,
        )
    };
    let tmp = TempDir::new("report")?;
    let db = tmp.0.join("plantshield.db");
    platform::open(&db).map_err(|e| e.to_string())?;
    for c in captures {
        let o = plantshield_web::ingest::ingest_file(&db, c, pol.as_ref());
        if let Some(e) = o.error {
            return Err(e);
        }
        if o.skipped {
            eprintln!(
                "plantshield: {} has the same content as a capture before it: skipped",
                o.name
            );
        }
    }
    let conn = platform::open(&db).map_err(|e| e.to_string())?;
    plantshield_report::render(&conn, pol.as_ref(), opts).map_err(|e| e.to_string())
}

enum PdfError {
    NoConverter,
    Failed(String),
}

/// The first of `names` that is an executable file on PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    for n in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(n);
            if std::fs::metadata(&p)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            {
                return Some(p);
            }
        }
    }
    None
}

/// Converts `html` to `pdf`; returns the converter's path.
fn to_pdf(html: &Path, pdf: &Path, timeout: Duration) -> Result<String, PdfError> {
    let html_abs = std::fs::canonicalize(html).map_err(|e| PdfError::Failed(e.to_string()))?;
    let work = TempDir::new("pdf").map_err(PdfError::Failed)?;
    let _ = std::fs::remove_file(pdf);
    let (conv, mut cmd) = if let Some(c) = on_path(CHROMIUMS) {
        let mut cmd = Command::new(&c);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.0.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html_abs.display()));
        (c, cmd)
    } else if let Some(c) = on_path(&[WKHTMLTOPDF]) {
        let mut cmd = Command::new(&c);
        cmd.args(["--quiet", "--page-size", "A4", "--disable-javascript"])
            .arg(&html_abs)
            .arg(pdf);
        (c, cmd)
    } else {
        return Err(PdfError::NoConverter);
    };
    let log = work.0.join("converter.log");
    let log_file = std::fs::File::create(&log).map_err(|e| PdfError::Failed(e.to_string()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .env("HOME", &work.0)
        .spawn()
        .map_err(|e| PdfError::Failed(format!("{}: {e}", conv.display())))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PdfError::Failed(format!(
                    "{} did not finish within {} s (see --pdf-timeout)",
                    conv.display(),
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(PdfError::Failed(e.to_string())),
        }
    };
    let head = std::fs::read(pdf)
        .ok()
        .map(|b| b.starts_with(b"%PDF"))
        .unwrap_or(false);
    if !status.success() || !head {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(PdfError::Failed(format!(
            "{} exited with {status} without writing a PDF: {}",
            conv.display(),
            tail.join(" | ")
        )));
    }
    Ok(conv.display().to_string())
}
