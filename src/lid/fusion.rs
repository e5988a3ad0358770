//! Prediction-time fusion of the word-list signal with the n-gram model, among close neighbours.
//!
//! The n-gram model is at its weakest between close relatives (Nguni: nbl, ssw, xho, zul;
//! Sotho-Tswana: nso, sot, tsn), where most n-grams are shared. The FineWeb-2 word lists
//! ([`WordLists`]) are an independent signal there: whether each word of the text is in each
//! neighbour's list. [`FusedLid`] adds it to the model's scores only when the model's best
//! language is in such a group, and re-ranks.
//!
//! The word-list evidence is a small generative model of its own. For a group of `k` languages
//! with lists, each word of a text has a *pattern*: the set of the group's lists that contain it
//! (one of `2^k`). [`FusionTables::fit`] estimates `P(pattern | language)` for every member from
//! that language's training lines (the lines the model trained on; add-`smoothing` counts), so a
//! large list (xho: 22,536 words) is not favoured over a small one (sot: 716). A text's word-list
//! log-likelihood under member `m` is `L_m = sum over its words of ln P(pattern(w) | m)`. The
//! model's raw scores are over-confident by its calibration divisor `T * n^g` (`n` the text's
//! feature count; [`super::ModelMeta::temperature`]), so the evidence joins them at that scale:
//! the fused score of member `m` is the raw score plus
//! `T * n^g * lambda * (L_m - mean of L over the group)` (centred, so that the group as a whole
//! neither gains nor loses against other languages). `lambda` (per group) weighs the two signals:
//! 1 treats the word lists as independent evidence as confident as the calibrated model; it is
//! chosen on the development split, never on the test lines (`lid/TRAINING.md`, "Word-list
//! fusion").
//!
//! Deterministic: the tables are sorted maps fitted in file order, and scoring is a fixed sum.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::data::{read_text, sha256_hex, CorpusFile, HoldoutRule};
use super::features::{normalise, Extractor};
use super::model::{argmax, LidModel};
use super::wordlists::WordLists;
use super::{LidError, Result};
use crate::types::{LangScore, LanguageIdentifier};

/// Version of the fusion tables file.
pub const FUSION_FORMAT: u32 = 1;

/// The Nguni languages of South Africa (all with a FineWeb-2 word list).
pub const NGUNI: [&str; 4] = ["nbl", "ssw", "xho", "zul"];

/// The Sotho-Tswana languages of South Africa (all with a FineWeb-2 word list).
pub const SOTHO_TSWANA: [&str; 3] = ["nso", "sot", "tsn"];

/// The Nguni group's weight, chosen on the development split (`lid/TRAINING.md`).
pub const NGUNI_LAMBDA: f64 = 1.0;

/// The Sotho-Tswana group's weight, chosen on the development split (`lid/TRAINING.md`).
pub const SOTHO_TSWANA_LAMBDA: f64 = 0.0625;

/// Additive smoothing of the pattern counts in [`FusionTables::fit`] (Jeffreys prior).
pub const DEFAULT_SMOOTHING: f64 = 0.5;

/// Most members of one group (a group has `2^k` patterns).
pub const MAX_GROUP: usize = 8;

/// The word-list model of one group of close neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionGroup {
    /// Member languages, sorted; bit `i` of a pattern means "in `langs[i]`'s list".
    pub langs: Vec<String>,
    /// Per member: `ln P(pattern | member)` for each of the `2^k` patterns.
    pub log_probs: BTreeMap<String, Vec<f64>>,
    /// Per member: the training words the probabilities were estimated from.
    pub words: BTreeMap<String, usize>,
    /// Weight of the group's word-list log-likelihood against the model's calibrated scores
    /// (1: as independent evidence of the same confidence; 0: fusion off for the group).
    pub lambda: f64,
}

impl FusionGroup {
    /// The pattern of a normalised word: bit `i` set when `langs[i]`'s list contains it.
    fn pattern(&self, lists: &WordLists, word: &str) -> usize {
        self.langs
            .iter()
            .enumerate()
            .filter(|(_, l)| lists.contains(l, word))
            .fold(0, |p, (i, _)| p | (1 << i))
    }
}

