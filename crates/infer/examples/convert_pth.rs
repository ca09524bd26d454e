//! Converts a PyTorch EfficientNet-Lite checkpoint to ONNX and prints its sha256.
//!
//! `cargo run --release --example convert_pth -- CHECKPOINT.pth efficientnet-lite0 OUT.onnx`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, architecture, output] = args.as_slice() else {
        eprintln!("usage: convert_pth CHECKPOINT ARCHITECTURE OUT.onnx");
        return ExitCode::from(2);
    };
    let result = std::fs::read(input)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            atelier_infer::convert::checkpoint_to_onnx(&bytes, architecture)
                .map_err(|e| e.to_string())
        })
        .and_then(|onnx| {
            std::fs::write(output, &onnx).map_err(|e| e.to_string())?;
            Ok(atelier_infer::download::sha256_bytes(&onnx))
        });
    match result {
        Ok(sha) => {
            println!("{sha}  {output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
