//! The README and the book under `docs/`: the book's table of contents lists every page, relative
//! links resolve, the README stays short, and every `vmplace` command they show runs as written.
//!
//! Conventions (CONTRIBUTING.md, "Documentation"): a command is a line starting with `vmplace `
//! in a fenced block whose info string is `sh`; blocks marked `sh,no-run` are shown only. A
//! trailing `# exits N` gives the exit code the text implies (0 otherwise). Paths under `/tmp/`
//! are mapped to a fresh folder per page, so no example writes into tracked files.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const README_LIMIT_BYTES: usize = 15 * 1024;
/// Blocks shown but not run: servers, files outside the repository, long runs. Keep them few.
const MAX_NO_RUN_BLOCKS: usize = 12;
/// A shown command that takes longer than this is too slow for an example.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const OUTPUT_FLAGS: [&str; 4] = ["-o", "--output", "--plot", "--write-model"];

/// The pages `docs/src/SUMMARY.md` lists, relative to `docs/src`, in its order.
fn summary_pages() -> Vec<String> {
    let summary = read(&root().join("docs/src/SUMMARY.md"));
    links(&summary).into_iter().map(|l| l.target).collect()
}

/// Every Markdown file under `dir`, relative to it.
fn markdown_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                let rel = path.strip_prefix(base).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The README and every page of the book, with their text (includes expanded).
pub(crate) fn pages() -> Vec<(PathBuf, String)> {
    let mut out = vec![(root().join("README.md"), read(&root().join("README.md")))];
    for page in summary_pages() {
        let path = root().join("docs/src").join(&page);
        let text = expand_includes(&path, &read(&path));
        out.push((path, text));
    }
    out
}

/// `{{#include PATH}}` lines replaced by the file they name (relative to the page), as mdBook does.
fn expand_includes(page: &Path, text: &str) -> String {
    text.lines()
        .map(|line| match include_target(line) {
            Some(target) => read(&page.parent().unwrap().join(target)),
            None => format!("{line}\n"),
        })
        .collect()
}

fn include_target(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("{{#include ")?;
    Some(rest.strip_suffix("}}")?.trim())
}

/// Text outside fenced code blocks and inline code spans, line by line.
fn prose_lines(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code: every other backtick-delimited piece.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        out.push(prose);
    }
    out
}

pub(crate) struct Link {
    /// An image (`![alt](target)`), not a link.
    pub(crate) image: bool,
    pub(crate) target: String,
}

/// Markdown links and images `[text](target)` in prose (not in code).
pub(crate) fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let image = rest[..i]
                .rfind("![")
                .is_some_and(|j| !rest[j..i].contains(']'));
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(Link {
                image,
                target: after[..end].trim().to_string(),
            });
            rest = &after[end..];
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| target.starts_with(p))
}

/// A heading's anchor as mdBook and GitHub make it: lower case, spaces to `-`, punctuation gone.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some('-')
            } else if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_ascii_lowercase())
            } else {
                None
            }
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Every relative link of `text` (read as the page at `page`) that does not resolve.
fn broken_links(page: &Path, text: &str) -> Vec<String> {
    let dir = page.parent().unwrap();
    let mut broken = Vec::new();
    for link in links(text) {
        if is_external(&link.target) {
            continue;
        }
        let (file, anchor) = match link.target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (link.target.as_str(), None),
        };
        let target = if file.is_empty() {
            page.to_path_buf()
        } else {
            dir.join(file)
        };
        if !target.exists() {
            broken.push(format!(
                "{}: {} (no such file)",
                page.display(),
                link.target
            ));
            continue;
        }
        if let Some(anchor) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md")) {
            let text = expand_includes(&target, &read(&target));
            if !anchors(&text).contains(anchor) {
                broken.push(format!(
                    "{}: {} (no such heading)",
                    page.display(),
                    link.target
                ));
            }
        }
    }
    broken
}

#[test]
fn the_summary_lists_every_page_and_every_page_exists() {
    let src = root().join("docs/src");
    let listed = summary_pages();
    assert!(listed.len() >= 20, "SUMMARY.md lists only {listed:?}");
    for page in &listed {
        assert!(
            src.join(page).is_file(),
            "SUMMARY.md lists {page}, which is missing"
        );
    }
    let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    for file in markdown_files(&src) {
        if file != "SUMMARY.md" {
            assert!(
                listed.contains(file.as_str()),
                "docs/src/{file} is not in SUMMARY.md"
            );
        }
    }
    assert!(root().join("docs/book.toml").is_file());
}

