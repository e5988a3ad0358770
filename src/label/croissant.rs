//! `croissant.json`: Croissant 1.1 metadata of a labelled run, with PROV-O provenance: the
//! dataset `prov:wasDerivedFrom` its seed corpora and `prov:wasGeneratedBy` the generation
//! activity (models, prompt templates, tool); the generated fields (`text`) carry their own
//! `prov:wasGeneratedBy`, and every record set field is mapped to its JSON path in
//! `samples.jsonl`.

use serde_json::{json, Value};

use super::card::{dataset_name, CardOptions};
use super::manifest::Manifest;

/// The JSON-LD context of Croissant 1.1, with the PROV-O namespace.
pub fn context() -> Value {
    json!({
        "@language": "en",
        "@vocab": "https://schema.org/",
        "citeAs": "cr:citeAs",
        "column": "cr:column",
        "conformsTo": "dct:conformsTo",
        "cr": "http://mlcommons.org/croissant/",
        "rai": "http://mlcommons.org/croissant/RAI/",
        "data": {"@id": "cr:data", "@type": "@json"},
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
        "dct": "http://purl.org/dc/terms/",
        "examples": {"@id": "cr:examples", "@type": "@json"},
        "extract": "cr:extract",
        "field": "cr:field",
        "fileProperty": "cr:fileProperty",
        "fileObject": "cr:fileObject",
        "fileSet": "cr:fileSet",
        "format": "cr:format",
        "includes": "cr:includes",
        "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath",
        "key": "cr:key",
        "md5": "cr:md5",
        "parentField": "cr:parentField",
        "path": "cr:path",
        "prov": "http://www.w3.org/ns/prov#",
        "recordSet": "cr:recordSet",
        "references": "cr:references",
        "regex": "cr:regex",
        "repeated": "cr:repeated",
        "replace": "cr:replace",
        "sc": "https://schema.org/",
        "separator": "cr:separator",
        "source": "cr:source",
        "subField": "cr:subField",
        "transform": "cr:transform"
    })
}

fn field(id: &str, name: &str, desc: &str, data_type: &str, json_path: &str) -> Value {
    json!({
        "@type": "cr:Field",
        "@id": format!("samples/{id}"),
        "name": name,
        "description": desc,
        "dataType": data_type,
        "source": {"fileObject": {"@id": "samples.jsonl"}, "extract": {"jsonPath": json_path}}
    })
}

