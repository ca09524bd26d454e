"""The seed's design (toy_application), rebuilt for the benchmark: Flask + OpenCV's
CascadeClassifier behind gunicorn. POST /detect with a multipart `file` -> JSON boxes, with the
same cascade and parameters as atelier's side (frontalface_default, scale 1.1, 3 neighbours).

Run: CASCADE=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml \
     gunicorn -w 2 -b 127.0.0.1:PORT seed_app:app
"""

import os

import cv2
import numpy as np
from flask import Flask, jsonify, request

CLASSIFIER = cv2.CascadeClassifier(os.environ["CASCADE"])
app = Flask(__name__)


@app.post("/detect")
def detect():
    data = np.frombuffer(request.files["file"].read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        return jsonify(error="not an image"), 400
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    boxes = CLASSIFIER.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3)
    return jsonify(boxes=[dict(x=int(x), y=int(y), width=int(w), height=int(h)) for x, y, w, h in boxes])
