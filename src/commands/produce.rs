//! `pipectl produce`: records from a file or a generator into a stream the
//! spec names (see `produce`). Every flag is checked before AWS is called;
//! a progress line on a terminal, a summary always; exit 1 when any record
//! was not delivered.

use super::emitln;
use crate::cli::{Global, ProduceArgs};
use crate::deployment::{Deployment, Reach};
use crate::produce::generate::{Generator, Kind};
use crate::produce::source::{self, CsvLines, Format, Source};
use crate::produce::{Pace, Totals};
use crate::{BadInput, Hinted};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) mod output;

pub async fn run(g: &Global, a: &ProduceArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &a.output {
        return output::write(g, a, out);
    }
    let mut make_source = None;
    let d = Deployment::open_checked(g, &a.spec, Reach::Upstream, false, |offline| {
        let spec = &offline.spec;
        check_stream(a, spec)?;
        make_source = Some(source_for(a, spec)?);
        Ok(())
    })
    .await?;
    let make_source = make_source.expect("checked before connecting");
    let spec = &d.loaded.as_ref().expect("opened from a spec").spec;
    let stream = spec.streams[&a.stream].name.clone();
    crate::cancel::install();

    let in_flight = a.in_flight.map_or(if d.aws.endpoint.is_some() { 1 } else { 4 }, usize::from);
    let pace = Pace { rate: a.rate, limit: a.limit, duration: a.duration, in_flight };
    let totals = Arc::new(Totals::default());
    let bar = progress(g.json, a.limit, totals.clone());
    let start = Instant::now();
    let result = crate::produce::produce(&d.aws, &stream, make_source()?, pace, totals.clone()).await;
    let took = start.elapsed();
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    summary(g.json, &stream, &totals, took);
    if let Err(e) = result {
        let not_found = e.downcast_ref::<crate::aws::AwsError>().is_some_and(|e| e.is_not_found());
        let hint = if not_found {
            format!("stream `{stream}` is not deployed here: run `pipectl apply` first")
        } else {
            "fix the cause and produce again; records already delivered stay in the stream".into()
        };
        return Err(e.context(Hinted { message: format!("producing to `{stream}` stopped"), hint }));
    }
    if crate::cancel::requested() {
        return Ok(ExitCode::from(crate::cancel::EXIT_CODE));
    }
    let lost = Totals::get(&totals.failed) + Totals::get(&totals.skipped);
    if lost > 0 {
        return Err(Hinted {
            message: format!("{lost} record(s) were not delivered: {}", totals.reasons_text()),
            hint: "the summary counts them; failed records were retried with backoff before being given up".into(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--stream` names a stream of the spec (exit 2 otherwise).
fn check_stream(a: &ProduceArgs, spec: &crate::spec::Spec) -> anyhow::Result<()> {
    if !spec.streams.contains_key(&a.stream) {
        let known: Vec<&str> = spec.streams.keys().map(String::as_str).collect();
        return Err(BadInput::error(
            format!("`--stream {}` names no stream of the spec", a.stream),
            format!(
                "give a key of `streams:` ({})",
                if known.is_empty() { "the spec has none".into() } else { known.join(", ") }
            ),
        ));
    }
    Ok(())
}

/// The field whose value keys each record: as given (`random`: none),
/// else `sensor_id` for sensor readings, as Lambda's tumbling windows are
/// per shard and a sensor spread over shards gets partial windows.
fn key_field(a: &ProduceArgs) -> Option<String> {
    match a.partition_key.as_deref() {
        Some("random") => None,
        Some(k) => Some(k.to_string()),
        None if a.generate == Some(Kind::Sensor) => Some("sensor_id".into()),
        None => None,
    }
}

/// How CSV is named and cut: its field names and delimiter, from the flags,
/// else the agent flow into this stream.
fn csv_naming(a: &ProduceArgs, spec: &crate::spec::Spec) -> anyhow::Result<(Vec<String>, char)> {
    let flow_csv = spec
        .agents
        .values()
        .flat_map(|h| &h.flows)
        .filter(|f| f.stream == a.stream)
        .find_map(|f| f.csv_to_json.clone());
    let delimiter = match (a.delimiter, &flow_csv) {
        (Some(c), _) => c,
        (None, Some(c)) => c.delimiter.chars().next().unwrap_or(','),
        (None, None) => ',',
    };
    if !delimiter.is_ascii() {
        return Err(BadInput::error(
            format!("`--delimiter {delimiter}` is not one ASCII character"),
            "e.g. `--delimiter ';'`",
        ));
    }
    let fields = if a.fields.is_empty() { flow_csv.map(|c| c.fields).unwrap_or_default() } else { a.fields.clone() };
    Ok((fields, delimiter))
}

/// With `--generate` and `--format csv`: the generated rows' field names
/// (the taxi columns when none are given) and the column in each place.
fn generated_csv(a: &ProduceArgs, fields: Vec<String>) -> anyhow::Result<Option<(Vec<String>, Vec<usize>)>> {
    let Some(kind) = a.generate else { return Ok(None) };
    if a.format != Some(Format::Csv) {
        return Ok(None);
    }
    if kind != Kind::Taxi {
        return Err(BadInput::error(
            "`--format csv` makes the agent lab's taxi CSV rows; this generator makes JSON",
            "use `--generate taxi --format csv`, or leave out `--format`",
        ));
    }
    let fields = if fields.is_empty() { crate::taxi::COLUMNS.iter().map(|c| c.to_string()).collect() } else { fields };
    let order = crate::taxi::order(&fields).map_err(|why| {
        BadInput::error(
            format!("the CSV fields cannot name the taxi rows: {why}"),
            "give the taxi columns by name (`--fields VendorID,total_amount`), or 17 fields",
        )
    })?;
    Ok(Some((fields, order)))
}

/// Checks the source flags now (exit 2, before AWS) and returns what opens
/// the source once the stream is known.
fn source_for(a: &ProduceArgs, spec: &crate::spec::Spec) -> anyhow::Result<impl FnOnce() -> anyhow::Result<Source>> {
    let key_field = key_field(a);
    let (generator, seed) = (a.generate, a.seed);
    let (fields, delimiter) = csv_naming(a, spec)?;
    let generated = generated_csv(a, fields.clone())?;
    let file = a.file.clone();
    let input: Option<(Box<dyn BufRead + Send>, String)> = match &file {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some((Box::new(std::io::BufReader::new(std::io::stdin())), "-".into())),
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| {
                BadInput::error(
                    format!("cannot read `--file {}`: {e}", p.display()),
                    "give a readable file, or `-` for standard input",
                )
            })?;
            Some((Box::new(std::io::BufReader::with_capacity(1 << 20, f)), p.display().to_string()))
        }
    };
    let format = a.format;
    Ok(move || -> anyhow::Result<Source> {
        let Some((mut input, name)) = input else {
            let kind = generator.expect("clap requires --file or --generate");
            let generator = Generator::new(kind, seed);
            return Ok(match generated {
                Some((fields, order)) => {
                    let lines = CsvLines::new(generator, order, delimiter as u8);
                    Source::csv(Box::new(std::io::BufReader::new(lines)), fields, delimiter as u8, key_field)?
                }
                None => Source::Generate { generator, key_field },
            });
        };
        let first = input.fill_buf()?.to_vec();
        Ok(match format.unwrap_or_else(|| source::sniff(&name, &first)) {
            Format::Json => Source::json(input, key_field),
            Format::Csv => Source::csv(input, fields, delimiter as u8, key_field)?,
        })
    })
}

type Ticker = tokio::task::JoinHandle<()>;

/// A live line on a terminal: records, records/s, bytes delivered.
fn progress(json: bool, limit: Option<u64>, totals: Arc<Totals>) -> Option<(indicatif::ProgressBar, Ticker)> {
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match limit {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = if limit.is_some() {
        "{elapsed_precise} [{bar:30}] {pos}/{len} records, {per_sec}, {msg}"
    } else {
        "{elapsed_precise} {spinner} {pos} records, {per_sec}, {msg}"
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("template").progress_chars("=> "));
    let b = bar.clone();
    let ticker = tokio::spawn(async move {
        loop {
            b.set_position(Totals::get(&totals.delivered));
            b.set_message(format!("{} delivered", bytes(Totals::get(&totals.delivered_bytes))));
            if crate::cancel::sleep(Duration::from_millis(200)).await.is_err() {
                break;
            }
        }
    });
    Some((bar, ticker))
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn summary(json: bool, stream: &str, t: &Totals, took: Duration) {
    let get = Totals::get;
    let secs = took.as_secs_f64().max(1e-6);
    let rate = get(&t.delivered) as f64 / secs;
    if json {
        let doc = serde_json::json!({
            "format_version": "1",
            "stream": stream,
            "read": get(&t.read),
            "delivered": get(&t.delivered),
            "delivered_bytes": get(&t.delivered_bytes),
            "failed": get(&t.failed),
            "skipped": get(&t.skipped),
            "put_records_calls": get(&t.calls),
            "retried": get(&t.retried),
            "seconds": (secs * 1000.0).round() / 1000.0,
            "records_per_second": rate.round(),
            "reasons": *t.reasons.lock().expect("reasons lock"),
        });
        emitln!("{doc}");
        return;
    }
    emitln!(
        "produced to `{stream}`: {} delivered, {} failed, {} skipped of {} read; {} in {:.1} s ({:.0} records/s); {} PutRecords calls, {} entries retried",
        get(&t.delivered),
        get(&t.failed),
        get(&t.skipped),
        get(&t.read),
        bytes(get(&t.delivered_bytes)),
        secs,
        rate,
        get(&t.calls),
        get(&t.retried),
    );
}
