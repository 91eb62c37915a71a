#!/usr/bin/env python3
"""Reference for the Rust pipeline: preprocess an image the way Pillow
does (RGB, LANCZOS to 350x200, /255) and run the backbone with
onnxruntime. Writes JSON {"tensor": [...], "features": [...]}.

    fish_reference.py BACKBONE.onnx IMAGE OUT.json
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

model, image, out = sys.argv[1:4]
with Image.open(image) as img:
    x = np.asarray(img.convert("RGB").resize((350, 200), Image.LANCZOS), dtype=np.float32) / 255.0
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
features = session.run(None, {session.get_inputs()[0].name: x[None]})[0][0]
json.dump({"tensor": x.reshape(-1).tolist(), "features": features.tolist()}, open(out, "w"))
