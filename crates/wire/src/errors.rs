//! Error documents and the registry of stable error codes.
//!
//! A code is never renamed or reused once published; retired codes stay in [`ErrorCode`] with a
//! note. README.md lists every code (a test checks that it does).

use super::DocKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest `cause` text, in bytes: a cause quotes the offending value, which may be huge.
pub const MAX_CAUSE_BYTES: usize = 240;

/// Most errors listed in one document; the rest are counted in `omitted`.
pub const MAX_ERRORS: usize = 100;

/// Every input error vmplace can report. `E1xxx` are document errors, `E0xxx` usage and I/O.
/// On the wire, and in order, a code is its text ([`ErrorCode::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The command line could not be understood.
    Usage,
    /// An input file could not be read.
    Io,
    /// The document is not valid JSON.
    MalformedJson,
    /// A field has the wrong JSON type.
    WrongType,
    /// A required field is missing.
    MissingField,
    /// A field is not part of the contract (typo?).
    UnknownField,
    /// A number is negative or outside its allowed range.
    OutOfRange,
    /// A value is not one of the allowed ones (enum, empty id...).
    InvalidValue,
    /// Two items of the same array share an id.
    DuplicateId,
    /// A host lists a storage id that does not exist.
    UnknownHostStorage,
    /// A request names a storage id that does not exist.
    UnknownRequestStorage,
    /// A request demands a resource that no host has.
    UnknownResource,
    /// A required array is empty.
    EmptyArray,
    /// `used` exceeds `capacity`.
    UsedExceedsCapacity,
    /// `vmplace host` needs every request to carry `storage`.
    MissingStorageChoice,
    /// A host lists the same storage twice.
    DuplicateLink,
    /// A host's `used` names a resource missing from its `capacity`.
    UsedWithoutCapacity,
    /// HTTP: the body exceeds the server's limit.
    BodyTooLarge,
    /// HTTP: the body is not `application/json`.
    UnsupportedMediaType,
    /// HTTP: every worker is busy and the queue is full; retry later.
    Busy,
    /// HTTP: the solver failed unexpectedly (a bug: please report it with the input).
    Internal,
    /// HTTP: no such endpoint or document.
    NotFound,
    /// A VM names a host that does not exist.
    UnknownVmHost,
    /// A VM names a storage system that does not exist.
    UnknownVmStorage,
    /// A VM runs on a host that is not connected to its storage.
    VmNotConnected,
    /// A usage sample is not a fraction in [0, 1].
    BadUsage,
    /// A power table does not have 11 non-negative entries.
    BadPowerModel,
    /// A trace file or directory cannot be read.
    TraceUnreadable,
    /// A trace line is not a number.
    TraceNotNumber,
    /// A trace value is not a percentage in 0..100.
    TraceOutOfRange,
    /// A trace has fewer samples than the simulation needs.
    TraceShort,
    /// HTTP: the endpoint exists but not for this method.
    MethodNotAllowed,
    /// An object has the same key twice (JSON parsers disagree on which one wins).
    DuplicateKey,
    /// HTTP: the body did not arrive within the server's body timeout.
    RequestTimeout,
    /// Ganeti: a node names a group missing from `nodegroups`.
    UnknownGroup,
    /// Ganeti: an instance or the request names a node missing from `nodes`.
    UnknownNode,
    /// Ganeti: the request names an instance missing from `instances`.
    UnknownInstance,
    /// A plan to sequence moves a VM the state does not have.
    UnknownMoveVm,
    /// A plan to sequence moves a VM from a host it is not on.
    MoveWrongSource,
    /// A plan to sequence moves a VM to a host the state does not have, or to one that is not
    /// active, does not reach the VM's storage, or fails its required or forbidden traits.
    BadMoveTarget,
    /// A plan to sequence moves a VM more than once.
    MoveRepeated,
    /// A `--fail` names a host or label value the pool does not have.
    UnknownFailure,
    /// A `--fail` cannot be read, or a call has two `any-` failures.
    BadFailure,
    /// A reservation above the capacity it is held from.
    ReservedExceedsCapacity,
    /// A `--mix` that does not match its flavors.
    BadMix,
    /// `--tiered` without exactly one flavor to shrink.
    BadTiered,
    /// A request names a storage system that its storage traits exclude.
    StorageTraitsUnmet,
    /// A trait both required and forbidden by one request.
    ContradictoryTraits,
    /// A request or host names a group that `groups` does not define.
    UnknownPlacementGroup,
    /// A group's scope is a label key no host has.
    UnknownScope,
    /// A group field that does not apply to its policy (`max_per_domain` on affinity...).
    GroupFieldMismatch,
    /// A flavor to count that asks for no host resource, for an amount that is neither 0 nor
    /// between 0.001 and 10^12, or so little that one host or storage system alone holds more
    /// than 10^9 of it.
    BadFlavor,
    /// ROADEF file: it ends before the item the format expects.
    RoadefShort,
    /// ROADEF file: a token is not an integer.
    RoadefNotInteger,
    /// ROADEF file: a value is negative, too large, or an index beyond its count.
    RoadefOutOfRange,
    /// ROADEF file: a count larger than the file can hold, or costs that could overflow.
    RoadefTooLarge,
    /// ROADEF file: numbers after the end of the expected content.
    RoadefTrailing,
    /// ROADEF: the initial assignment breaks a hard rule.
    RoadefInfeasibleInitial,
    /// ROADEF bench: a line of the reference file is not `instance,best_known`.
    RoadefReference,
    /// Reassignment: a field names a resource, group, label or host the state does not have.
    ReassignReference,
    /// Reassignment: a value the engine cannot take (an amount that is not a whole number up to
    /// 2^31 - 1, more domains than the scope has, costs that could overflow).
    ReassignValue,
    /// Reassignment: a part of the state the reassignment engine does not model, or a
    /// reassignment field without `policy.reassign`.
    ReassignUnsupported,
}

