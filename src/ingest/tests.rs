use super::*;
use std::fs;
use tempfile::TempDir;

const META: &str = r#"
id = "test-ven"
lang = "ven"
script = "Latn"
name = "Test corpus"
source = "unit test"
licence = "CC0-1.0"
date = "2026-11-24"
provenance = "real"
"#;

fn corpus_dir(extra_meta: &str, files: &[(&str, &[u8])]) -> TempDir {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join(METADATA_FILE),
        format!("{META}{extra_meta}"),
    )
    .unwrap();
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn texts(c: &Corpus) -> Vec<&str> {
    c.documents.iter().map(|d| d.text.as_str()).collect()
}

#[test]
fn lines_format() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[(
            "a.txt",
            "Tshiteṅwa 1\n\n  Vhathu   vhoṱhe vha bebwa.\r\n".as_bytes(),
        )],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["Tshiteṅwa 1", "Vhathu vhoṱhe vha bebwa."]);
    assert_eq!(c.documents[1].line, 3);
    assert_eq!(c.documents[1].source, "a.txt");
    assert_eq!(c.documents[0].lang, "ven");
    assert_eq!(c.documents[0].script, "Latn");
    assert_eq!(c.documents[0].corpus, "test-ven");
    assert_eq!(c.documents[0].provenance, Provenance::Real);
    assert_eq!(c.documents[0].lineage_depth, 0);
    assert_eq!(
        c.documents[0].id,
        document_id("test-ven", "Tshiteṅwa 1"),
        "ids derive from corpus id and text"
    );
    let rec = &c.files["a.txt"];
    assert_eq!(rec.documents, 2);
    assert_eq!(
        rec.bytes,
        fs::metadata(dir.path().join("a.txt")).unwrap().len()
    );
    assert_eq!(
        rec.sha256,
        sha256_hex(&fs::read(dir.path().join("a.txt")).unwrap())
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn paragraphs_format() {
    let dir = corpus_dir(
        "format = \"paragraphs\"\n",
        &[(
            "a.txt",
            "\nNdima ya u thoma.\nI na mitaladzi mivhili.\n \t\nNdima ya vhuvhili.\n".as_bytes(),
        )],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(
        texts(&c),
        vec![
            "Ndima ya u thoma. I na mitaladzi mivhili.",
            "Ndima ya vhuvhili."
        ]
    );
    assert_eq!(c.documents[0].line, 2);
    assert_eq!(c.documents[1].line, 5);
    assert_eq!(
        sentences(&c.documents[0].text),
        vec!["Ndima ya u thoma.", "I na mitaladzi mivhili."]
    );
}

#[test]
fn jsonl_format_with_custom_field() {
    let dir = corpus_dir(
        "format = \"jsonl\"\ntext_field = \"body\"\n",
        &[(
            "a.jsonl",
            "{\"body\": \"Muthu muṅwe na muṅwe\", \"x\": 1}\n\n{\"body\": \"u na pfanelo\"}\n"
                .as_bytes(),
        )],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["Muthu muṅwe na muṅwe", "u na pfanelo"]);
    assert_eq!(c.documents[1].line, 3);
}

#[test]
fn jsonl_default_field_and_errors() {
    let dir = corpus_dir(
        "format = \"jsonl\"\n",
        &[("a.jsonl", b"{\"text\": \"ee\"}\n{\"other\": \"x\"}\n")],
    );
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(&e, IngestError::Field { line: 2, field, .. } if field == "text"),
        "{e}"
    );
    assert!(e.to_string().contains("a.jsonl:2: field `text` is missing"));

    let dir = corpus_dir("format = \"jsonl\"\n", &[("a.jsonl", b"{\"text\": 3}\n")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(e.to_string().contains("is not a string"), "{e}");

    let dir = corpus_dir("format = \"jsonl\"\n", &[("a.jsonl", b"{\"text\": \n")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(matches!(e, IngestError::Json { line: 1, .. }), "{e}");
}

#[test]
fn jsonl_empty_text_warns() {
    let dir = corpus_dir(
        "format = \"jsonl\"\n",
        &[("a.jsonl", b"{\"text\": \"  \"}\n{\"text\": \"ee\"}\n")],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["ee"]);
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("a.jsonl:1: empty text"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn tsv_format_with_custom_column() {
    let dir = corpus_dir(
        "format = \"tsv\"\ntext_column = \"sentence\"\n",
        &[(
            "a.tsv",
            "id\tsentence\tlabel\n1\tNdi a livhuwa.\tx\n2\tNdaa!\ty\n".as_bytes(),
        )],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["Ndi a livhuwa.", "Ndaa!"]);
    assert_eq!(c.documents[0].line, 2);
}

#[test]
fn tsv_errors_name_column_and_line() {
    let dir = corpus_dir("format = \"tsv\"\n", &[("a.tsv", b"id\tsentence\n1\tee\n")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(matches!(&e, IngestError::MissingColumn { column, .. } if column == "text"));
    assert!(e.to_string().contains("columns: id, sentence"), "{e}");

    let dir = corpus_dir("format = \"tsv\"\n", &[("a.tsv", b"id\ttext\n1\tee\n2\n")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::ShortRow {
                line: 3,
                found: 1,
                needed: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn files_are_read_in_name_order_and_filtered_by_extension() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[
            ("b.txt", b"second"),
            ("a.txt", b"first"),
            ("notes.md", b"not a corpus file"),
        ],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["first", "second"]);
    assert_eq!(c.files.keys().collect::<Vec<_>>(), vec!["a.txt", "b.txt"]);
}

#[test]
fn explicit_files_list() {
    let dir = corpus_dir(
        "format = \"lines\"\nfiles = [\"b.txt\"]\n",
        &[("b.txt", b"second"), ("a.txt", b"first")],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["second"]);

    let dir = corpus_dir("format = \"lines\"\nfiles = [\"../x.txt\"]\n", &[]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(&e, IngestError::InvalidField { field, .. } if field == "files"),
        "{e}"
    );
}

#[test]
fn corpus_toml_path_is_accepted() {
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"ee")]);
    let c = load_corpus(&dir.path().join(METADATA_FILE), &IngestOptions::default()).unwrap();
    assert_eq!(c.dir, dir.path());
}

#[test]
fn normalises_nfd_input() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[("a.txt", "Mulevhogut\u{032D}e\n".as_bytes())],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["Mulevhoguṱe"]);
}

#[test]
fn bom_is_ignored() {
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"\xEF\xBB\xBFee\n")]);
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["ee"]);
}

#[test]
fn ids_are_stable_and_distinct_and_duplicates_warn() {
    let files: &[(&str, &[u8])] = &[("a.txt", b"one\ntwo\nthree\n"), ("b.txt", b"two\nfour\n")];
    let dir = corpus_dir("format = \"lines\"\n", files);
    let c1 = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    let dir2 = corpus_dir("format = \"lines\"\n", files);
    let c2 = load_corpus(dir2.path(), &IngestOptions::default()).unwrap();
    let ids1: Vec<&str> = c1.documents.iter().map(|d| d.id.as_str()).collect();
    let ids2: Vec<&str> = c2.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids1, ids2, "same input, same ids, in another folder");
    assert_eq!(c1.content_sha256(), c2.content_sha256());
    let unique: std::collections::BTreeSet<_> = ids1.iter().collect();
    assert_eq!(unique.len(), ids1.len());
    assert_eq!(texts(&c1), vec!["one", "two", "three", "four"]);
    assert_eq!(c1.files["b.txt"].documents, 1);
    assert_eq!(c1.warnings.len(), 1);
    assert!(
        c1.warnings[0].contains("b.txt:1: duplicate of the document at a.txt:2"),
        "{:?}",
        c1.warnings
    );
}

#[test]
fn invalid_utf8_fails_with_offset() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[("a.txt", b"ok line\nbad \xFF here\n")],
    );
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(&e, IngestError::InvalidUtf8 { line: 2, offset: 12, path } if path.ends_with("a.txt")),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("a.txt:2: invalid UTF-8 at byte offset 12"));
}

