//! A newcomer's path through the README, as written: the shown answers are the answers, the
//! service snippet (shown but not run by `docs::`) answers what the CLI answers, the book serves
//! every figure it shows, and the command line reference names exactly the flags `--help` has.

use crate::docs::{json_blocks, links, pages, read, root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn vmplace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("binary runs")
}

/// The fenced blocks of `text` with the given info string, each as its lines, `\` continuations
/// joined.
fn blocks(text: &str, info: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match (&mut current, trimmed.strip_prefix("```")) {
            (None, Some(rest)) if rest == info => current = Some(Vec::new()),
            (Some(_), Some(_)) => out.push(current.take().unwrap()),
            (Some(lines), None) => match lines.last_mut() {
                Some(last) if last.ends_with('\\') => {
                    last.pop();
                    last.push_str(trimmed);
                }
                _ => lines.push(trimmed.to_string()),
            },
            _ => {}
        }
    }
    out
}

fn unplaced(v: &Value) -> Vec<(String, String, String)> {
    let field = |u: &Value, k: &str| u[k].as_str().unwrap_or_default().to_string();
    v["unplaced"]
        .as_array()
        .expect("an `unplaced` list")
        .iter()
        .map(|u| (field(u, "request"), field(u, "code"), field(u, "reason")))
        .collect()
}

/// What a reader compares first: the example's answer on the README and on the book's first
/// page says, word for word, why `huge-1` is left out, as `place` says it now.
#[test]
fn the_shown_answers_give_the_reasons_place_gives() {
    let out = vmplace(&["place", "instances/examples/small.json"]);
    assert_eq!(out.status.code(), Some(0));
    let actual: Value = serde_json::from_slice(&out.stdout).unwrap();
    for page in ["README.md", "docs/src/guide/getting-started.md"] {
        let shown: Vec<Value> = json_blocks(&read(&root().join(page)))
            .into_iter()
            .filter(|v| v.get("unplaced").is_some())
            .collect();
        assert_eq!(shown.len(), 1, "{page}: one answer shown");
        assert_eq!(unplaced(&shown[0]), unplaced(&actual), "{page}");
        assert_eq!(shown[0]["stats"]["solver"], actual["stats"]["solver"]);
    }
}

/// A shell word list of one line, as `sh` splits it: single and double quotes (with `\"` inside
/// double quotes) group, and `$(cat FILE)` inside double quotes is replaced by `cat(FILE)`.
fn shell_words(line: &str, cat: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            ' ' if !word.is_empty() || started => {
                words.push(std::mem::take(&mut word));
                started = false;
            }
            ' ' => {}
            '\'' => {
                started = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                started = true;
                let mut quoted = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => quoted.extend(chars.next()),
                        _ => quoted.push(c),
                    }
                }
                word.push_str(&substitute_cat(&quoted, cat));
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() || started {
        words.push(word);
    }
    words
}