impl ErrorCode {
    /// All codes, in registry order.
    pub const ALL: [ErrorCode; 62] = [
        ErrorCode::Usage,
        ErrorCode::Io,
        ErrorCode::MalformedJson,
        ErrorCode::WrongType,
        ErrorCode::MissingField,
        ErrorCode::UnknownField,
        ErrorCode::OutOfRange,
        ErrorCode::InvalidValue,
        ErrorCode::DuplicateId,
        ErrorCode::UnknownHostStorage,
        ErrorCode::UnknownRequestStorage,
        ErrorCode::UnknownResource,
        ErrorCode::EmptyArray,
        ErrorCode::UsedExceedsCapacity,
        ErrorCode::MissingStorageChoice,
        ErrorCode::DuplicateLink,
        ErrorCode::UsedWithoutCapacity,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Busy,
        ErrorCode::Internal,
        ErrorCode::NotFound,
        ErrorCode::UnknownVmHost,
        ErrorCode::UnknownVmStorage,
        ErrorCode::VmNotConnected,
        ErrorCode::BadUsage,
        ErrorCode::BadPowerModel,
        ErrorCode::TraceUnreadable,
        ErrorCode::TraceNotNumber,
        ErrorCode::TraceOutOfRange,
        ErrorCode::TraceShort,
        ErrorCode::MethodNotAllowed,
        ErrorCode::DuplicateKey,
        ErrorCode::RequestTimeout,
        ErrorCode::UnknownGroup,
        ErrorCode::UnknownNode,
        ErrorCode::UnknownInstance,
        ErrorCode::UnknownMoveVm,
        ErrorCode::MoveWrongSource,
        ErrorCode::BadMoveTarget,
        ErrorCode::MoveRepeated,
        ErrorCode::UnknownFailure,
        ErrorCode::BadFailure,
        ErrorCode::BadMix,
        ErrorCode::BadTiered,
        ErrorCode::ReservedExceedsCapacity,
        ErrorCode::StorageTraitsUnmet,
        ErrorCode::ContradictoryTraits,
        ErrorCode::UnknownPlacementGroup,
        ErrorCode::UnknownScope,
        ErrorCode::GroupFieldMismatch,
        ErrorCode::BadFlavor,
        ErrorCode::RoadefShort,
        ErrorCode::RoadefNotInteger,
        ErrorCode::RoadefOutOfRange,
        ErrorCode::RoadefTooLarge,
        ErrorCode::RoadefTrailing,
        ErrorCode::RoadefInfeasibleInitial,
        ErrorCode::RoadefReference,
        ErrorCode::ReassignReference,
        ErrorCode::ReassignValue,
        ErrorCode::ReassignUnsupported,
    ];