#[test]
fn invalid_utf8_offset_counts_the_bom() {
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"\xEF\xBB\xBFab\xC3")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::InvalidUtf8 {
                line: 1,
                offset: 5,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn invalid_utf8_skip_warns() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[("a.txt", b"ok\n"), ("b.txt", b"\xC0\x80")],
    );
    let opts = IngestOptions {
        on_invalid_utf8: InvalidUtf8::Skip,
        ..IngestOptions::default()
    };
    let c = load_corpus(dir.path(), &opts).unwrap();
    assert_eq!(texts(&c), vec!["ok"]);
    assert_eq!(c.files["b.txt"].documents, 0);
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("b.txt:1: invalid UTF-8 at byte offset 0: file skipped"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn empty_corpus_is_an_error() {
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"\n  \n")]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(e, IngestError::EmptyCorpus { files: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("empty corpus"));

    let dir = corpus_dir("format = \"lines\"\n", &[]);
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(matches!(e, IngestError::NoFiles { .. }), "{e}");

    // Every file skipped for invalid UTF-8: still an empty corpus, not a silent success.
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"\xFF")]);
    let opts = IngestOptions {
        on_invalid_utf8: InvalidUtf8::Skip,
        ..IngestOptions::default()
    };
    let e = load_corpus(dir.path(), &opts).unwrap_err();
    assert!(matches!(e, IngestError::EmptyCorpus { .. }), "{e}");
}