#[test]
fn includes_and_relative_links_resolve() {
    let mut broken = Vec::new();
    for page in summary_pages() {
        let path = root().join("docs/src").join(&page);
        let raw = read(&path);
        for target in raw.lines().filter_map(include_target) {
            if !path.parent().unwrap().join(target).is_file() {
                broken.push(format!("{page}: include {target} (no such file)"));
            }
        }
        broken.extend(broken_links(&path, &expand_includes(&path, &raw)));
    }
    let top = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"];
    let models = markdown_files(&root().join("models"));
    let others = top.iter().map(|f| root().join(f));
    for path in others.chain(models.iter().map(|f| root().join("models").join(f))) {
        broken.extend(broken_links(&path, &read(&path)));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_short_and_keeps_the_set_up_commands() {
    let readme = read(&root().join("README.md"));
    assert!(
        readme.len() <= README_LIMIT_BYTES,
        "README.md is {} bytes, over {README_LIMIT_BYTES}: move detail into the book",
        readme.len()
    );
    for line in [
        "./scripts/setup.sh && cargo test --release",
        "./scripts/setup.sh && cargo run --release -- place instances/examples/small.json",
        "cargo install --path . --locked",
    ] {
        assert!(
            readme.lines().any(|l| l.trim().starts_with(line)),
            "README.md lost `{line}`"
        );
    }
    for must in ["LICENSE", "CONTRIBUTING.md", "CHANGELOG.md"] {
        assert!(root().join(must).is_file(), "{must} is missing");
    }
    assert!(read(&root().join("LICENSE")).contains("Apache License"));
}

/// The README's example is the shipped file, and its answer is what `place` answers now.
#[test]
fn the_readme_example_is_the_shipped_file_and_its_answer_is_current() {
    let readme = read(&root().join("README.md"));
    let blocks = json_blocks(&readme);
    assert!(
        blocks.len() >= 2,
        "README.md should show a problem and its answer"
    );
    let shipped: Value =
        serde_json::from_str(&read(&root().join("instances/examples/small.json"))).unwrap();
    assert_eq!(
        blocks[0], shipped,
        "README's problem is not instances/examples/small.json"
    );
    let out = run_vmplace(&["place", "instances/examples/small.json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let actual: Value = serde_json::from_str(&out.stdout).unwrap();
    let shown = &blocks[1];
    for key in [
        "status",
        "placed_weight",
        "placed_weight_bound",
        "objective",
        "bound",
        "gap",
    ] {
        assert_eq!(
            shown[key], actual[key],
            "README's answer differs in `{key}`"
        );
    }
    let codes = |v: &Value| -> Vec<(String, String)> {
        v["unplaced"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["request"].to_string(), u["code"].to_string()))
            .collect()
    };
    assert_eq!(codes(shown), codes(&actual));
    assert_eq!(
        shown["placements"].as_array().unwrap().len(),
        actual["placements"].as_array().unwrap().len()
    );
}

pub(crate) fn json_blocks(text: &str) -> Vec<Value> {
    blocks(text)
        .into_iter()
        .filter(|b| b.info == "json")
        .map(|b| {
            let body = b.lines.join("\n");
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad JSON block ({e}):\n{body}"))
        })
        .collect()
}

struct Block {
    info: String,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, open.take()) {
            (Some(info), None) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    lines: Vec::new(),
                })
            }
            (Some(_), Some(block)) => out.push(block),
            (None, Some(mut block)) => {
                // Indented blocks (inside list items) keep their text without the indentation.
                block.lines.push(line.trim_start().to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    out
}

fn is_runnable(info: &str) -> bool {
    info == "sh"
}

fn is_no_run(info: &str) -> bool {
    let mut tags = info.split(',').map(str::trim);
    tags.next() == Some("sh") && tags.any(|t| t == "no-run")
}

/// A shown command: its words and the exit code its text implies.
#[derive(Debug)]
struct Shown {
    words: Vec<String>,
    exit: i32,
    text: String,
}

/// The `vmplace` commands of a page's runnable blocks, with `\` continuations joined.
fn commands(text: &str) -> Vec<Shown> {
    let mut out = Vec::new();
    for block in blocks(text).into_iter().filter(|b| is_runnable(&b.info)) {
        let mut joined: Vec<String> = Vec::new();
        let mut pending = String::new();
        for line in &block.lines {
            match line.strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    joined.push(std::mem::take(&mut pending));
                }
            }
        }
        for line in joined.iter().map(|l| l.trim()) {
            if line.starts_with("vmplace ") || line == "vmplace" {
                out.push(parse_command(line));
            }
        }
    }
    out
}