    /// The stable code string.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::Usage => "E0001",
            ErrorCode::Io => "E0002",
            ErrorCode::MalformedJson => "E1001",
            ErrorCode::WrongType => "E1101",
            ErrorCode::MissingField => "E1102",
            ErrorCode::UnknownField => "E1103",
            ErrorCode::OutOfRange => "E1104",
            ErrorCode::InvalidValue => "E1105",
            ErrorCode::DuplicateId => "E1201",
            ErrorCode::UnknownHostStorage => "E1203",
            ErrorCode::UnknownRequestStorage => "E1204",
            ErrorCode::UnknownResource => "E1205",
            ErrorCode::EmptyArray => "E1206",
            ErrorCode::UsedExceedsCapacity => "E1207",
            ErrorCode::MissingStorageChoice => "E1208",
            ErrorCode::DuplicateLink => "E1209",
            ErrorCode::UsedWithoutCapacity => "E1210",
            ErrorCode::ReservedExceedsCapacity => "E1211",
            ErrorCode::StorageTraitsUnmet => "E1212",
            ErrorCode::ContradictoryTraits => "E1213",
            ErrorCode::UnknownPlacementGroup => "E1214",
            ErrorCode::UnknownScope => "E1215",
            ErrorCode::GroupFieldMismatch => "E1216",
            ErrorCode::BodyTooLarge => "E0003",
            ErrorCode::UnsupportedMediaType => "E0004",
            ErrorCode::Busy => "E0005",
            ErrorCode::Internal => "E0006",
            ErrorCode::NotFound => "E0007",
            ErrorCode::UnknownVmHost => "E1401",
            ErrorCode::UnknownVmStorage => "E1402",
            ErrorCode::VmNotConnected => "E1403",
            ErrorCode::BadUsage => "E1404",
            ErrorCode::BadPowerModel => "E1405",
            ErrorCode::TraceUnreadable => "E1501",
            ErrorCode::TraceNotNumber => "E1502",
            ErrorCode::TraceOutOfRange => "E1503",
            ErrorCode::TraceShort => "E1504",
            ErrorCode::MethodNotAllowed => "E0008",
            ErrorCode::DuplicateKey => "E1106",
            ErrorCode::RequestTimeout => "E0009",
            ErrorCode::UnknownGroup => "E1601",
            ErrorCode::UnknownNode => "E1602",
            ErrorCode::UnknownInstance => "E1603",
            ErrorCode::UnknownMoveVm => "E1701",
            ErrorCode::MoveWrongSource => "E1702",
            ErrorCode::BadMoveTarget => "E1703",
            ErrorCode::MoveRepeated => "E1704",
            ErrorCode::UnknownFailure => "E1801",
            ErrorCode::BadFailure => "E1802",
            ErrorCode::BadMix => "E1803",
            ErrorCode::BadTiered => "E1804",
            ErrorCode::BadFlavor => "E1805",
            ErrorCode::RoadefShort => "E2001",
            ErrorCode::RoadefNotInteger => "E2002",
            ErrorCode::RoadefOutOfRange => "E2003",
            ErrorCode::RoadefTooLarge => "E2004",
            ErrorCode::RoadefTrailing => "E2005",
            ErrorCode::RoadefInfeasibleInitial => "E2006",
            ErrorCode::RoadefReference => "E2007",
            ErrorCode::ReassignReference => "E1901",
            ErrorCode::ReassignValue => "E1902",
            ErrorCode::ReassignUnsupported => "E1903",
        }
    }

    /// The code of that string, e.g. `E1203`.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// What the user should do about it, for an error in a document of that kind: the action
    /// text with `{schema}` naming that document's schema command.
    pub fn action_for(self, kind: DocKind) -> String {
        let text = self.action();
        if text.contains("{schema}") {
            text.replace("{schema}", &format!("`vmplace schema {}`", kind.name()))
        } else {
            text.to_string()
        }
    }

    /// What the user should do about it; `{schema}` stands for the schema command of the
    /// document at fault (see [`ErrorCode::action_for`]).
    fn action(self) -> &'static str {
        match self {
            ErrorCode::Usage => "see `vmplace --help` for the accepted arguments",
            ErrorCode::Io => "check that the file exists and is readable",
            ErrorCode::MalformedJson => "fix the JSON syntax at the given line and column (NaN and Infinity are not JSON)",
            ErrorCode::WrongType => "give the field the type shown by {schema}",
            ErrorCode::MissingField => "add the field; {schema} lists the required ones",
            ErrorCode::UnknownField => "remove the field or fix its spelling; unknown fields are rejected so typos do not pass silently",
            ErrorCode::OutOfRange => "give a number within the range shown by {schema}",
            ErrorCode::InvalidValue => "use one of the values listed by {schema}",
            ErrorCode::DuplicateId => "give every item of the array its own id",
            ErrorCode::UnknownHostStorage => "list only ids that appear in `storage`, or add the storage system",
            ErrorCode::UnknownRequestStorage => "name a storage id that appears in `storage`, or drop the field to let phase 1 choose",
            ErrorCode::UnknownResource => "add the resource to some host's `capacity`, or remove it from the demand",
            ErrorCode::EmptyArray => "give at least one item",
            ErrorCode::UsedExceedsCapacity => "report `used` no larger than `capacity`",
            ErrorCode::MissingStorageChoice => "run `vmplace storage` (or `vmplace place`) first, or add `storage` to the request",
            ErrorCode::DuplicateLink => "list each storage id once per host",
            ErrorCode::UsedWithoutCapacity => "add the resource to the host's `capacity`",
            ErrorCode::BodyTooLarge => "send a smaller document, or start the server with a larger --body-limit",
            ErrorCode::UnsupportedMediaType => "send the document with `Content-Type: application/json`",
            ErrorCode::Busy => "retry after the number of seconds in `Retry-After`",
            ErrorCode::Internal => "report the input that caused it; the server keeps running",
            ErrorCode::NotFound => "see README for the endpoints",
            ErrorCode::UnknownVmHost => "name a host id that appears in `hosts`",
            ErrorCode::UnknownVmStorage => "name a storage id that appears in `storage`",
            ErrorCode::VmNotConnected => "report the VM's real host and storage: a running VM's host reaches its disk",
            ErrorCode::BadUsage => "give usage as fractions of the demand, between 0 and 1",
            ErrorCode::BadPowerModel => "give `watts` at 0, 10, ..., 100 % utilisation: 11 numbers >= 0",
            ErrorCode::TraceUnreadable => "check the directory and the file's permissions",
            ErrorCode::TraceNotNumber => "one integer CPU percentage per line",
            ErrorCode::TraceOutOfRange => "CPU percentages are between 0 and 100",
            ErrorCode::TraceShort => "give every trace as many samples as --samples (288 for a day)",
            ErrorCode::MethodNotAllowed => "use the method in the `Allow` header (documents are POSTed, schemas and health are GET)",
            ErrorCode::DuplicateKey => "give each key once per object",
            ErrorCode::RequestTimeout => "send the whole body promptly, or start the server with a larger --body-timeout",
            ErrorCode::UnknownGroup => "name a group UUID that is a key of `nodegroups`",
            ErrorCode::UnknownNode => "name a node that is a key of `nodes`",
            ErrorCode::UnknownInstance => "name an instance that is a key of `instances`",
            ErrorCode::UnknownMoveVm => "move only VMs listed in the state's `vms`",
            ErrorCode::MoveWrongSource => "give `from` as the VM's `host` in the state",
            ErrorCode::BadMoveTarget => "move the VM to an active host of the state that reaches its storage and has its traits",
            ErrorCode::MoveRepeated => "list each VM once, with its final target; vmplace adds pivots itself",
            ErrorCode::UnknownFailure => "name a host id of `hosts`, or a label key and value some host has in `labels`",
            ErrorCode::BadFailure => "give host:ID, label:KEY=VALUE, any-host or any:KEY, with at most one any- per call",
            ErrorCode::ReservedExceedsCapacity => "reserve no more than the capacity (usable = (capacity - reserved) * allocation_ratio)",
            ErrorCode::BadMix => "give one whole number per --flavor, in their order, not all zero (--mix 3:1)",
            ErrorCode::BadTiered => "give exactly one --flavor, the largest, with --tiered",
            ErrorCode::BadFlavor => "ask for at least 0.001 of some host resource (cpu=1), and for each amount 0 or between 0.001 and 10^12 (disk_gib=0: no image)",
            ErrorCode::StorageTraitsUnmet => "name a storage system that has the request's storage traits, or drop `storage` to let phase 1 choose",
            ErrorCode::ContradictoryTraits => "list each trait in either the required or the forbidden list, not both",
            ErrorCode::UnknownPlacementGroup => "name a group id that appears in `groups`, or add the group there",
            ErrorCode::UnknownScope => "use `host`, or a label key that some host has in `labels`",
            ErrorCode::GroupFieldMismatch => "give `max_per_domain` only to anti-affinity groups and `max_skew` only to spread groups",
            ErrorCode::RoadefShort => "complete the file: the format is in models/roadef.md (counts, then that many items)",
            ErrorCode::RoadefNotInteger => "write whole numbers in decimal, separated by white space",
            ErrorCode::RoadefOutOfRange => "give a value in the range shown (indices start at 0 and stay below their count)",
            ErrorCode::RoadefTooLarge => "fix the count at the given position: it must match the items that follow",
            ErrorCode::RoadefTrailing => "remove the extra numbers, or fix a count before them",
            ErrorCode::RoadefInfeasibleInitial => "give an initial assignment that keeps every hard rule (`vmplace check --roadef` lists the violations)",
            ErrorCode::RoadefReference => "write one `instance,best_known` line per instance, the cost a whole number (lines starting with # are comments)",
            ErrorCode::ReassignReference => "name a resource of the hosts' `capacity`, a group of `groups`, a label key every host has, or a host id (or label value) of the pool",
            ErrorCode::ReassignValue => "give whole amounts and costs up to 2147483647 (scale the unit: millicores, MiB), and no more `min_domains` than the scope has domains",
            ErrorCode::ReassignUnsupported => "add `policy.reassign` to plan by cost, or leave out what the engine does not model (see the state reference's reassignment section)",
        }
    }
}

