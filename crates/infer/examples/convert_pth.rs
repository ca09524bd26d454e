//! Converts a PyTorch EfficientNet-Lite checkpoint to ONNX and prints its sha256.
//!
//! `cargo run --release --example convert_pth -- CHECKPOINT.pth efficientnet-lite0 OUT.onnx [backbone]`
//!
//! With `backbone`, writes the stride-8/16 feature trunk instead of the classifier.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, architecture, output, backbone) = match args.as_slice() {
        [i, a, o] => (i, a, o, false),
        [i, a, o, flag] if flag == "backbone" => (i, a, o, true),
        _ => {
            eprintln!("usage: convert_pth CHECKPOINT ARCHITECTURE OUT.onnx [backbone]");
            return ExitCode::from(2);
        }
    };
    let result = std::fs::read(input)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            if backbone {
                atelier_infer::convert::checkpoint_to_backbone_onnx(&bytes, architecture)
            } else {
                atelier_infer::convert::checkpoint_to_onnx(&bytes, architecture)
            }
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
