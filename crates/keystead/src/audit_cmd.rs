//! `keystead audit`: verify the audit trail of a data directory, export the public key that
//! its digests are signed with, and export its records as JSON lines or in CloudTrail's own
//! file layout.
//!
//! Read-only: nothing here writes to the trail (a running server may be appending to it), and
//! nothing here needs the server. The checks themselves live in `keystead-audit`; this module
//! only finds the files, loads the key, and prints.
//!
//! Exit codes of `verify`: 0 intact (notices, such as a crash-torn tail, are printed but are not
//! tampering), 1 tampering or damage found, 2 the trail could not be checked at all.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use keystead_server::config;
use keystead_server::data_dir;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// `keystead audit ...`.
#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the whole trail (or a time range of it) and report precisely what is wrong:
    /// edited, deleted, inserted or reordered records, deleted or rewritten log files, forged
    /// or missing digests, truncated files. Exit code 0 intact, 1 tampered or damaged, 2 not
    /// checkable.
    Verify(VerifyArgs),
    /// Print the PEM public key that verifies the trail's digests. Keep a copy away from this
    /// host and verify with --public-key: a key read from the host being audited proves less.
    PublicKey {
        /// The data directory.
        #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Export the trail's records: jsonl (one CloudTrail record per line, in trail order) or
    /// cloudtrail (gzipped {"Records": [...]} files in CloudTrail's S3 layout,
    /// AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/..., one file per account, region and
    /// 5 minutes). Does not verify: run `keystead audit verify` first.
    Export(ExportArgs),
}

/// `keystead audit verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The data directory whose trail (DATA_DIR/audit) is checked.
    #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The PEM public key (from `keystead audit public-key`) to check the digests against
    /// [default: derived from the data directory's signing key, which needs its root key].
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Check only log files whose span reaches this time or later (RFC 3339, e.g.
    /// 2026-11-28T00:00:00Z). Digests are always all checked.
    #[arg(long, value_parser = parse_time)]
    from: Option<OffsetDateTime>,
    /// Check only log files whose span starts at this time or earlier (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    to: Option<OffsetDateTime>,
}

/// `keystead audit export`.
#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The data directory whose trail (DATA_DIR/audit) is exported.
    #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// jsonl or cloudtrail.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// The directory to write into (created if needed). jsonl writes OUT/records.jsonl;
    /// cloudtrail writes OUT/AWSLogs/...
    #[arg(long)]
    out: PathBuf,
    /// Only records whose eventTime is this time or later (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    from: Option<OffsetDateTime>,
    /// Only records whose eventTime is this time or earlier (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    to: Option<OffsetDateTime>,
}

/// What `keystead audit export` writes.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ExportFormat {
    /// One CloudTrail record per line, in trail order.
    Jsonl,
    /// CloudTrail's own delivery layout and file format.
    Cloudtrail,
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("'{text}' is not an RFC 3339 time (e.g. 2026-11-28T12:00:00Z): {e}"))
}

/// Runs `keystead audit ...`. `verify` exits the process with 1 or 2 when the trail is not
/// intact or cannot be checked.
pub(crate) fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => {
            let code = verify(&args);
            if code != 0 {
                let _ = std::io::stdout().flush();
                std::process::exit(code);
            }
            Ok(())
        }
        AuditCommand::PublicKey { data_dir } => {
            print!("{}", public_key_pem(&data_dir)?);
            Ok(())
        }
        AuditCommand::Export(args) => export(&args),
    }
}

/// The PEM public key of the data directory's audit signing key.
fn public_key_pem(data_dir: &Path) -> anyhow::Result<String> {
    let root_path = data_dir::root_key_path(data_dir);
    let root = keystead_crypto::RootKey::load(&root_path)
        .with_context(|| format!("loading the root key {}", root_path.display()))?;
    let key = data_dir::load_audit_signing_key(data_dir, &root).with_context(|| {
        format!(
            "loading the audit signing key {}",
            data_dir::audit_signing_key_path(data_dir).display()
        )
    })?;
    Ok(key.public_key_pem())
}