impl Ord for ErrorCode {
    /// By the code's text, as documents list their errors.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

impl PartialOrd for ErrorCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.code() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ErrorCode::from_code(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{text}`")))
    }
}

impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// One input error: stable code, JSON pointer to the field, cause and action.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputError {
    /// Stable code, e.g. `E1203`.
    pub code: ErrorCode,
    /// JSON pointer (RFC 6901) to the offending field; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub cause: String,
    /// What to do about it.
    pub action: String,
    /// What `path` names, typed: a place in a document, or a command-line option that a
    /// transport spells its own way (see [`ErrorSource`]). Not on the wire, where `path` is
    /// enough: an error read back from a document has [`ErrorSource::Path`].
    #[serde(skip)]
    pub source: ErrorSource,
}

/// What an error is about, so that each transport can name it in its own terms: `vmplace
/// capacity --flavor ... --flavor ...` says `--flavor 2` where `POST /v1/capacity` says
/// `/flavors/1`, a place in its body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorSource {
    /// The place [`InputError::path`] names: a JSON pointer into the document at fault, or a
    /// place that only one transport has (a trace's file and line, a CLI option such as
    /// `--output`).
    #[default]
    Path,
    /// An option that the command line and an HTTP body both take; `path` spells it as the
    /// command line does (`--flavor 2`), and a transport with another spelling renders it from
    /// here.
    Flag(Flag),
}

/// An option of `vmplace capacity` that `POST /v1/capacity` takes as a field of its body.
/// Positions count the uses of a repeated option from 1, as its user does: `Flavor(2)` is the
/// second `--flavor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// The n-th `--flavor` (body: `flavors[n-1]`).
    Flavor(usize),
    /// The n-th `--fail` (body: `fail[n-1]`).
    Fail(usize),
    /// `--mix` (body: `mix`).
    Mix,
    /// `--tiered` (body: `tiered`).
    Tiered,
}

