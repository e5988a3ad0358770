//! `report.html` in a real browser: headless Chromium renders the report of the fixture run
//! (`tests/fixtures/eval/run`) and the test asserts on the DOM it dumps: the plots, the tables
//! and the sample table's inline script having run.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`); the test fails, saying so, when it
//! is missing. `SYNTHCORPUS_CHROMIUM` may name another binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SYNTHCORPUS_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed for this test and was not found on PATH: \
         install it with `apt-get install -y chromium` (or set SYNTHCORPUS_CHROMIUM)"
    );
}

fn dump_dom(html: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("DOM is UTF-8")
}

#[test]
fn report_renders_with_plots_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
        .current_dir(root())
        .args([
            "eval",
            "tests/fixtures/eval/run",
            "--suite",
            "evals/ven.toml",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run synthcorpus");
    // the fixture run holds verbatim copies: the suite fails (3), the report is written anyway
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = dir.path().join("report.html");
    let source = std::fs::read_to_string(&html).unwrap();
    // self-contained: no external script, style, image or font
    for bad in ["<script src", "<link", "<img", "@import", "url(http"] {
        assert!(!source.contains(bad), "report.html references `{bad}`");
    }

    let dom = dump_dom(&html);
    // the inline script ran (it marks the body and counts the rows)
    assert!(dom.contains("data-ready=\"1\""), "script did not run");
    assert!(
        dom.contains("12 of 12 samples shown"),
        "sample filter did not run"
    );
    // every plot is an SVG with drawn marks
    for plot in [
        "length-graphemes",
        "length-words",
        "length-sentences",
        "wordlist-coverage",
        "special-letters",
        "vocab-growth",
        "usefulness",
        "per-model",
        "per-template",
        "lid-score",
        "lid-confusion",
    ] {
        let tag = format!("<svg class=\"plot\" data-plot=\"{plot}\"");
        let at = dom
            .find(&tag)
            .unwrap_or_else(|| panic!("plot `{plot}` missing from the DOM"));
        let end = at + dom[at..].find("</svg>").expect("closed svg");
        let svg = &dom[at..end];
        assert!(
            svg.contains("class=\"bar\"") || svg.contains("class=\"curve\""),
            "plot `{plot}` has no bars or curves"
        );
    }
    // the shipped language identifier is used: its plots are drawn, not declared absent
    assert!(!dom.contains("id=\"lid-absent\""));
    // synthetic beside real: the summary table has the three columns
    let summary = &dom[dom.find("id=\"summary-table\"").expect("summary table")..];
    assert!(summary.contains("<th>synthetic</th><th>seed</th><th>held-out</th>"));
    assert!(summary.contains("verbatim-copy rate"));
    // gates, breakdowns and the sample table with labels and verdicts
    assert!(dom.contains("id=\"gates-table\""));
    assert!(dom.contains("id=\"breakdown-model\""));
    assert!(dom.contains("id=\"breakdown-template\""));
    let samples = &dom[dom.find("<table id=\"samples\"").expect("sample table")..];
    let samples = &samples[..samples.find("</table>").unwrap()];
    assert_eq!(samples.matches("<tr data-id=").count(), 12);
    assert!(samples.contains("verbatim_copy"));
    assert!(samples.contains("lang=ven"));
    assert!(samples.contains("Tshiteṅwa") || samples.contains("Vhathu"));
}