#[test]
fn an_empty_file_in_a_corpus_warns() {
    let dir = corpus_dir(
        "format = \"lines\"\n",
        &[("a.txt", b"ee\n"), ("b.txt", b"")],
    );
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("b.txt: no document"));
}

#[test]
fn missing_folder_and_metadata() {
    let dir = TempDir::new().unwrap();
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(matches!(e, IngestError::MissingMetadata { .. }), "{e}");
    let e = load_corpus(&dir.path().join("nope"), &IngestOptions::default()).unwrap_err();
    assert!(matches!(e, IngestError::Io { .. }), "{e}");
}

#[test]
fn language_mismatch_is_an_error_or_a_warning() {
    let dir = corpus_dir("format = \"lines\"\n", &[("a.txt", b"Sawubona\n")]);
    let opts = IngestOptions {
        target_lang: Some("zul".into()),
        ..IngestOptions::default()
    };
    let e = load_corpus(dir.path(), &opts).unwrap_err();
    assert!(
        matches!(&e, IngestError::LanguageMismatch { declared, target, .. } if declared == "ven" && target == "zul"),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("corpus language `ven` is not the target language `zul`"));

    let opts = IngestOptions {
        allow_lang_mismatch: true,
        ..opts
    };
    let c = load_corpus(dir.path(), &opts).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("`ven` is not the target language `zul`"));

    let opts = IngestOptions {
        target_lang: Some("ven".into()),
        ..IngestOptions::default()
    };
    assert!(load_corpus(dir.path(), &opts).unwrap().warnings.is_empty());
}

#[test]
fn unknown_metadata_field_is_rejected_by_name() {
    let dir = corpus_dir(
        "format = \"lines\"\nlanguage = \"ven\"\n",
        &[("a.txt", b"ee")],
    );
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(matches!(e, IngestError::Metadata { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("unknown field `language`"), "{msg}");
    assert!(msg.contains("corpus.toml:11"), "{msg}");
}

#[test]
fn missing_and_invalid_metadata_fields_are_named() {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join(METADATA_FILE),
        "id = \"x\"\nlang = \"ven\"\nformat = \"lines\"\n",
    )
    .unwrap();
    let e = load_corpus(dir.path(), &IngestOptions::default()).unwrap_err();
    assert!(e.to_string().contains("missing field `script`"), "{e}");

    let cases = [
        ("lang", "lang = \"ve\""),
        ("script", "script = \"latn\""),
        ("date", "date = \"24/11/2026\""),
        ("id", "id = \"a b\""),
        ("licence", "licence = \" \""),
    ];
    for (field, line) in cases {
        let key = line.split(" = ").next().unwrap();
        let meta: String = META
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} =")))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!("{meta}{line}\nformat = \"lines\"\n");
        let e = CorpusMeta::from_toml(&text, Path::new("c.toml")).unwrap_err();
        assert!(
            matches!(&e, IngestError::InvalidField { field: f, .. } if f == field),
            "{field}: {e}"
        );
        assert!(e.to_string().contains(&format!("field `{field}`")), "{e}");
    }

    let e = CorpusMeta::from_toml(
        &format!("{META}format = \"lines\"\ntext_field = \"body\"\n"),
        Path::new("c.toml"),
    )
    .unwrap_err();
    assert!(e
        .to_string()
        .contains("field `text_field`: only applies to format \"jsonl\""));

    let e = CorpusMeta::from_toml(&format!("{META}format = \"xml\"\n"), Path::new("c.toml"))
        .unwrap_err();
    assert!(e.to_string().contains("unknown variant `xml`"), "{e}");

    let real_depth = format!("{META}format = \"lines\"\nlineage_depth = 2\n");
    let e = CorpusMeta::from_toml(&real_depth, Path::new("c.toml")).unwrap_err();
    assert!(e.to_string().contains("field `lineage_depth`"), "{e}");
}