fn substitute_cat(text: &str, cat: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("$(cat ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "$(cat ".len()..];
        let end = after.find(')').expect("`$(cat FILE)` closes");
        out.push_str(&cat(after[..end].trim()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One `curl` line: its path on the server and its body (`None`: a GET).
fn curl_request(words: &[String], file: &dyn Fn(&str) -> String) -> (String, Option<String>) {
    assert_eq!(words[0], "curl");
    let url = words.last().unwrap();
    let path = url
        .strip_prefix("localhost:8080")
        .unwrap_or_else(|| panic!("the README's curl lines go to localhost:8080: {url}"));
    let body = words.windows(2).find_map(|w| match w[0].as_str() {
        "--data-binary" => Some(file(w[1].strip_prefix('@').expect("@FILE"))),
        "-d" => Some(w[1].clone()),
        _ => None,
    });
    (path.to_string(), body)
}

/// The README's service snippet, as written: `vmplace serve` (on a free port instead of 8080),
/// then each `curl` line; `/tmp/` files are those the README's earlier commands write. Each
/// answers 200, and phase 2 over HTTP answers what `vmplace host --storage-from` answers.
#[test]
fn the_readmes_serve_and_curl_lines_answer_as_the_cli_does() {
    let readme = read(&root().join("README.md"));
    let shown = blocks(&readme, "sh,no-run");
    let serve = shown
        .iter()
        .flatten()
        .find(|l| l.starts_with("vmplace serve"))
        .expect("the README starts the service");
    assert!(serve.contains("--listen 127.0.0.1:8080"), "{serve}");
    let curls: Vec<&String> = shown
        .iter()
        .flatten()
        .filter(|l| l.starts_with("curl "))
        .collect();
    assert!(curls.len() >= 2, "the README shows curl lines: {curls:?}");

    let tmp = tempfile::tempdir().unwrap();
    let storage_answer = tmp.path().join("small-storage.json");
    let o = vmplace(&[
        "storage",
        "instances/examples/small.json",
        "-o",
        storage_answer.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let local = |p: &str| -> PathBuf {
        match p.strip_prefix("/tmp/") {
            Some(rest) => tmp.path().join(rest),
            None => root().join(p),
        }
    };
    let file = |p: &str| read(&local(p));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmplace"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(root())
        .stderr(std::process::Stdio::null());
    let (child, addr) = crate::common::spawn_server(cmd);
    let _server = KillOnDrop(child);
    let mut answers = Vec::new();
    for line in curls {
        let words = shell_words(line, &|p| file(p));
        let (path, body) = curl_request(&words, &file);
        let url = format!("http://{addr}{path}");
        let response = match &body {
            Some(b) => ureq::post(&url)
                .header("Content-Type", "application/json")
                .send(b.as_str()),
            None => ureq::get(&url).call(),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "{line}");
        let text = response.body_mut().read_to_string().unwrap();
        answers.push((path, serde_json::from_str::<Value>(&text).expect("JSON")));
    }
    let (_, over_http) = answers
        .iter()
        .find(|(p, _)| p == "/v1/host-from-storage")
        .expect("the README shows phase 2 over HTTP");
    let cli = vmplace(&[
        "host",
        "instances/examples/small.json",
        "--storage-from",
        storage_answer.to_str().unwrap(),
    ]);
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    for key in [
        "status",
        "placed_weight",
        "objective",
        "placements",
        "unplaced",
    ] {
        assert_eq!(over_http[key], cli[key], "{key}");
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn shell_words_split_as_sh_does() {
    let cat = |p: &str| format!("<{p}>");
    assert_eq!(
        shell_words(r#"curl -s -d "{\"a\": $(cat x.json)}" 'b c' host"#, &cat),
        ["curl", "-s", "-d", r#"{"a": <x.json>}"#, "b c", "host"]
    );
}

/// Repository files the book links to although mdBook does not serve them: read from a clone,
/// as the book is today. A new one is a decision, not an accident.
const LINKS_OUT_OF_THE_BOOK: [&str; 4] = [
    "README.md",
    "CONTRIBUTING.md",
    "instances/README.md",
    "instances/examples/small.json",
];

/// mdBook serves only what is under `docs/src`: every figure the book shows lives there, and
/// every other link that leaves it is one of [`LINKS_OUT_OF_THE_BOOK`].
#[test]
fn the_book_serves_every_figure_it_shows() {
    let src = root().join("docs/src").canonicalize().unwrap();
    let mut wrong = Vec::new();
    let mut figures = 0;
    // The book's pages (the README, first, is not served by mdBook).
    for (page, text) in pages().into_iter().skip(1) {
        for link in links(&text) {
            let (image, target) = (link.image, link.target);
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let Ok(path) = page.parent().unwrap().join(file).canonicalize() else {
                wrong.push(format!("{}: {target} (missing)", page.display()));
                continue;
            };
            figures += usize::from(image);
            let outside = !path.starts_with(&src);
            let rel = path.strip_prefix(root().canonicalize().unwrap()).unwrap();
            let allowed = LINKS_OUT_OF_THE_BOOK.contains(&rel.to_str().unwrap());
            if outside && (image || !allowed) {
                wrong.push(format!("{}: {target} (outside docs/src)", page.display()));
            }
        }
    }
    assert!(figures >= 3, "the book shows its figures ({figures})");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The long flags a help text offers.
fn long_flags(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            w.strip_prefix("--")
                .is_some_and(|f| f.starts_with(|c: char| c.is_ascii_alphabetic()))
        })
        .map(str::to_string)
        .collect()
}

const COMMANDS: [&str; 15] = [
    "storage",
    "host",
    "place",
    "migrate",
    "check",
    "schema",
    "generate",
    "bench",
    "serve",
    "simulate",
    "study",
    "capacity",
    "iallocator",
    "completions",
    "man",
];

/// The command line reference names every flag `--help` offers, and no flag that no command has.
#[test]
fn the_command_line_reference_names_exactly_the_flags_help_offers() {
    let reference = read(&root().join("docs/src/reference/cli.md"));
    let mut offered = long_flags(&String::from_utf8(vmplace(&["--help"]).stdout).unwrap());
    for command in COMMANDS {
        let help = vmplace(&[command, "--help"]);
        assert_eq!(help.status.code(), Some(0), "{command}");
        let flags = long_flags(&String::from_utf8(help.stdout).unwrap());
        for flag in &flags {
            assert!(
                reference.contains(flag.as_str()) || flag == "--help",
                "`vmplace {command} {flag}` is not in reference/cli.md"
            );
        }
        offered.extend(flags);
    }
    // The reference's example of a misspelt flag.
    let misspelt = ["--time-limt"];
    for flag in long_flags(&reference) {
        assert!(
            offered.contains(&flag) || misspelt.contains(&flag.as_str()),
            "reference/cli.md names {flag}, which no command has"
        );
    }
}

/// A newcomer's first typo: the error names the flag, the close one, and the help to read, the
/// command's own rather than the list of commands.
#[test]
fn a_misspelt_flag_points_at_its_commands_help() {
    let o = vmplace(&["place", "instances/examples/small.json", "--time-limt", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &doc["errors"][0];
    assert_eq!(e["path"], "--time-limt");
    assert_eq!(
        e["action"], "see `vmplace place --help` for the accepted arguments",
        "{doc}"
    );
    let o = vmplace(&["plase", "instances/examples/small.json"]);
    assert_eq!(o.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["errors"][0]["action"], "see `vmplace --help` for the accepted arguments",
        "{doc}"
    );
}
