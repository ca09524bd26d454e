"""Builds the benchmark's DenseNet-121 and its test image (run once, in the bench venv).

Pretrained DenseNet-121 weights cannot be downloaded on these machines, so the network is
torchvision's DenseNet-121 architecture with fixed random weights (torch.manual_seed(SEED)).
The same weights are written twice, so both sides serve the very same network:

  densenet121.pt    state_dict, loaded by the Flask side (seed_server.py)
  densenet121.onnx  opset 17, input `input` NCHW float32 [N,3,224,224] (dynamic N),
                    output `logits` [N,1000], imported into atelier
  chelsea.jpg       scikit-image's `chelsea` photo (a cat, 451x300), JPEG quality 90

Usage: python export_model.py OUT_DIR
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

SEED = 532


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    model = torchvision.models.densenet121(weights=None).eval()
    torch.save(model.state_dict(), out / "densenet121.pt")

    example = torch.randn(1, 3, 224, 224)
    torch.onnx.export(
        model,
        (example,),
        str(out / "densenet121.onnx"),
        opset_version=17,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )

    # The ONNX file must compute what PyTorch computes (batch 2 exercises the dynamic axis).
    import onnxruntime

    batch = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        want = model(batch).numpy()
    session = onnxruntime.InferenceSession(str(out / "densenet121.onnx"))
    got = session.run(["logits"], {"input": batch.numpy()})[0]
    diff = float(np.abs(got - want).max())
    print(f"densenet121.onnx: max |onnx - torch| = {diff:.2e} over a batch of 2")
    if diff > 1e-3 or (got.argmax(1) != want.argmax(1)).any():
        sys.exit("the ONNX export does not match PyTorch")

    from skimage import data

    Image.fromarray(data.chelsea()).save(out / "chelsea.jpg", quality=90)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
