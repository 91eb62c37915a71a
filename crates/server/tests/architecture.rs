//! `docs/architecture.md` draws every arrow between our crates in a
//! `crate-graph` block; this test compares it with what Cargo says, so the
//! picture cannot drift from the manifests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn drawn(doc: &str) -> Graph {
    let block = doc
        .split("```crate-graph\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md has a ```crate-graph block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (from, to) = line
                .split_once("->")
                .unwrap_or_else(|| panic!("not `crate -> deps`: {line:?}"));
            let deps = to
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect();
            (from.trim().to_owned(), deps)
        })
        .collect()
}

/// Each workspace crate and its normal dependencies whose names start
/// with `prefix` (dev-dependencies are not layers).
fn cargo_says(root: &Path, prefix: &str) -> Graph {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|n| n.starts_with(prefix))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn the_drawn_crate_graph_is_the_real_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let drawn = drawn(&doc);
    let real = cargo_says(&root, "sitga-");
    for (name, deps) in &real {
        let shown = drawn
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing from docs/architecture.md"));
        assert_eq!(
            shown, deps,
            "docs/architecture.md draws {name}'s arrows wrong (left: drawn, right: Cargo.toml)"
        );
    }
    let extra: Vec<_> = drawn.keys().filter(|k| !real.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "drawn but not in the workspace: {extra:?}"
    );
}

#[test]
fn domain_crates_stay_below_storage_and_the_web() {
    // The rule the layers exist for: the domain crates (and core) depend on
    // nothing of ours but core.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let real = cargo_says(&root, "sitga-");
    for name in [
        "sitga-core",
        "sitga-user",
        "sitga-auction",
        "sitga-badge",
        "sitga-coffee-grounds",
    ] {
        let ours: Vec<_> = real[name].iter().filter(|d| *d != "sitga-core").collect();
        assert!(ours.is_empty(), "{name} depends on {ours:?}");
    }
    // Nothing below the web layer pulls in actix.
    for (name, actix) in cargo_says(&root, "actix") {
        if ["sitga-api", "sitga-server", "sitga-testkit", "sitga-bench"].contains(&name.as_str()) {
            continue;
        }
        assert!(actix.is_empty(), "{name} depends on {actix:?}");
    }
}