#[test]
fn synthetic_corpus_has_lineage_depth() {
    let meta = META.replace("provenance = \"real\"", "provenance = \"synthetic\"");
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join(METADATA_FILE),
        format!("{meta}format = \"lines\"\n"),
    )
    .unwrap();
    fs::write(dir.path().join("a.txt"), "ee\n").unwrap();
    let c = load_corpus(dir.path(), &IngestOptions::default()).unwrap();
    assert_eq!(c.documents[0].provenance, Provenance::Synthetic);
    assert_eq!(c.documents[0].lineage_depth, 1);
}

#[test]
fn metadata_round_trips() {
    let meta = CorpusMeta::from_toml(
        &format!("{META}format = \"tsv\"\ntext_column = \"s\"\n"),
        Path::new("c.toml"),
    )
    .unwrap();
    let text = toml::to_string(&meta).unwrap();
    assert_eq!(
        CorpusMeta::from_toml(&text, Path::new("c.toml")).unwrap(),
        meta
    );
}

#[test]
fn ad_hoc_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.tsv");
    fs::write(&path, "text\nNdi a livhuwa.\n").unwrap();
    let meta = CorpusMeta::new("adhoc", "ven", TextFormat::Tsv);
    let c = load_text_file(&path, &meta, &IngestOptions::default()).unwrap();
    assert_eq!(texts(&c), vec!["Ndi a livhuwa."]);
    assert_eq!(c.documents[0].source, "x.tsv");
    assert_eq!(c.dir, dir.path());
}

/// Every shipped corpus loads, declares its folder's language, and is not empty; its held-out
/// text loads too and shares no document with the seed.
#[test]
fn shipped_corpora_load() {
    let dirs = shipped_corpora().unwrap();
    let langs: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for lang in [
        "ven", "zul", "xho", "nbl", "ssw", "sot", "nso", "tsn", "tso", "afr", "eng",
    ] {
        assert!(langs.iter().any(|l| l == lang), "no corpora/{lang}");
    }
    for (dir, lang) in dirs.iter().zip(&langs) {
        let opts = IngestOptions {
            target_lang: Some(lang.clone()),
            ..IngestOptions::default()
        };
        let c = load_corpus(dir, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&c.meta.lang, lang);
        assert_eq!(c.meta.script, "Latn");
        assert!(c.documents.len() >= 50, "{lang}: {}", c.documents.len());
        assert!(c.warnings.is_empty(), "{lang}: {:?}", c.warnings);
        assert!(dir.join("SOURCE.md").is_file(), "{lang}: no SOURCE.md");
        assert!(c
            .documents
            .iter()
            .all(|d| &d.lang == lang && d.lineage_depth == 0));

        let h = load_shipped_heldout(lang, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(h.documents.len() >= 10, "{lang} held out");
        let seed: std::collections::BTreeSet<&str> =
            c.documents.iter().map(|d| d.text.as_str()).collect();
        for d in &h.documents {
            assert!(
                !seed.contains(d.text.as_str()),
                "{lang}: held-out text in seed: {}",
                d.text
            );
        }
    }
    let ven = load_corpus(&shipped_corpus_dir("ven"), &IngestOptions::default()).unwrap();
    assert_eq!(ven.meta.id, "udhr-ven");
    assert!(ven.documents.iter().any(|d| d.text.contains('ṱ')));
    assert!(ven
        .documents
        .iter()
        .all(|d| !d.text.contains("Tshiteṅwa 25")));
}
