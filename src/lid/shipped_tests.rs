//! Tests against the shipped model and the shared UDHR data (skipped when the data is absent).

use std::path::{Path, PathBuf};

use super::*;

fn udhr_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/udhr");
    if p.join("INDEX.tsv").is_file() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

fn shipped() -> LidModel {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_PATH);
    match LidModel::load(&p) {
        Ok(m) => m,
        Err(e) => panic!("shipped model {}: {e}", p.display()),
    }
}

fn sa() -> Vec<String> {
    SOUTH_AFRICAN.iter().map(|s| s.to_string()).collect()
}

#[test]
fn shipped_model_identifies_heldout_south_african_paragraphs() {
    let Some(dir) = udhr_dir() else { return };
    let m = shipped();
    let files = read_corpus_dir(&dir).unwrap();
    let rule = m.meta().config.holdout;
    for f in files
        .iter()
        .filter(|f| SOUTH_AFRICAN.contains(&f.lang.as_str()))
    {
        for (i, line) in f.lines.iter().enumerate() {
            // Whole held-out paragraphs of 40+ characters: every one must be right, at the full
            // label set and at the South African one.
            if !rule.is_heldout(i + 1) || line.chars().count() < 40 {
                continue;
            }
            let full = m.identify(line, None);
            assert_eq!(full[0].lang, f.lang, "{}:{}: {line}", f.name, i + 1);
            let restricted = m.identify(line, Some(&sa()));
            assert_eq!(restricted[0].lang, f.lang, "{}:{}: {line}", f.name, i + 1);
        }
    }
}

#[test]
fn shipped_model_sentence_accuracy_on_heldout() {
    let Some(dir) = udhr_dir() else { return };
    let m = shipped();
    let files = read_corpus_dir(&dir).unwrap();
    let samples = heldout_sentences(&files, m.meta().config.holdout, Some(&sa()), &[]);
    let rep = evaluate(&m, &samples, Some(&sa())).unwrap();
    assert!(rep.accuracy >= 0.97, "restricted accuracy {}", rep.accuracy);
    let ven = &rep.per_lang["ven"];
    assert!(ven.f1 >= 0.99, "ven F1 {}", ven.f1);
    for (lang, p) in &rep.per_lang {
        assert!(p.f1 >= 0.9, "{lang} F1 {}", p.f1);
    }
}

/// The shipped model's configuration, checked against `lid/sa-weighting.tsv`.
fn shipped_config() -> TrainConfig {
    let m = shipped();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = m.meta().config.clone();
    cfg.boosts = read_weighting(&root.join(DEFAULT_WEIGHTING_PATH)).unwrap();
    assert_eq!(
        cfg,
        m.meta().config,
        "lid/sa-weighting.tsv differs from the shipped model's"
    );
    cfg
}

/// The shipped configuration (fine-tuning included) trained twice on a slice of the data (the
/// South African languages and a few others) gives the same bytes. The full retraining below
/// takes minutes in the test profile, so it is opt-in.
#[test]
fn shipped_configuration_trains_deterministically() {
    let Some(dir) = udhr_dir() else { return };
    let cfg = shipped_config();
    let keep = ["nld", "sco", "pcm", "nya", "sna", "loz", "nde"];
    let files: Vec<_> = read_corpus_dir(&dir)
        .unwrap()
        .into_iter()
        .filter(|f| SOUTH_AFRICAN.contains(&f.lang.as_str()) || keep.contains(&f.lang.as_str()))
        .collect();
    let inputs = TrainInputs {
        files,
        wordlists: Default::default(),
    };
    let a = LidModel::train(&cfg, &inputs).unwrap().to_bytes().unwrap();
    let b = LidModel::train(&cfg, &inputs).unwrap().to_bytes().unwrap();
    assert!(a == b, "two trainings of the same data differ");
}

/// Retrains the shipped model from the shared data and compares with `lid/udhr-lid.bin`
/// (`cargo test --release retraining_gives -- --ignored`; about 1.5 min in release).
#[test]
#[ignore = "retrains the fine-tuned shipped model: minutes in the test profile"]
fn retraining_gives_a_byte_identical_model() {
    let Some(dir) = udhr_dir() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = shipped_config();
    let inputs = TrainInputs {
        files: read_corpus_dir(&dir).unwrap(),
        wordlists: Default::default(),
    };
    let a = LidModel::train(&cfg, &inputs).unwrap().to_bytes().unwrap();
    let shipped_bytes = std::fs::read(root.join(DEFAULT_MODEL_PATH)).unwrap();
    assert!(
        a == shipped_bytes,
        "retrained model differs from lid/udhr-lid.bin"
    );
}

#[test]
fn shipped_model_bad_inputs() {
    let m = shipped();
    assert!(m.identify("", None).is_empty());
    assert!(m.identify("12345 ... !!!", None).is_empty());
    // Runic is in no UDHR translation.
    assert_eq!(m.no_opinion("ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾ"), Some(NoOpinion::UnseenScript));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.bin");
    let mut bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_PATH)).unwrap();
    let n = bytes.len();
    bytes[n / 3] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let e = LidModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.bin") && e.contains("checksum"), "{e}");
    let e = LidModel::load(&dir.path().join("missing.bin"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.bin"), "{e}");
}
