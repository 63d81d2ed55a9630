//! The layers of `src/lib.rs` import downward only: a module may name its own layer and the
//! layers below it, never one above. Read from the source, so a new upward import fails here
//! with the file and the path that broke the rule.

use std::path::Path;

/// From the top down; `lib.rs` and `main.rs` join them all and are not checked.
const LAYERS: &[&str] = &[
    "cli", "api", "state", "outbound", "fixtures", "auth", "server", "journal", "http", "domain",
    "storage", "model",
];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_import_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let layer = first.to_str().unwrap().trim_end_matches(".rs");
        let Some(own) = rank(layer) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line_number, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let named: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `use crate::{a, b}`: every name in the braces.
                let names: Vec<String> = if named.is_empty() && rest.starts_with('{') {
                    let inside = &rest[1..rest.find('}').unwrap_or(rest.len())];
                    inside
                        .split(',')
                        .map(|n| n.trim().split("::").next().unwrap_or("").to_owned())
                        .collect()
                } else {
                    vec![named]
                };
                for name in names {
                    if rank(&name).is_some_and(|target| target < own) {
                        upward.push(format!(
                            "{}:{}: {layer} names crate::{name}",
                            relative.display(),
                            line_number + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}
