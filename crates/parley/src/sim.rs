//! `parley sim`: the simulators on their own, with the sandbox credentials.
use crate::cli::SimArgs;
use anyhow::Context;
use parley_engine::telephony::sandbox_credentials as creds;
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig};
use parley_sim::personas::PERSONAS;
use parley_sim::twilio::{TwilioSim, TwilioSimConfig};

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let twilio = TwilioSim::spawn(
            TwilioSimConfig {
                account_sid: creds::TWILIO_ACCOUNT_SID.into(),
                auth_token: creds::TWILIO_AUTH_TOKEN.into(),
                speed: args.speed,
                chaos_seed: args.chaos_seed,
                ..TwilioSimConfig::default()
            },
            args.twilio_listen,
        )
        .await
        .with_context(|| format!("cannot listen on {}", args.twilio_listen))?;
        let elevenlabs = ElevenLabsSim::spawn(
            ElevenLabsSimConfig {
                api_key: creds::ELEVENLABS_API_KEY.into(),
                webhook_url: args.webhook_url.clone(),
                webhook_secret: creds::ELEVENLABS_WEBHOOK_SECRET.into(),
                ..ElevenLabsSimConfig::default()
            }
            .with_speed(args.speed),
            args.elevenlabs_listen,
        )
        .await
        .with_context(|| format!("cannot listen on {}", args.elevenlabs_listen))?;
        println!("Twilio simulator:     {}", twilio.base_url);
        println!(
            "  account SID {} / auth token {}",
            creds::TWILIO_ACCOUNT_SID,
            creds::TWILIO_AUTH_TOKEN
        );
        println!("ElevenLabs simulator: {}", elevenlabs.base_url);
        println!(
            "  xi-api-key {} / webhook secret {}",
            creds::ELEVENLABS_API_KEY,
            creds::ELEVENLABS_WEBHOOK_SECRET
        );
        println!("Simulated callees:");
        for p in PERSONAS {
            println!("  {}  {}", p.number, p.name);
        }
        crate::shutdown::signal().await;
        twilio.stop().await;
        elevenlabs.stop().await;
        Ok(())
    })
}