/// `verify`, with its exit code; errors are printed here so that they get exit code 2.
fn verify(args: &VerifyArgs) -> i32 {
    match verify_inner(args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("keystead audit verify: could not check the trail: {e:#}");
            2
        }
    }
}

fn verify_inner(args: &VerifyArgs) -> anyhow::Result<bool> {
    let trail = data_dir::audit_dir(&args.data_dir);
    if !trail.is_dir() {
        bail!(
            "{} is not a directory: no audit trail here",
            trail.display()
        );
    }
    let (pem, source) = match &args.public_key {
        Some(path) => (
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            public_key_pem(&args.data_dir)?,
            format!(
                "{} (from this host; prefer --public-key with a copy kept elsewhere)",
                data_dir::audit_signing_key_path(&args.data_dir).display()
            ),
        ),
    };
    let der = keystead_crypto::signing::public_key_der_from_pem(&pem)
        .context("the public key is not an Ed25519 PEM public key")?;
    let started = Instant::now();
    let report = keystead_audit::verify(&trail, &der, args.from, args.to)?;
    let seconds = started.elapsed().as_secs_f64();

    println!("trail:      {}", trail.display());
    println!("public key: {source}");
    if args.from.is_some() || args.to.is_some() {
        println!(
            "range:      {} .. {}",
            args.from.map_or("start".to_owned(), rfc3339),
            args.to.map_or("end".to_owned(), rfc3339)
        );
    }
    println!(
        "checked:    {} digests, {} log files, {} records, {:.1} MB in {seconds:.2} s",
        report.digests,
        report.log_files,
        report.records,
        report.bytes as f64 / 1e6
    );
    for finding in &report.findings {
        println!("TAMPERED: {finding}");
    }
    for notice in &report.notices {
        println!("notice:   {notice}");
    }
    if report.is_intact() {
        println!("result:   INTACT");
    } else {
        println!(
            "result:   TAMPERED OR DAMAGED ({} finding{})",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" }
        );
    }
    Ok(report.is_intact())
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_else(|_| time.to_string())
}

/// The fields of a record that place it in CloudTrail's layout.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPlacement {
    event_time: String,
    recipient_account_id: String,
    aws_region: String,
}

/// Where a record belongs in CloudTrail's layout.
struct Placement {
    event_time: OffsetDateTime,
    recipient_account_id: String,
    aws_region: String,
}

/// CloudTrail delivers a file about every 5 minutes; records are grouped the same way.
const BUCKET_SECONDS: i64 = 300;
/// Records held before the oldest groups are written out.
const MAX_HELD_BYTES: usize = 64 << 20;
/// Most records in one CloudTrail file.
const MAX_RECORDS_PER_FILE: usize = 10_000;

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let trail = data_dir::audit_dir(&args.data_dir);
    if !trail.is_dir() {
        bail!(
            "{} is not a directory: no audit trail here",
            trail.display()
        );
    }
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let records = keystead_audit::read_records(&trail)?;
    let in_range = |time: OffsetDateTime| {
        args.from.is_none_or(|from| time >= from) && args.to.is_none_or(|to| time <= to)
    };
    let mut exported = 0u64;
    match args.format {
        ExportFormat::Jsonl => {
            let path = args.out.join("records.jsonl");
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for record in records {
                let record = record?;
                if args.from.is_some() || args.to.is_some() {
                    let placement = placement(&record)?;
                    if !in_range(placement.event_time) {
                        continue;
                    }
                }
                out.write_all(record.event.as_bytes())?;
                out.write_all(b"\n")?;
                exported += 1;
            }
            out.flush()?;
            out.get_ref().sync_all()?;
            println!("exported {exported} records to {}", path.display());
        }
        ExportFormat::Cloudtrail => {
            let mut writer = CloudTrailWriter::new(&args.out);
            for record in records {
                let record = record?;
                let placement = placement(&record)?;
                if !in_range(placement.event_time) {
                    continue;
                }
                writer.push(placement, record.event)?;
                exported += 1;
            }
            writer.finish()?;
            println!(
                "exported {exported} records in {} files under {}",
                writer.files,
                args.out.join("AWSLogs").display()
            );
        }
    }
    Ok(())
}

