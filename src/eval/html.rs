//! `report.html`: one self-contained page (no network, no external script or style) with the
//! figures as inline SVG plots, synthetic beside real, and a browsable sample table.
//!
//! Every plot is an `<svg class="plot" data-plot="NAME">`; plots: `length-graphemes`,
//! `length-words`, `length-sentences`, `lid-score` (when an identifier was given),
//! `lid-confusion`, `wordlist-coverage`, `special-letters`, `vocab-growth`, `usefulness`, and
//! `per-model` / `per-template` comparisons when there are groups. The sample table is
//! `<table id="samples">`; a small inline script filters it and marks `<body data-ready="1">`.

use std::fmt::Write;

use serde_json::Value;

use super::markdown::{cell, fmt, get, HEADLINE};
use super::suite::lookup;
use super::EvalReport;

const C_SYN: &str = "#d95f02";
const C_SEED: &str = "#1b9e77";
const C_HELD: &str = "#7570b3";
const PALETTE: &[&str] = &[
    "#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363", "#e7ba52", "#d6616b", "#17becf",
];

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A named, coloured curve: `(name, colour, points)`.
type Curve = (String, String, Vec<(f64, f64)>);

/// A data series.
struct Series {
    name: String,
    color: String,
    values: Vec<f64>,
}

fn nice_max(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= x {
            return m * p;
        }
    }
    10.0 * p
}

fn legend(series: &[(&str, &str)], x: f64, y: f64) -> String {
    let mut s = String::new();
    let mut cx = x;
    for (name, color) in series {
        let _ = write!(
            s,
            r#"<rect x="{cx}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            y - 9.0,
            cx + 14.0,
            y,
            esc(name)
        );
        cx += 24.0 + 7.0 * name.chars().count() as f64;
    }
    s
}

/// Grouped vertical bars: one group per category, one bar per series.
fn bar_chart(name: &str, title: &str, cats: &[String], series: &[Series], y_label: &str) -> String {
    let (w, h) = (640.0, 280.0);
    let (l, r, t, b) = (56.0, 12.0, 46.0, 60.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let vmax = nice_max(
        series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><svg class="plot" data-plot="{name}" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="{l}" y="16" font-size="13" font-weight="bold">{t}</text>"#,
        t = esc(title)
    );
    for k in 0..=4 {
        let v = vmax * k as f64 / 4.0;
        let y = t + ph - ph * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"##,
            l + pw,
            l - 4.0,
            y + 3.0,
            trim_num(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="12" y="{}" font-size="10" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>"#,
        t + ph / 2.0,
        t + ph / 2.0,
        esc(y_label)
    );
    let nc = cats.len().max(1) as f64;
    let gw = pw / nc;
    let ns = series.len().max(1) as f64;
    let bw = (gw * 0.8 / ns).max(1.0);
    for (ci, c) in cats.iter().enumerate() {
        let gx = l + gw * ci as f64 + gw * 0.1;
        for (si, se) in series.iter().enumerate() {
            let v = se.values.get(ci).copied().unwrap_or(0.0);
            let v = if v.is_finite() { v } else { 0.0 };
            let bh = ph * v / vmax;
            let _ = write!(
                s,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}: {}</title></rect>"#,
                gx + bw * si as f64,
                t + ph - bh,
                bw,
                bh,
                se.color,
                esc(&se.name),
                esc(c),
                trim_num(v)
            );
        }
        let lx = gx + gw * 0.4;
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{}" font-size="10" text-anchor="end" transform="rotate(-35 {lx:.1} {})">{}</text>"#,
            t + ph + 12.0,
            t + ph + 12.0,
            esc(&truncate(c, 18))
        );
    }
    let names: Vec<(&str, &str)> = series
        .iter()
        .map(|s| (s.name.as_str(), s.color.as_str()))
        .collect();
    s.push_str(&legend(&names, l, 34.0));
    s.push_str("</svg></figure>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Line chart on log-log axes (points with x, y > 0).
fn log_line_chart(name: &str, title: &str, series: &[Curve]) -> String {
    let (w, h) = (640.0, 300.0);
    let (l, r, t, b) = (56.0, 12.0, 46.0, 40.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let pts = series
        .iter()
        .flat_map(|s| s.2.iter())
        .filter(|p| p.0 > 0.0 && p.1 > 0.0);
    let (mut xmax, mut ymax) = (10.0f64, 10.0f64);
    for p in pts {
        xmax = xmax.max(p.0);
        ymax = ymax.max(p.1);
    }
    let lx = xmax.log10().ceil().max(1.0);
    let ly = ymax.log10().ceil().max(1.0);
    let px = |x: f64| l + pw * x.max(1.0).log10() / lx;
    let py = |y: f64| t + ph - ph * y.max(1.0).log10() / ly;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><svg class="plot" data-plot="{name}" role="img" aria-label="{tt}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{tt}</title><text x="{l}" y="16" font-size="13" font-weight="bold">{tt}</text>"#,
        tt = esc(title)
    );
    for k in 0..=lx as i32 {
        let x = px(10f64.powi(k));
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{t}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" font-size="10" text-anchor="middle">1e{k}</text>"##,
            t + ph,
            t + ph + 14.0
        );
    }
    for k in 0..=ly as i32 {
        let y = py(10f64.powi(k));
        let _ = write!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">1e{k}</text>"##,
            l + pw,
            l - 4.0,
            y + 3.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">word tokens N</text><text x="12" y="{}" font-size="10" transform="rotate(-90 12 {})" text-anchor="middle">word types V(N)</text>"#,
        l + pw / 2.0,
        h - 4.0,
        t + ph / 2.0,
        t + ph / 2.0
    );
    for (name, color, pts) in series {
        let d: Vec<String> = pts
            .iter()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        if d.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            r#"<polyline class="curve" fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            d.join(" "),
            esc(name)
        );
    }
    let names: Vec<(&str, &str)> = series
        .iter()
        .map(|s| (s.0.as_str(), s.1.as_str()))
        .collect();
    s.push_str(&legend(&names, l, 34.0));
    s.push_str("</svg></figure>\n");
    s
}