impl std::fmt::Display for Flag {
    /// The command line's spelling, the `path` of the error documents that the CLI writes:
    /// `--flavor 2`, `--fail 1`, `--mix`, `--tiered`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flag::Flavor(n) => write!(f, "--flavor {n}"),
            Flag::Fail(n) => write!(f, "--fail {n}"),
            Flag::Mix => f.write_str("--mix"),
            Flag::Tiered => f.write_str("--tiered"),
        }
    }
}

/// Where [`InputError::new`] takes an error to be: a path (`&str`, `String`), or a [`Flag`].
pub trait Place {
    /// The error's `path` and its source.
    fn into_place(self) -> (String, ErrorSource);
}

impl Place for String {
    fn into_place(self) -> (String, ErrorSource) {
        (self, ErrorSource::Path)
    }
}

impl Place for &str {
    fn into_place(self) -> (String, ErrorSource) {
        (self.to_string(), ErrorSource::Path)
    }
}

impl Place for &String {
    fn into_place(self) -> (String, ErrorSource) {
        (self.clone(), ErrorSource::Path)
    }
}

impl Place for Flag {
    fn into_place(self) -> (String, ErrorSource) {
        (self.to_string(), ErrorSource::Flag(self))
    }
}

impl InputError {
    /// Builds an error with the registry's action text, at a path or a [`Flag`]. A cause longer
    /// than [`MAX_CAUSE_BYTES`] is cut, and so is a path (a path quotes keys of the document).
    pub fn new(code: ErrorCode, at: impl Place, cause: impl Into<String>) -> Self {
        let (path, source) = at.into_place();
        InputError {
            code,
            path: shorten(path),
            cause: shorten(cause.into()),
            action: code.action_for(DocKind::Problem),
            source,
        }
    }