fn placement(record: &keystead_audit::TrailRecord) -> anyhow::Result<Placement> {
    let context = || {
        format!(
            "logs/{}:{}: record {} is not a CloudTrail record",
            record.file, record.line, record.seq
        )
    };
    let raw: RawPlacement = serde_json::from_str(&record.event).with_context(context)?;
    Ok(Placement {
        event_time: OffsetDateTime::parse(&raw.event_time, &Rfc3339).with_context(context)?,
        recipient_account_id: raw.recipient_account_id,
        aws_region: raw.aws_region,
    })
}

/// (account, region, start of the 5-minute bucket in Unix seconds)
type Group = (String, String, i64);

/// Groups records by account, region and 5 minutes and writes each group as one gzipped
/// CloudTrail file. Holds at most about [`MAX_HELD_BYTES`]: when more are held, or a group is
/// two buckets behind the newest record, the oldest groups are written (a late record then
/// starts another file of its group, with another unique suffix, as CloudTrail's own late
/// deliveries do).
struct CloudTrailWriter {
    out: PathBuf,
    groups: HashMap<Group, Vec<String>>,
    held: usize,
    newest_bucket: i64,
    files: u64,
}

impl CloudTrailWriter {
    fn new(out: &Path) -> Self {
        Self {
            out: out.to_owned(),
            groups: HashMap::new(),
            held: 0,
            newest_bucket: i64::MIN,
            files: 0,
        }
    }

    fn push(&mut self, placement: Placement, event: String) -> anyhow::Result<()> {
        let seconds = placement.event_time.unix_timestamp();
        let bucket = seconds - seconds.rem_euclid(BUCKET_SECONDS);
        self.held += event.len();
        let group = (placement.recipient_account_id, placement.aws_region, bucket);
        let records = self.groups.entry(group.clone()).or_default();
        records.push(event);
        if records.len() >= MAX_RECORDS_PER_FILE {
            self.write_group(&group)?;
        }
        if bucket > self.newest_bucket {
            self.newest_bucket = bucket;
            let stale: Vec<Group> = self
                .groups
                .keys()
                .filter(|g| g.2 < bucket - BUCKET_SECONDS)
                .cloned()
                .collect();
            for group in stale {
                self.write_group(&group)?;
            }
        }
        while self.held > MAX_HELD_BYTES {
            let Some(oldest) = self.groups.keys().min_by_key(|g| g.2).cloned() else {
                break;
            };
            self.write_group(&oldest)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let mut groups: Vec<Group> = self.groups.keys().cloned().collect();
        groups.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.cmp(b)));
        for group in groups {
            self.write_group(&group)?;
        }
        Ok(())
    }

    /// Writes `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
    /// ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz`.
    fn write_group(&mut self, group: &Group) -> anyhow::Result<()> {
        let Some(records) = self.groups.remove(group) else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        self.held = self
            .held
            .saturating_sub(records.iter().map(String::len).sum());
        let (account, region, bucket) = group;
        let time = OffsetDateTime::from_unix_timestamp(*bucket).context("record time")?;
        let day = time.format(format_description!("[year]/[month]/[day]"))?;
        let stamp = time.format(format_description!("[year][month][day]T[hour][minute]Z"))?;
        let mut body = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 16);
        body.extend_from_slice(b"{\"Records\":[");
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record.as_bytes());
        }
        body.extend_from_slice(b"]}");
        // CloudTrail's suffix is 16 random characters; ours is derived from the contents, so
        // that exporting twice gives the same files, and a second file of a group another name.
        let unique = hex_prefix(&keystead_crypto::digest::sha256(&body));
        let dir = self
            .out
            .join("AWSLogs")
            .join(account)
            .join("CloudTrail")
            .join(region)
            .join(day);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!(
            "{account}_CloudTrail_{region}_{stamp}_{unique}.json.gz"
        ));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut gz =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        gz.write_all(&body)?;
        let file = gz
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        file.sync_all()?;
        self.files += 1;
        Ok(())
    }
}

fn hex_prefix(hash: &[u8]) -> String {
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
