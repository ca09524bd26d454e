//! Measures EfficientNet-Lite0 on ONNX Runtime and on rten: median latency and
//! throughput at batch 1, 2, 4 and 8, with a given number of intra-op threads (default 2).
//!
//! `cargo run --release --example latency -- [THREADS] [ITERATIONS] [spin]`
//! (fetches the model and ONNX Runtime into the default cache on first use).

use std::time::Instant;

use atelier_infer::{
    Registry, Runtime, RuntimeConfig, RuntimePreference, Tensor, default_cache_dir,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let iterations: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(30);
    let spin = args.next().as_deref() == Some("spin");
    let model = Registry::open(&default_cache_dir())?.fetch("efficientnet-lite0")?;
    let config = RuntimeConfig {
        preference: RuntimePreference::OnnxRuntime,
        intra_threads: threads,
        intra_op_spinning: spin,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::auto(&config)?;
    println!(
        "{} | {threads} threads | {iterations} iterations",
        runtime.reason()
    );
    for (name, mut m) in [
        ("onnxruntime", runtime.load(&model.path)?),
        ("rten", runtime.load_rten(&model.path)?),
    ] {
        for batch in [1usize, 2, 4, 8] {
            let x = Tensor::new(vec![batch, 3, 224, 224], vec![0.1; batch * 3 * 224 * 224])?;
            for _ in 0..3 {
                m.run(&x)?;
            }
            let mut times: Vec<f64> = (0..iterations)
                .map(|_| {
                    let t = Instant::now();
                    m.run(&x).map(|_| t.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<Result<_, _>>()?;
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            println!(
                "{name:12} batch {batch}: median {median:7.2} ms, {:7.1} img/s",
                batch as f64 * 1e3 / median
            );
        }
    }
    Ok(())
}