/// Render the Croissant metadata. `samples_sha256` and `samples_bytes` describe
/// `samples.jsonl` as written.
pub fn render(m: &Manifest, opts: &CardOptions, samples_sha256: &str, samples_bytes: u64) -> Value {
    let name = dataset_name(m, opts);
    let derived: Vec<Value> = m
        .inputs
        .iter()
        .filter(|i| i.role == "seed_corpus" || i.role == "seed_file")
        .map(|i| {
            let mut v = json!({
                "@id": format!("seed:{}", i.id),
                "@type": "prov:Entity",
                "name": i.id,
            });
            if let Some(s) = &i.sha256 {
                v["sc:sha256"] = Value::String(s.clone());
            }
            if let Some(l) = i.details.get("licence") {
                v["license"] = l.clone();
            }
            if let Some(l) = i.details.get("source") {
                v["sc:isBasedOn"] = l.clone();
            }
            v
        })
        .collect();
    let agents: Vec<Value> = m
        .inputs
        .iter()
        .filter(|i| i.role == "model")
        .map(|i| {
            json!({
                "@id": format!("model:{}", i.id),
                "@type": ["prov:SoftwareAgent", "prov:Entity"],
                "name": i.details.get("name").cloned().unwrap_or(Value::String(i.id.clone())),
                "sc:sha256": i.sha256,
                "description": format!(
                    "{} {} ({}, {})",
                    i.details.get("architecture").and_then(Value::as_str).unwrap_or(""),
                    i.details.get("quantization").and_then(Value::as_str).unwrap_or(""),
                    i.details.get("kind").and_then(Value::as_str).unwrap_or(""),
                    i.details.get("backend").and_then(Value::as_str).unwrap_or("")
                )
            })
        })
        .collect();
    let templates: Vec<Value> = m
        .inputs
        .iter()
        .filter(|i| i.role == "prompt_template")
        .map(|i| json!({"@id": format!("prompt:{}", i.id), "@type": "prov:Plan", "name": i.id, "sc:sha256": i.sha256}))
        .collect();
    let activity = json!({
        "@id": "activity:generation",
        "@type": "prov:Activity",
        "name": "synthetic text generation",
        "description": "Local models generated text from prompts quoting the seed corpora; curation then filtered it.",
        "prov:startedAtTime": m.started_at,
        "prov:endedAtTime": m.finished_at,
        "prov:wasAssociatedWith": agents
            .iter()
            .map(|a| a["@id"].clone())
            .chain(std::iter::once(Value::String(format!("tool:{}", m.tool))))
            .map(|id| json!({"@id": id}))
            .collect::<Vec<_>>(),
        "prov:used": derived
            .iter()
            .chain(templates.iter())
            .map(|e| json!({"@id": e["@id"].clone()}))
            .collect::<Vec<_>>(),
        "prov:qualifiedAssociation": agents
            .iter()
            .map(|a| json!({"@type": "prov:Association", "prov:agent": {"@id": a["@id"].clone()}, "prov:hadPlan": templates.iter().map(|t| json!({"@id": t["@id"].clone()})).collect::<Vec<_>>()}))
            .collect::<Vec<_>>()
    });
    let mut text = field(
        "text",
        "text",
        "The synthetic text (NFC).",
        "sc:Text",
        "$.text",
    );
    text["prov:wasGeneratedBy"] = json!({"@id": "activity:generation"});
    text["prov:wasDerivedFrom"] = derived
        .iter()
        .filter(|d| d["@id"].as_str().is_some_and(|s| !s.contains('/')))
        .map(|d| json!({"@id": d["@id"].clone()}))
        .collect();
    let fields = vec![
        field(
            "id",
            "id",
            "Content-derived id: sha256 of the normalised text.",
            "sc:Text",
            "$.id",
        ),
        text,
        field(
            "lang",
            "lang",
            "ISO 639-3 language code.",
            "sc:Text",
            "$.lang",
        ),
        field(
            "script",
            "script",
            "ISO 15924 script code.",
            "sc:Text",
            "$.script",
        ),
        {
            let mut f = field(
                "synthetic",
                "synthetic",
                "Always true: the text is machine-generated.",
                "sc:Boolean",
                "$.synthetic",
            );
            f["prov:wasGeneratedBy"] = json!({"@id": "activity:generation"});
            f
        },
        field(
            "lineage_depth",
            "lineage_depth",
            "1 for text generated from real seeds, n+1 from depth-n seeds.",
            "sc:Integer",
            "$.lineage_depth",
        ),
        field(
            "generator_name",
            "generator_name",
            "Model that generated the text.",
            "sc:Text",
            "$.generator.name",
        ),
        field(
            "generator_sha256",
            "generator_sha256",
            "sha256 of the model file.",
            "sc:Text",
            "$.generator.sha256",
        ),
        field(
            "generator_quantization",
            "generator_quantization",
            "Quantisation of the model.",
            "sc:Text",
            "$.generator.quantization",
        ),
        field(
            "prompt_template_id",
            "prompt_template_id",
            "Prompt template id.",
            "sc:Text",
            "$.prompt.template_id",
        ),
        field(
            "prompt_template_sha256",
            "prompt_template_sha256",
            "sha256 of the prompt template.",
            "sc:Text",
            "$.prompt.template_sha256",
        ),
        field(
            "source_corpus",
            "source_corpus",
            "Seed corpus the prompt drew from.",
            "sc:Text",
            "$.prompt.source_corpus",
        ),
        field(
            "seed",
            "seed",
            "Sampling seed of the request.",
            "sc:Integer",
            "$.sampling.seed",
        ),
        field(
            "temperature",
            "temperature",
            "Sampling temperature.",
            "sc:Float",
            "$.sampling.temperature",
        ),
        field(
            "created_at",
            "created_at",
            "Generation time (RFC 3339 UTC).",
            "sc:DateTime",
            "$.created_at",
        ),
    ];
    let mut dataset = json!({
        "@context": context(),
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": name,
        "description": format!(
            "Synthetic {} ({}) text generated by synthcorpus from real seed corpora with local language models, curated and labelled with provenance. Every sample is machine-generated and labelled synthetic.",
            m.run.lang, m.run.script
        ),
        "license": opts.license,
        "version": "1.0.0",
        "inLanguage": m.run.lang,
        "datePublished": m.finished_at,
        "creator": {"@type": "sc:SoftwareApplication", "name": "synthcorpus", "softwareVersion": env!("CARGO_PKG_VERSION")},
        "keywords": ["synthetic", "machine-generated", "synthcorpus", m.run.lang],
        "isLiveDataset": false,
        "rai:dataCollection": "Machine-generated by local language models prompted with real seed text; no personal data was collected.",
        "rai:dataCollectionType": ["Synthetic"],
        "rai:dataLimitations": "Machine-generated text in a low-resource language: grammatical errors, hallucinations, narrow topics; not a reference of correct usage.",
        "rai:dataUseCases": "Data augmentation and research, alongside real text, with the synthetic label kept.",
        "rai:dataSocialImpact": "Training on synthetic text as if it were real risks model collapse and the spread of errors in a language with little real data.",
        "prov:wasDerivedFrom": derived,
        "prov:wasGeneratedBy": activity,
        "distribution": [{
            "@type": "cr:FileObject",
            "@id": "samples.jsonl",
            "name": "samples.jsonl",
            "description": format!("Labelled synthetic samples, one JSON object per line (schema {}).", m.sample_schema.id),
            "contentUrl": "samples.jsonl",
            "encodingFormat": "application/jsonlines",
            "contentSize": format!("{samples_bytes} B"),
            "sha256": samples_sha256
        }],
        "recordSet": [{
            "@type": "cr:RecordSet",
            "@id": "samples",
            "name": "samples",
            "description": "One synthetic sample per record.",
            "key": {"@id": "samples/id"},
            "field": fields
        }]
    });
    if !templates.is_empty() {
        dataset["prov:used"] = Value::Array(templates);
    }
    dataset
}