/// Everything the fusion needs besides the model and the word lists; saved as JSON
/// (`lid/fusion.json` for the shipped model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionTables {
    /// [`FUSION_FORMAT`].
    pub format: u32,
    /// Id of the model the tables were fitted for (its training lines; checked on use).
    pub model_id: String,
    /// The model's held-out rule: the lines not held out were counted.
    pub holdout: HoldoutRule,
    /// Additive smoothing of the pattern counts.
    pub smoothing: f64,
    /// The groups of close neighbours.
    pub groups: Vec<FusionGroup>,
    /// SHA-256 of each member's word-list file (empty for in-memory lists).
    pub wordlists: BTreeMap<String, String>,
}

impl FusionTables {
    /// Fit the pattern probabilities of `groups` (members and weight `lambda` each) on the lines
    /// of `files` that `model` trained on (the lines its held-out rule does not hold out).
    pub fn fit(
        model: &LidModel,
        files: &[CorpusFile],
        lists: &WordLists,
        groups: &[(Vec<String>, f64)],
    ) -> Result<Self> {
        let holdout = model.meta().config.holdout;
        let smoothing = DEFAULT_SMOOTHING;
        let mut seen: Vec<String> = Vec::new();
        let mut out_groups = Vec::new();
        let mut hashes = BTreeMap::new();
        for (g, lambda) in groups {
            check_lambda(*lambda)?;
            let mut langs = g.clone();
            langs.sort();
            langs.dedup();
            if langs.len() < 2 || langs.len() > MAX_GROUP {
                return Err(LidError::Config(format!(
                    "fusion group {}: needs 2 to {MAX_GROUP} languages",
                    langs.join(",")
                )));
            }
            model.check_labels(&langs)?;
            for l in &langs {
                if seen.contains(l) {
                    return Err(LidError::Config(format!(
                        "language `{l}` is in two fusion groups"
                    )));
                }
                if !lists.has(l) {
                    return Err(LidError::Config(format!("no word list for `{l}`")));
                }
                hashes.insert(l.clone(), lists.sha256(l).unwrap_or_default().to_string());
            }
            seen.extend(langs.iter().cloned());
            let mut group = FusionGroup {
                langs: langs.clone(),
                log_probs: BTreeMap::new(),
                words: BTreeMap::new(),
                lambda: *lambda,
            };
            let patterns = 1usize << langs.len();
            for l in &langs {
                let mut counts = vec![0u64; patterns];
                for f in files.iter().filter(|f| &f.lang == l) {
                    for (i, line) in f.lines.iter().enumerate() {
                        if holdout.is_heldout(i + 1) {
                            continue;
                        }
                        for w in normalise(line).split(' ').filter(|w| !w.is_empty()) {
                            counts[group.pattern(lists, w)] += 1;
                        }
                    }
                }
                let total: u64 = counts.iter().sum();
                if total == 0 {
                    return Err(LidError::Config(format!(
                        "no training text for fusion language `{l}`"
                    )));
                }
                let denom = total as f64 + smoothing * patterns as f64;
                let lp = counts
                    .iter()
                    .map(|&c| ((c as f64 + smoothing) / denom).ln())
                    .collect();
                group.log_probs.insert(l.clone(), lp);
                group.words.insert(l.clone(), total as usize);
            }
            out_groups.push(group);
        }
        Ok(FusionTables {
            format: FUSION_FORMAT,
            model_id: model.id().to_string(),
            holdout,
            smoothing,
            groups: out_groups,
            wordlists: hashes,
        })
    }