    /// The same error, with the action text for a document of that kind.
    pub fn in_document(mut self, kind: DocKind) -> Self {
        self.action = self.code.action_for(kind);
        self
    }
}

/// Cuts a text to [`MAX_CAUSE_BYTES`] on a character boundary, saying how much was cut.
fn shorten(text: String) -> String {
    if text.len() <= MAX_CAUSE_BYTES {
        return text;
    }
    let mut end = MAX_CAUSE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes)", &text[..end], text.len() - end)
}

/// The document written on bad input: every error at once, up to [`MAX_ERRORS`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ErrorDocument {
    /// The errors found, sorted by path (the first [`MAX_ERRORS`]).
    pub errors: Vec<InputError>,
    /// How many more errors were found and not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ErrorDocument {
    /// The document for these errors, listing the first [`MAX_ERRORS`].
    pub fn new(mut errors: Vec<InputError>) -> Self {
        let omitted = errors.len().saturating_sub(MAX_ERRORS);
        errors.truncate(MAX_ERRORS);
        ErrorDocument { errors, omitted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error about a flag carries it typed, and is written as the CLI spells it: the wire has
    /// the same four fields as an error at a JSON pointer.
    #[test]
    fn a_flag_is_a_typed_source_written_as_the_cli_spells_it() {
        for (flag, spelled) in [
            (Flag::Flavor(2), "--flavor 2"),
            (Flag::Fail(1), "--fail 1"),
            (Flag::Mix, "--mix"),
            (Flag::Tiered, "--tiered"),
        ] {
            let e = InputError::new(ErrorCode::BadFlavor, flag, "why");
            assert_eq!(
                (e.path.as_str(), e.source),
                (spelled, ErrorSource::Flag(flag))
            );
            let wire = serde_json::to_string(&e).expect("encodes");
            let at_path = InputError::new(ErrorCode::BadFlavor, spelled, "why");
            assert_eq!(at_path.source, ErrorSource::Path);
            assert_eq!(wire, serde_json::to_string(&at_path).expect("encodes"));
            let back: InputError = serde_json::from_str(&wire).expect("decodes");
            assert_eq!(back, at_path);
        }
    }
}
