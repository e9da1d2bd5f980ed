//! Logging setup, and the optional trace export. Logs go to stderr so that stdout carries
//! only command output (`parley config > parley.toml`, `KEY=$(parley admin create-api-key
//! … | tail -1)`).
use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use parley_engine::settings::{LogFormat, LogSettings};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes the spans still waiting for export when dropped (at the end of `main`).
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("exporting the last spans failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber: `RUST_LOG` if set, else `log.level` from settings;
/// with `log.otlp_endpoint`, spans are exported there too.
pub fn init(log: &LogSettings) -> anyhow::Result<Tracing> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).context("invalid RUST_LOG")?
        }
        _ => EnvFilter::try_new(&log.level)
            .with_context(|| format!("invalid setting `log.level` ({:?})", log.level))?,
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; in files they are noise.
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match log.format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let provider = log.otlp_endpoint.as_ref().map(exporter).transpose()?;
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("parley")));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    Ok(Tracing { provider })
}

/// Spans are batched and sent from the SDK's own thread: exporting never blocks a request
/// or a call, and a collector that is down only loses spans.
fn exporter(endpoint: &url::Url) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.as_str())
        .build()
        .with_context(|| format!("invalid setting `log.otlp_endpoint` ({endpoint})"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("parley")
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