    /// Write the tables as JSON (pretty, trailing newline).
    pub fn save(&self, path: &Path) -> Result<()> {
        let s = serde_json::to_string_pretty(self)
            .map_err(|e| LidError::Config(format!("fusion tables do not serialise: {e}")))?;
        std::fs::write(path, s + "\n").map_err(|error| LidError::Io {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Read tables written by [`FusionTables::save`], checking their shape.
    pub fn load(path: &Path) -> Result<Self> {
        let (text, _) = read_text(path)?;
        let bad = |reason: String| LidError::Format {
            path: path.to_path_buf(),
            line: 0,
            reason,
        };
        let t: FusionTables =
            serde_json::from_str(&text).map_err(|e| bad(format!("fusion tables: {e}")))?;
        if t.format != FUSION_FORMAT {
            return Err(bad(format!(
                "fusion tables format {}, this build reads {FUSION_FORMAT}",
                t.format
            )));
        }
        t.check().map_err(bad)?;
        Ok(t)
    }

    fn check(&self) -> std::result::Result<(), String> {
        for g in &self.groups {
            if !g.lambda.is_finite() || g.lambda < 0.0 {
                return Err(format!(
                    "group {}: lambda must be a finite number >= 0",
                    g.langs.join(",")
                ));
            }
            if g.langs.len() < 2 || g.langs.len() > MAX_GROUP {
                return Err(format!(
                    "group {}: 2 to {MAX_GROUP} languages",
                    g.langs.join(",")
                ));
            }
            for l in &g.langs {
                let ok = g.log_probs.get(l).is_some_and(|v| {
                    v.len() == 1 << g.langs.len() && v.iter().all(|x| x.is_finite() && *x <= 0.0)
                });
                if !ok {
                    return Err(format!(
                        "group {}: bad probabilities for `{l}`",
                        g.langs.join(",")
                    ));
                }
            }
        }
        Ok(())
    }

    /// A short content hash of the tables (their JSON), for identifiers.
    pub fn digest(&self) -> String {
        let s = serde_json::to_string(self).unwrap_or_default();
        sha256_hex(s.as_bytes())[..16].to_string()
    }
}

fn check_lambda(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(LidError::Config(format!(
            "fusion lambda {lambda}: must be a finite number >= 0"
        )))
    }
}

/// The model with the word-list signal fused in among close neighbours (see the module docs).
/// The plain model stays available through [`FusedLid::model`].
#[derive(Debug, Clone)]
pub struct FusedLid {
    model: Arc<LidModel>,
    lists: WordLists,
    tables: FusionTables,
    /// Per model language: its group, if any.
    group_of: Vec<Option<usize>>,
    /// Per group: the members' model indices, in the group's order.
    members: Vec<Vec<usize>>,
    id: String,
}

impl FusedLid {
    /// Combine; fails when the tables were fitted for another model, name a language the model
    /// lacks, or were fitted on other word-list files than `lists`.
    pub fn new(model: Arc<LidModel>, lists: WordLists, tables: FusionTables) -> Result<Self> {
        if tables.model_id != model.id() {
            return Err(LidError::Config(format!(
                "fusion tables were fitted for model {}, not {} (refit them with `synthcorpus lid fuse`)",
                tables.model_id,
                model.id()
            )));
        }
        tables.check().map_err(LidError::Config)?;
        let mut group_of = vec![None; model.langs().len()];
        let mut members = Vec::new();
        for (gi, g) in tables.groups.iter().enumerate() {
            let mut idx = Vec::new();
            for l in &g.langs {
                let i = model
                    .langs()
                    .binary_search(l)
                    .map_err(|_| LidError::UnknownLanguage(l.clone()))?;
                if !lists.has(l) {
                    return Err(LidError::Config(format!("no word list for `{l}`")));
                }
                let want = tables.wordlists.get(l).map_or("", String::as_str);
                if let Some(have) = lists.sha256(l) {
                    if !want.is_empty() && want != have {
                        return Err(LidError::Config(format!(
                            "word list of `{l}` has sha256 {have}, the fusion tables were fitted on {want}"
                        )));
                    }
                }
                group_of[i] = Some(gi);
                idx.push(i);
            }
            members.push(idx);
        }
        let id = format!("{}+wordlists@{}", model.id(), tables.digest());
        Ok(Self {
            model,
            lists,
            tables,
            group_of,
            members,
            id,
        })
    }

    /// The same fusion with weight `lambda` for every group (for choosing it on a development
    /// split).
    pub fn with_lambda(mut self, lambda: f64) -> Result<Self> {
        check_lambda(lambda)?;
        for g in &mut self.tables.groups {
            g.lambda = lambda;
        }
        self.id = format!("{}+wordlists@{}", self.model.id(), self.tables.digest());
        Ok(self)
    }

    /// The plain model.
    pub fn model(&self) -> &LidModel {
        &self.model
    }

    /// The fusion tables.
    pub fn tables(&self) -> &FusionTables {
        &self.tables
    }

    /// Centred, weighted word-list log-likelihoods of normalised text for the members of group
    /// `g` (in the group's order).
    fn adjustment(&self, g: usize, normalised: &str) -> Vec<f64> {
        let group = &self.tables.groups[g];
        let mut ll = vec![0.0f64; group.langs.len()];
        for w in normalised.split(' ').filter(|w| !w.is_empty()) {
            let p = group.pattern(&self.lists, w);
            for (x, l) in ll.iter_mut().zip(&group.langs) {
                *x += group.log_probs.get(l).map_or(0.0, |v| v[p]);
            }
        }
        let mean = ll.iter().sum::<f64>() / ll.len() as f64;
        ll.iter().map(|x| group.lambda * (x - mean)).collect()
    }

    /// Fused raw scores of a text and its feature count; `None` for no opinion. The fusion
    /// applies when the model's best language among `restrict` (model indices; all when `None`)
    /// is in a group.
    fn fused(
        &self,
        text: &str,
        restrict: Option<&[usize]>,
        ex: &mut Extractor,
    ) -> Option<(Vec<f32>, usize)> {
        let norm = normalise(text);
        let (mut scores, n) = self.model.raw_scores(&norm, ex)?;
        if let Some(g) = argmax(&scores, restrict).and_then(|i| self.group_of[i]) {
            if self.tables.groups[g].lambda > 0.0 {
                // The raw scores are over-confident by the calibration divisor `T * n^g`; the
                // word-list evidence joins them at the same scale.
                let t = self.model.calibration_divisor(n);
                for (&i, a) in self.members[g].iter().zip(self.adjustment(g, &norm)) {
                    scores[i] += (a * t) as f32;
                }
            }
        }
        Some((scores, n))
    }

    /// The best language (model indices, as [`LidModel::best`]); `None` for no opinion.
    pub fn best(
        &self,
        text: &str,
        restrict: Option<&[usize]>,
        ex: &mut Extractor,
    ) -> Option<usize> {
        let (scores, _) = self.fused(text, restrict, ex)?;
        argmax(&scores, restrict)
    }

    /// Ranked languages with probabilities, as [`LidModel::identify`], from the fused scores.
    pub fn identify(&self, text: &str, restrict: Option<&[String]>) -> Vec<LangScore> {
        let mut ex = Extractor::new();
        self.identify_with(text, restrict, &mut ex)
    }

    /// [`FusedLid::identify`] with a reusable feature extractor.
    pub fn identify_with(
        &self,
        text: &str,
        restrict: Option<&[String]>,
        ex: &mut Extractor,
    ) -> Vec<LangScore> {
        let idx: Option<Vec<usize>> = restrict.map(|r| self.model.label_indices(r));
        let Some((scores, n)) = self.fused(text, idx.as_deref(), ex) else {
            return Vec::new();
        };
        self.model.rank(&scores, n, restrict)
    }
}

impl LanguageIdentifier for FusedLid {
    fn identify(&self, text: &str) -> Vec<LangScore> {
        FusedLid::identify(self, text, None)
    }
    fn model_id(&self) -> String {
        self.id.clone()
    }
}

/// The shipped groups and weights: [`NGUNI`] at [`NGUNI_LAMBDA`], [`SOTHO_TSWANA`] at
/// [`SOTHO_TSWANA_LAMBDA`].
pub fn default_groups() -> Vec<(Vec<String>, f64)> {
    vec![
        (NGUNI.iter().map(|s| s.to_string()).collect(), NGUNI_LAMBDA),
        (
            SOTHO_TSWANA.iter().map(|s| s.to_string()).collect(),
            SOTHO_TSWANA_LAMBDA,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lid::{TrainConfig, TrainInputs};

    fn file(lang: &str, lines: &[&str]) -> CorpusFile {
        CorpusFile {
            lang: lang.into(),
            name: format!("{lang}.txt"),
            sha256: "0".repeat(64),
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Two close toy languages sharing most words (`xxa`: words of A and S; `yya`: B and S) and
    /// an unrelated one.
    fn corpus() -> Vec<CorpusFile> {
        let xxa = [
            "kala mona brek tipa sewu",
            "mona kala vastu lomi tipa",
            "sewu brek lomi kala mona",
            "tipa vastu sewu mona brek",
            "lomi kala tipa vastu sewu",
            "brek mona lomi sewu kala",
            "vastu tipa kala lomi mona",
            "sewu lomi brek vastu tipa",
        ];
        let yya = [
            "kala mona nimo tipa sewu",
            "mona kala sadu lomi tipa",
            "sewu nimo lomi kala mona",
            "tipa sadu sewu mona nimo",
            "lomi kala tipa sadu sewu",
            "nimo mona lomi sewu kala",
            "sadu tipa kala lomi mona",
            "sewu lomi nimo sadu tipa",
        ];
        let eng = [
            "all human beings are born free and equal",
            "everyone has the right to life and liberty",
            "no one shall be held in slavery",
            "everyone has the right to freedom of movement",
            "all are equal before the law",
            "everyone has the right to own property",
            "everyone has the right to education",
            "the family is the natural unit of society",
        ];
        vec![file("eng", &eng), file("xxa", &xxa), file("yya", &yya)]
    }

    fn model() -> Arc<LidModel> {
        let inputs = TrainInputs {
            files: corpus(),
            wordlists: BTreeMap::new(),
        };
        let mut m = LidModel::train(&TrainConfig::default(), &inputs).unwrap();
        // The toy languages are separable, so the fitted temperature is at the grid's floor;
        // use the shipped model's calibration instead (T = 0.5, g = 0.75).
        m.set_calibration_for_tests(0.5, 0.75);
        Arc::new(m)
    }

    /// `xxa`'s list holds its own words and `extra`; `yya`'s holds its own.
    fn lists(extra_x: &[&str], extra_y: &[&str]) -> WordLists {
        let mut m = BTreeMap::new();
        let mut x = vec!["brek".to_string(), "vastu".to_string()];
        x.extend(extra_x.iter().map(|s| s.to_string()));
        let mut y = vec!["nimo".to_string(), "sadu".to_string()];
        y.extend(extra_y.iter().map(|s| s.to_string()));
        m.insert("xxa".to_string(), x);
        m.insert("yya".to_string(), y);
        WordLists::from_lists(m)
    }

    fn group(lambda: f64) -> Vec<(Vec<String>, f64)> {
        vec![(vec!["yya".into(), "xxa".into()], lambda)]
    }

    #[test]
    fn fit_estimates_pattern_probabilities_on_training_lines() {
        let m = model();
        let t = FusionTables::fit(&m, &corpus(), &lists(&[], &[]), &group(1.0)).unwrap();
        let g = &t.groups[0];
        // Members sorted: bit 0 is xxa's list, bit 1 yya's.
        assert_eq!(g.langs, vec!["xxa".to_string(), "yya".to_string()]);
        assert_eq!(t.model_id, m.id());
        for l in &g.langs {
            let p: Vec<f64> = g.log_probs[l].iter().map(|x| x.exp()).collect();
            assert_eq!(p.len(), 4);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        // Lines 1-8, line 5 held out: 7 lines of 5 words.
        assert_eq!(g.words["xxa"], 35);
        let (px, py) = (&g.log_probs["xxa"], &g.log_probs["yya"]);
        // A word in xxa's list only: likely under xxa, unlikely under yya; and vice versa.
        assert!(px[1] > py[1] + 2.0);
        assert!(py[2] > px[2] + 2.0);
        // Fitting is deterministic.
        let again = FusionTables::fit(&m, &corpus(), &lists(&[], &[]), &group(1.0)).unwrap();
        assert_eq!(t, again);
        assert_eq!(t.digest(), again.digest());
    }

    #[test]
    fn word_lists_decide_between_neighbours_and_leave_others_alone() {
        let m = model();
        let mut ex = Extractor::new();
        // Shared words only plus an unknown word: the n-grams cannot tell xxa from yya. The
        // word lists can: the same text goes to whichever list holds `zorbu`.
        let text = "kala mona tipa zorbu sewu lomi";
        for (extra_x, extra_y, want) in [(&["zorbu"][..], &[][..], "xxa"), (&[], &["zorbu"], "yya")]
        {
            let wl = lists(extra_x, extra_y);
            let t = FusionTables::fit(&m, &corpus(), &wl, &group(1.0)).unwrap();
            let f = FusedLid::new(m.clone(), wl, t).unwrap();
            let best = f.best(text, None, &mut ex).unwrap();
            assert_eq!(m.langs()[best], want);
            let ranked = f.identify(text, None);
            assert_eq!(ranked[0].lang, want);
            let sum: f64 = ranked.iter().map(|s| s.score).sum();
            assert!((sum - 1.0).abs() < 1e-6);
            // Restricted to the pair, the same answer.
            let pair = ["xxa".to_string(), "yya".to_string()];
            assert_eq!(f.identify(text, Some(&pair))[0].lang, want);
            // Text whose best language is outside the groups: as the plain model.
            let e = "everyone has the right to liberty";
            assert_eq!(f.identify(e, None), m.identify(e, None));
            // No opinion stays no opinion.
            assert!(f.identify("123 !!", None).is_empty());
            assert!(f.best("", None, &mut ex).is_none());
            // The adjustment is centred: the group's scores sum as before.
            let adj = f.adjustment(0, &normalise(text));
            assert!(adj.iter().sum::<f64>().abs() < 1e-9);
            // Weight 0: the plain model.
            let off = f.clone().with_lambda(0.0).unwrap();
            assert_eq!(off.identify(text, None), m.identify(text, None));
            assert_eq!(off.best(text, None, &mut ex), m.best(text, None, &mut ex));
            assert_ne!(off.model_id(), f.model_id());
        }
    }

    #[test]
    fn bad_groups_and_mismatches_are_errors() {
        let m = model();
        let wl = lists(&[], &[]);
        let fit = |g: Vec<(Vec<String>, f64)>| FusionTables::fit(&m, &corpus(), &wl, &g);
        let e = fit(vec![(vec!["xxa".into(), "zzz".into()], 1.0)]).unwrap_err();
        assert!(
            matches!(e, LidError::UnknownLanguage(ref l) if l == "zzz"),
            "{e}"
        );
        // eng has no word list.
        let e = fit(vec![(vec!["xxa".into(), "eng".into()], 1.0)]).unwrap_err();
        assert!(e.to_string().contains("no word list for `eng`"), "{e}");
        assert!(fit(vec![(vec!["xxa".into()], 1.0)]).is_err());
        assert!(fit(group(-1.0)).is_err());
        assert!(fit(group(f64::NAN)).is_err());
        let e = fit(vec![
            (vec!["xxa".into(), "yya".into()], 1.0),
            (vec!["yya".into(), "xxa".into()], 1.0),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("two fusion groups"), "{e}");
        // Tables of another model are refused.
        let mut t = fit(group(1.0)).unwrap();
        t.model_id = "other@0000".into();
        let e = FusedLid::new(m.clone(), wl.clone(), t).unwrap_err();
        assert!(e.to_string().contains("other@0000"), "{e}");
        assert!(
            FusedLid::new(m.clone(), wl.clone(), fit(group(1.0)).unwrap())
                .unwrap()
                .with_lambda(-0.5)
                .is_err()
        );
    }

    #[test]
    fn tables_round_trip_and_bad_files_are_refused() {
        let m = model();
        let t = FusionTables::fit(&m, &corpus(), &lists(&[], &[]), &group(0.5)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fusion.json");
        t.save(&p).unwrap();
        assert_eq!(FusionTables::load(&p).unwrap(), t);
        let mut bad = t.clone();
        bad.format = 99;
        bad.save(&p).unwrap();
        let e = FusionTables::load(&p).unwrap_err().to_string();
        assert!(e.contains("fusion.json") && e.contains("format 99"), "{e}");
        let mut bad = t.clone();
        bad.groups[0].log_probs.get_mut("xxa").unwrap().pop();
        bad.save(&p).unwrap();
        let e = FusionTables::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad probabilities for `xxa`"), "{e}");
        std::fs::write(&p, "{").unwrap();
        assert!(FusionTables::load(&p).is_err());
    }
}