fn subjects(m: &Value) -> Vec<(&'static str, &'static str, &Value)> {
    let mut v = vec![
        ("synthetic", C_SYN, &m["synthetic"]),
        ("seed", C_SEED, &m["seed"]),
    ];
    if m["heldout"].is_object() {
        v.push(("held-out", C_HELD, &m["heldout"]));
    }
    v
}

fn shares(counts: &Value) -> Vec<f64> {
    let c: Vec<f64> = counts
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
    let total: f64 = c.iter().sum();
    c.iter()
        .map(|x| if total > 0.0 { x / total } else { 0.0 })
        .collect()
}

fn length_plot(m: &Value, key: &str) -> String {
    let subs = subjects(m);
    let hists: Vec<(&str, &str, Vec<f64>, Vec<f64>)> = subs
        .iter()
        .map(|(n, c, v)| {
            let h = &v["likeness"][key]["histogram"];
            let edges: Vec<f64> = h["edges"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            (*n, *c, edges, shares(&h["counts"]))
        })
        .collect();
    let nb = hists.iter().map(|h| h.3.len()).max().unwrap_or(0);
    let used: Vec<usize> = (0..nb)
        .filter(|&i| {
            hists
                .iter()
                .any(|h| h.3.get(i).copied().unwrap_or(0.0) > 0.0)
        })
        .collect();
    let (lo, hi) = match (used.first(), used.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => (0, 0),
    };
    let edges = hists.first().map(|h| h.2.clone()).unwrap_or_default();
    let cats: Vec<String> = (lo..=hi)
        .map(|i| {
            let a = edges.get(i).copied().unwrap_or(0.0);
            let b = edges.get(i + 1).copied().unwrap_or(f64::INFINITY);
            if b - a <= 1.0 {
                format!("{a}")
            } else {
                format!("{a}–{}", b - 1.0)
            }
        })
        .collect();
    let series: Vec<Series> = hists
        .iter()
        .map(|h| Series {
            name: h.0.to_string(),
            color: h.1.to_string(),
            values: (lo..=hi)
                .map(|i| h.3.get(i).copied().unwrap_or(0.0))
                .collect(),
        })
        .collect();
    bar_chart(
        &format!("length-{key}"),
        &format!("Length in {key} per document (share of documents)"),
        &cats,
        &series,
        "share of documents",
    )
}

fn map_keys(vals: &[&Value]) -> Vec<String> {
    let mut keys: Vec<String> = vals
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|o| o.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn map_plot(m: &Value, path: &str, name: &str, title: &str, y: &str) -> Option<String> {
    let subs = subjects(m);
    let maps: Vec<&Value> = subs
        .iter()
        .map(|(_, _, v)| path.split('.').fold(*v, |acc, k| &acc[k]))
        .collect();
    if maps.iter().all(|v| !v.is_object()) {
        return None;
    }
    let cats = map_keys(&maps);
    let series = subs
        .iter()
        .zip(&maps)
        .map(|((n, c, _), mv)| Series {
            name: n.to_string(),
            color: c.to_string(),
            values: cats.iter().map(|k| mv[k].as_f64().unwrap_or(0.0)).collect(),
        })
        .collect::<Vec<_>>();
    Some(bar_chart(name, title, &cats, &series, y))
}

fn group_plot(j: &Value, dim: &str) -> Option<String> {
    let groups = j["breakdowns"][dim].as_object()?;
    let metrics: &[(&str, &str)] = &[
        ("distinct-2", "metrics.diversity.distinct_words.2"),
        ("Self-BLEU", "metrics.diversity.self_bleu.value"),
        ("MATTR", "metrics.diversity.mattr"),
        ("LID target", "metrics.fidelity.lid.target_share"),
        ("word list", "metrics.fidelity.wordlist.target_coverage"),
        ("verbatim", "metrics.leakage.verbatim_copy_rate"),
        ("4-gram overlap", "metrics.leakage.ngram_overlap.4"),
        ("3-gram JSD", "metrics.likeness.char_jsd_vs_seed.3"),
    ];
    let cats: Vec<String> = metrics.iter().map(|m| m.0.to_string()).collect();
    let mut series: Vec<Series> = groups
        .iter()
        .enumerate()
        .map(|(i, (g, v))| Series {
            name: g.clone(),
            color: PALETTE[i % PALETTE.len()].to_string(),
            values: metrics
                .iter()
                .map(|(_, p)| lookup(v, p).unwrap_or(0.0))
                .collect(),
        })
        .collect();
    let seed = &j["metrics"]["seed"];
    series.push(Series {
        name: "seed (real)".into(),
        color: C_SEED.into(),
        values: metrics
            .iter()
            .map(|(_, p)| lookup(seed, p.strip_prefix("metrics.").unwrap_or(p)).unwrap_or(0.0))
            .collect(),
    });
    Some(bar_chart(
        &format!("per-{dim}"),
        &format!("Per {dim}: key metrics beside the seed"),
        &cats,
        &series,
        "value",
    ))
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1320px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;vertical-align:top}th{background:#f4f4f4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #eee;padding:4px}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.skip{color:#9a6700}
#samples td.text{max-width:640px;white-space:pre-wrap}
.flag{background:#ffebe9;border-radius:3px;padding:0 4px;margin-right:3px;font-size:11px}
.note{color:#555;font-size:13px}
"#;

const SCRIPT: &str = r#"
(function(){
  var q=document.getElementById('filter'), rows=document.querySelectorAll('#samples tbody tr'),
      shown=document.getElementById('shown');
  function apply(){
    var s=(q.value||'').toLowerCase(), n=0;
    for(var i=0;i<rows.length;i++){
      var ok=!s||rows[i].textContent.toLowerCase().indexOf(s)>=0;
      rows[i].style.display=ok?'':'none'; if(ok)n++;
    }
    shown.textContent=n+' of '+rows.length+' samples shown';
  }
  q.addEventListener('input',apply); apply();
  document.body.setAttribute('data-ready','1');
})();
"#;

/// Render the HTML report.
pub fn render(r: &EvalReport) -> String {
    let j = r.to_json();
    let m = &j["metrics"];
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>synthcorpus evaluation: {}</title><style>{STYLE}</style></head>\n<body data-ready=\"0\">\n",
        esc(&r.inputs.corpus.path)
    );
    let _ = write!(
        h,
        "<h1>Evaluation of <code>{}</code></h1>\n<p>Language <b>{}</b> ({}), {} documents from <code>{}</code> ({}); seed <code>{}</code> ({} documents); held-out {}. Language identifier: {}. {}</p>\n",
        esc(&r.inputs.corpus.path),
        esc(&r.lang),
        esc(&r.script),
        r.inputs.corpus.documents,
        esc(&r.inputs.corpus.file),
        esc(&r.inputs.corpus.kind),
        esc(&r.inputs.seed.path),
        r.inputs.seed.documents,
        r.inputs
            .heldout
            .as_ref()
            .map_or("none".to_string(), |x| format!("<code>{}</code> ({} documents)", esc(&x.path), x.documents)),
        esc(r.inputs.lid_model.as_deref().unwrap_or("none (LID metrics absent)")),
        esc(&r.tool)
    );
    if let Some(passed) = r.passed {
        let _ = write!(
            h,
            "<h2 id=\"gates\">Gates: <span class=\"{}\">{}</span></h2>\n<table id=\"gates-table\"><thead><tr><th>gate</th><th>metric</th><th>value</th><th>condition</th><th>status</th></tr></thead><tbody>\n",
            if passed { "pass" } else { "fail" },
            if passed { "PASSED" } else { "FAILED" }
        );
        for g in &r.gates {
            let cls = match g.status.as_str() {
                "passed" => "pass",
                "failed" => "fail",
                _ => "skip",
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td><td class=\"{cls}\">{}{}</td></tr>",
                esc(&g.name),
                esc(&g.metric),
                fmt(g.value),
                esc(&g.condition),
                esc(&g.status),
                g.note.as_ref().map_or(String::new(), |n| format!(" ({})", esc(n)))
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("<h2 id=\"summary\">Synthetic beside real</h2>\n<table id=\"summary-table\"><thead><tr><th>metric</th><th>synthetic</th><th>seed</th><th>held-out</th></tr></thead><tbody>\n");
    for (label, path) in HEADLINE {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(label),
            cell(m.get("synthetic"), path),
            cell(m.get("seed"), path),
            cell(m.get("heldout"), path)
        );
    }
    h.push_str("</tbody></table>\n<p class=\"note\">Definitions and references: <code>evals/README.md</code>. Machine-readable: <code>eval.json</code>.</p>\n");

    h.push_str("<h2 id=\"plots\">Figures</h2>\n<div class=\"plots\">\n");
    for k in ["graphemes", "words", "sentences"] {
        h.push_str(&length_plot(m, k));
    }
    if m["synthetic"]["fidelity"]["lid"].is_object() {
        let subs = subjects(m);
        let cats: Vec<String> = (0..10)
            .map(|i| format!("{:.1}–{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0))
            .collect();
        let series: Vec<Series> = subs
            .iter()
            .map(|(n, c, v)| Series {
                name: n.to_string(),
                color: c.to_string(),
                values: shares(&v["fidelity"]["lid"]["target_score_histogram"]["counts"]),
            })
            .collect();
        h.push_str(&bar_chart(
            "lid-score",
            &format!("LID score of `{}` (share of documents)", r.lang),
            &cats,
            &series,
            "share of documents",
        ));
        if let Some(p) = map_plot(
            m,
            "fidelity.lid.top1",
            "lid-confusion",
            "LID top-1 language (share of documents)",
            "share of documents",
        ) {
            h.push_str(&p);
        }
    } else {
        h.push_str("<p class=\"note\" id=\"lid-absent\">No language identifier was given: the LID score distribution and confusion plots are absent.</p>\n");
    }
    if let Some(p) = map_plot(
        m,
        "fidelity.wordlist.coverage",
        "wordlist-coverage",
        "Word-list coverage per language (share of word tokens)",
        "share of tokens",
    ) {
        h.push_str(&p);
    }
    if let Some(p) = map_plot(
        m,
        "fidelity.charset.special_letters",
        "special-letters",
        "Special letters per 1,000 letters",
        "per 1,000 letters",
    ) {
        h.push_str(&p);
    }
    let mut curves: Vec<Curve> = subjects(m)
        .iter()
        .map(|(n, c, v)| {
            (
                n.to_string(),
                c.to_string(),
                growth(&v["diversity"]["vocabulary"]["growth"]),
            )
        })
        .collect();
    if let Some(groups) = j["breakdowns"]["model"].as_object() {
        for (i, (g, v)) in groups.iter().enumerate() {
            curves.push((
                format!("model {g}"),
                PALETTE[(i + 1) % PALETTE.len()].to_string(),
                growth(&v["metrics"]["diversity"]["vocabulary"]["growth"]),
            ));
        }
    }
    h.push_str(&log_line_chart(
        "vocab-growth",
        "Vocabulary growth (log-log)",
        &curves,
    ));
    if let Some(u) = &r.metrics.usefulness {
        let cats = vec![
            "(a) seed".to_string(),
            "(b) synthetic".to_string(),
            "(c) seed + synthetic".to_string(),
        ];
        let vals = vec![
            u.perplexity_seed.unwrap_or(0.0),
            u.perplexity_synthetic.unwrap_or(0.0),
            u.perplexity_combined.unwrap_or(0.0),
        ];
        h.push_str(&bar_chart(
            "usefulness",
            &format!(
                "Perplexity on held-out real text (char {}-gram; lower is better)",
                u.order
            ),
            &cats,
            &[Series {
                name: "perplexity".into(),
                color: C_HELD.into(),
                values: vals,
            }],
            "perplexity",
        ));
    }
    for dim in ["model", "template"] {
        if let Some(p) = group_plot(&j, dim) {
            h.push_str(&p);
        }
    }
    h.push_str("</div>\n");

    for (dim, groups) in j["breakdowns"].as_object().cloned().unwrap_or_default() {
        let Some(groups) = groups.as_object() else {
            continue;
        };
        let _ = write!(
            h,
            "<h2 id=\"per-{d}\">Per {d}</h2>\n<table class=\"breakdown\" id=\"breakdown-{d}\"><thead><tr><th>metric</th>",
            d = esc(&dim)
        );
        for g in groups.keys() {
            let _ = write!(h, "<th>{}</th>", esc(g));
        }
        h.push_str("<th>seed</th></tr></thead><tbody>\n");
        for (label, path) in HEADLINE {
            let _ = write!(h, "<tr><td>{}</td>", esc(label));
            for v in groups.values() {
                let _ = write!(
                    h,
                    "<td class=\"num\">{}</td>",
                    fmt(lookup(&v["metrics"], path))
                );
            }
            let _ = writeln!(
                h,
                "<td class=\"num\">{}</td></tr>",
                fmt(get(m.get("seed"), path))
            );
        }
        let _ = write!(h, "<tr><td>perplexity (c) seed + group</td>");
        for v in groups.values() {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                fmt(lookup(v, "usefulness.perplexity_combined"))
            );
        }
        let _ = writeln!(
            h,
            "<td class=\"num\">{}</td></tr>",
            fmt(get(m.get("usefulness"), "perplexity_seed"))
        );
        h.push_str("</tbody></table>\n");
    }

    let _ = write!(
        h,
        "<h2 id=\"sample-table\">Samples</h2>\n<p class=\"note\">A seeded sample of {} of {} documents. Flags: {}.</p>\n<p><input id=\"filter\" type=\"search\" placeholder=\"filter: text, model, flag...\" size=\"40\"> <span id=\"shown\">{} samples</span></p>\n",
        r.table.len(),
        r.inputs.corpus.documents,
        r.flags
            .iter()
            .map(|(k, v)| format!("{} {}", esc(k), v))
            .collect::<Vec<_>>()
            .join(", "),
        r.table.len()
    );
    h.push_str("<table id=\"samples\"><thead><tr><th>id</th><th>model</th><th>template</th><th>labels</th><th>curation</th><th>text</th><th>graphemes</th><th>words</th><th>LID</th><th>shared span</th><th>verdict</th></tr></thead><tbody>\n");
    for row in &r.table {
        let labels: Vec<String> = row
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
            .collect();
        let lid = match (&row.lid_top, row.lid_target) {
            (Some((l, s)), Some(t)) => format!("{} {:.2} (target {:.2})", esc(l), s, t),
            _ => "–".into(),
        };
        let verdict = if row.flags.is_empty() {
            "<span class=\"pass\">ok</span>".to_string()
        } else {
            row.flags
                .iter()
                .map(|f| format!("<span class=\"flag\">{}</span>", esc(f)))
                .collect::<String>()
        };
        let _ = writeln!(
            h,
            "<tr data-id=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}{}</td><td>{}</td></tr>",
            esc(&row.id),
            esc(&truncate(&row.id, 24)),
            esc(row.model.as_deref().unwrap_or("–")),
            esc(row.template.as_deref().unwrap_or("–")),
            labels.join("<br>"),
            esc(row.verdict.as_deref().unwrap_or("–")),
            esc(&truncate(&row.text, 1200)),
            row.graphemes,
            row.words,
            lid,
            row.span,
            if row.verbatim { " (verbatim)" } else { "" },
            verdict
        );
    }
    h.push_str("</tbody></table>\n");
    if !r.notes.is_empty() {
        h.push_str("<h2 id=\"notes\">Notes</h2><ul>\n");
        for n in &r.notes {
            let _ = writeln!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>\n");
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

fn growth(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn bar_chart_is_svg_with_bars() {
        let s = bar_chart(
            "t",
            "T",
            &["a".into(), "b".into()],
            &[Series {
                name: "s".into(),
                color: C_SYN.into(),
                values: vec![0.5, 1.0],
            }],
            "y",
        );
        assert!(s.contains("data-plot=\"t\""));
        assert_eq!(s.matches("class=\"bar\"").count(), 2);
    }
}
