"""The seed's design (COMPSCI 532 project 2), rebuilt for the benchmark.

A Flask app with one route: POST / with a multipart field `file` -> PyTorch DenseNet-121
behind torchvision's evaluation transform -> {"class_id": ..., "class_name": ...}, the
class looked up in Keras' imagenet_class_index.json. Everything is loaded before serving,
as in the seed. Two deliberate differences, both in the seed's favour: inference runs under
torch.inference_mode() and the image is converted to RGB.

Settings (environment):
  SEED_WEIGHTS      densenet121.pt written by export_model.py (the benchmark's weights)
  SEED_CLASS_INDEX  imagenet_class_index.json
  TORCH_THREADS     torch intra-op threads per process (default 2)

Flask's dev server, as in the seed:  python seed_server.py HOST PORT
gunicorn:                            gunicorn -w 2 -b HOST:PORT seed_server:app
"""

import io
import json
import os
import sys

import torch
import torchvision
from flask import Flask, jsonify, request
from PIL import Image
from torchvision import transforms

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))

with open(os.environ["SEED_CLASS_INDEX"]) as f:
    CLASS_INDEX = json.load(f)

MODEL = torchvision.models.densenet121(weights=None)
MODEL.load_state_dict(torch.load(os.environ["SEED_WEIGHTS"], weights_only=True))
MODEL.eval()

TRANSFORM = transforms.Compose(
    [
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ]
)

app = Flask(__name__)


def predict(image_bytes):
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    batch = TRANSFORM(image).unsqueeze(0)
    with torch.inference_mode():
        index = int(MODEL(batch).argmax(1).item())
    class_id, class_name = CLASS_INDEX[str(index)]
    return class_id, class_name


@app.route("/", methods=["POST"])
def classify():
    class_id, class_name = predict(request.files["file"].read())
    return jsonify({"class_id": class_id, "class_name": class_name})


if __name__ == "__main__":
    app.run(host=sys.argv[1], port=int(sys.argv[2]))