/// Splits a command as a POSIX shell would for the plain words and quotes it may use; anything
/// that needs a shell (pipes, redirections, substitutions, braces) is refused.
fn parse_command(line: &str) -> Shown {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut comment = "";
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for (_, q) in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                for (_, q) in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    word.push(q);
                }
            }
            '#' if !in_word => {
                comment = &line[i + 1..];
                break;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '|' | '>' | '<' | ';' | '&' | '$' | '{' | '}' | '`' | '*' => {
                panic!("`{line}` needs a shell (`{c}`): mark its block `sh,no-run` or rewrite it")
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    let exit = comment
        .trim()
        .strip_prefix("exits ")
        .map(|n| n.split_whitespace().next().unwrap().parse().unwrap())
        .unwrap_or(0);
    Shown {
        words,
        exit,
        text: line.to_string(),
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the built binary from the repository's root, killing it past [`COMMAND_TIMEOUT`].
fn run_vmplace(args: &[&str]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmplace"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("binary runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`vmplace {}` ran past {COMMAND_TIMEOUT:?}: too slow for an example (mark it no-run)", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Runs a page's commands in order, `/tmp/` mapped to one fresh folder, and returns what failed.
fn run_page(page: &Path, text: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for shown in commands(text) {
        assert!(
            !shown.text.contains("../shared"),
            "{}: `{}` needs files outside the repository: mark it no-run",
            page.display(),
            shown.text
        );
        for pair in shown.words.windows(2) {
            if OUTPUT_FLAGS.contains(&pair[0].as_str()) {
                assert!(
                    pair[1].starts_with("/tmp/"),
                    "{}: `{}` writes outside /tmp/",
                    page.display(),
                    shown.text
                );
            }
        }
        let args: Vec<String> = shown.words[1..]
            .iter()
            .map(|w| match w.strip_prefix("/tmp/") {
                Some(rest) => tmp.path().join(rest).to_string_lossy().into_owned(),
                None => w.clone(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run_vmplace(&args);
        if ran.code != Some(shown.exit) {
            failures.push(format!(
                "{}: `{}` exited {:?}, the text implies {}\n{}",
                page.display(),
                shown.text,
                ran.code,
                shown.exit,
                ran.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
            ));
        } else if !ran.stdout.trim().is_empty()
            && serde_json::from_str::<Value>(&ran.stdout).is_err()
        {
            failures.push(format!(
                "{}: `{}` wrote something other than JSON on stdout",
                page.display(),
                shown.text
            ));
        }
    }
    failures
}

#[test]
fn every_command_in_the_readme_runs_as_written() {
    let path = root().join("README.md");
    let text = read(&path);
    assert!(
        commands(&text).len() >= 3,
        "the README shows its quick start"
    );
    let failures = run_page(&path, &text);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_command_in_the_book_runs_as_written() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (path, text) in pages().into_iter().skip(1) {
        ran += commands(&text).len();
        failures.extend(run_page(&path, &text));
    }
    assert!(ran >= 40, "only {ran} commands found in the book");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn few_examples_are_shown_without_being_run() {
    let no_run: Vec<String> = pages()
        .iter()
        .flat_map(|(path, text)| {
            blocks(text)
                .into_iter()
                .filter(|b| is_no_run(&b.info))
                .map(move |b| format!("{}: {}", path.display(), b.lines.join(" / ")))
        })
        .collect();
    assert!(
        no_run.len() <= MAX_NO_RUN_BLOCKS,
        "{} blocks are not run (at most {MAX_NO_RUN_BLOCKS}):\n{}",
        no_run.len(),
        no_run.join("\n")
    );
    // Every other shell block is run: an unknown info string would hide a command.
    for (path, text) in pages() {
        for block in blocks(&text) {
            let lang = block.info.split(',').next().unwrap_or("");
            if ["sh", "bash", "console", "shell"].contains(&lang) {
                assert!(
                    is_runnable(&block.info) || is_no_run(&block.info),
                    "{}: block `{}` is neither `sh` nor `sh,no-run`",
                    path.display(),
                    block.info
                );
            }
        }
    }
}

#[test]
fn the_command_parser_reads_what_the_convention_says() {
    let shown = parse_command(r#"vmplace check a.json '/tmp/b c.json'   # exits 1"#);
    assert_eq!(shown.words, ["vmplace", "check", "a.json", "/tmp/b c.json"]);
    assert_eq!(shown.exit, 1);
    let shown = parse_command("vmplace capacity x.json --fail any:rack # every rack in turn");
    assert_eq!(shown.exit, 0);
    assert_eq!(shown.words.len(), 5);
    assert!(std::panic::catch_unwind(|| parse_command("vmplace schema problem > x")).is_err());
    let cmds = commands("```sh\nvmplace place \\\n  a.json -o /tmp/x\ncargo build\n```\n```sh,no-run\nvmplace serve\n```\n");
    assert_eq!(cmds.len(), 1);
    assert_eq!(
        cmds[0].words,
        ["vmplace", "place", "a.json", "-o", "/tmp/x"]
    );
    assert_eq!(
        slug("The energy floor, plots and studies"),
        "the-energy-floor-plots-and-studies"
    );
    assert_eq!(slug("What `optimal` covers"), "what-optimal-covers");
}
