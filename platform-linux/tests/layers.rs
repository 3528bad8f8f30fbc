//! The folders of `src/` are the daemon's flow, and each may only use what comes
//! before it: config (parse only) → settings (one pure lowering pass) → os (the
//! seams: sockets, clock, privileges, signals, resolver) → server → daemon. The tools
//! (`ctl`, `compat`, `load`) sit beside the flow and may use any of it; nothing in
//! the flow uses them. This test reads the sources and fails on an import against
//! the flow, so a cycle cannot creep back in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

const FLOW: [&str; 5] = ["config", "settings", "os", "server", "daemon"];
const TOOLS: [&str; 3] = ["ctl", "compat", "load"];

fn rank(module: &str) -> Option<usize> {
    FLOW.iter().position(|&m| m == module)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without its test module (tests may
/// reach across layers to build what they check).
fn code(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`.
fn crate_uses(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            // `crate::{a, b::c}`
            if let Some(group) = rest.strip_prefix('{').and_then(|g| g.split('}').next()) {
                for item in group.split(',') {
                    let head = item.trim().split("::").next().unwrap_or("");
                    if !head.is_empty() {
                        out.push(head.to_string());
                    }
                }
            }
        } else {
            out.push(name);
        }
    }
    out
}

/// Every use against the flow, as `file: layer uses module`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let Some(top) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else {
            continue;
        };
        let Some(own) = rank(top) else { continue };
        let text = fs::read_to_string(&file).unwrap();
        for used in crate_uses(&code(&text)) {
            let against_flow = match rank(&used) {
                Some(r) => r > own,
                None => TOOLS.contains(&used.as_str()),
            };
            if against_flow {
                found.push(format!("{}: {top} uses {used}", rel.display()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_folder_uses_only_the_folders_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for folder in FLOW.iter().chain(TOOLS.iter()) {
        assert!(src.join(folder).is_dir(), "src/{folder} is missing");
    }
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the flow:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_against_the_flow() {
    let dir = std::env::temp_dir().join(format!("slew-layers-{}", std::process::id()));
    fs::create_dir_all(dir.join("settings")).unwrap();
    fs::write(
        dir.join("settings/mod.rs"),
        "//! uses crate::daemon in a comment only\nuse crate::config::Config;\nuse crate::{os::net, daemon};\n#[cfg(test)]\nmod tests { use crate::server::guard; }\n",
    )
    .unwrap();
    let found = violations(&dir);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        vec![
            "settings/mod.rs: settings uses daemon".to_string(),
            "settings/mod.rs: settings uses os".to_string()
        ]
    );
}
