//! `produce --generate KIND --output FILE`: the generated lines written to
//! a file (or standard output) instead of sent, offline: the spec is read
//! for the stream's agent flow (its CSV fields and delimiter), and no AWS
//! call is made, so no credentials are needed. A user copies the file
//! where an agent watches.

use super::{csv_naming, generated_csv};
use crate::cli::{Global, ProduceArgs};
use crate::produce::generate::Generator;
use crate::produce::source::CsvLines;
use crate::BadInput;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn write(g: &Global, a: &ProduceArgs, out: &Path) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &crate::deployment::options(g))?;
    super::check_stream(a, &loaded.spec)?;
    let (fields, delimiter) = csv_naming(a, &loaded.spec)?;
    let generated = generated_csv(a, fields)?;
    let kind = a.generate.expect("clap requires --generate with --output");
    let limit = a.limit.expect("clap requires --limit with --output");
    let to_stdout = out.as_os_str() == "-";
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        let f = std::fs::File::create(out).map_err(|e| {
            BadInput::error(format!("cannot write `--output {}`: {e}", out.display()), "give a writable path, or `-`")
        })?;
        Box::new(f)
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    let mut generator = Generator::new(kind, a.seed);
    let written = match generated {
        Some((_, order)) => {
            let mut lines = CsvLines::new(generator, order, delimiter as u8);
            (0..limit).try_for_each(|_| sink.write_all(&lines.next_line())).and_then(|()| sink.flush())
        }
        None => (0..limit)
            .try_for_each(|_| {
                let mut line = serde_json::to_vec(&generator.record()).expect("generated JSON serializes");
                line.push(b'\n');
                sink.write_all(&line)
            })
            .and_then(|()| sink.flush()),
    };
    match written {
        // A reader that has gone (`| head`) has what it wanted.
        Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(anyhow::Error::from(e).context(format!("writing `{}`", out.display()))),
        Ok(()) => {}
    }
    if !to_stdout {
        crate::commands::emitln!("wrote {limit} lines to `{}`", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
