#!/usr/bin/env python3
"""Trains sitga's fish species model and exports it as ONE ONNX graph.

Embeds every photo with the frozen EfficientNet-Lite0 backbone from
../shared/fish, fits a multinomial logistic-regression head on the train
split, reports validation accuracy and per-class recall, then appends the
head (MatMul + Add + Softmax) to the backbone graph so that the exported
model maps an image tensor straight to class probabilities. Writes
assets/models/fish-species-v1.onnx and its manifest.

    scripts/train_fish_model.py [--data ../shared/fish] [--out assets/models]

Run it through scripts/ml-env.sh (creates .venv with onnxruntime, numpy,
scikit-learn, pillow and onnx) or any Python with those packages.
"""

import argparse
import datetime
import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from sklearn.linear_model import LogisticRegression

HEIGHT, WIDTH = 200, 350
VERSION = "fish-species-v1"
UNKNOWN_THRESHOLD = 0.5

# English common names; Korean names only where they are certain.
NAMES = {
    "Dascyllus reticulatus": ("Reticulate dascyllus", None),
    "Plectroglyphidodon dickii": ("Blackbar devil", None),
    "Chromis chrysura": ("Stout-body chromis", None),
    "Amphiprion clarkii": ("Clark's anemonefish", "흰동가리"),
    "Chaetodon lunulatus": ("Oval butterflyfish", None),
    "Chaetodon trifascialis": ("Chevron butterflyfish", None),
    "Myripristis kuntee": ("Shoulderbar soldierfish", None),
    "Acanthurus nigrofuscus": ("Brown surgeonfish", None),
    "Hemigymnus fasciatus": ("Barred thicklip", None),
    "Neoniphon sammara": ("Sammara squirrelfish", None),
    "Abudefduf vaigiensis": ("Indo-Pacific sergeant", None),
    "Canthigaster valentini": ("Valentin's sharpnose puffer", None),
    "Pomacentrus moluccensis": ("Lemon damsel", None),
    "Zebrasoma scopas": ("Brushtail tang", None),
    "Hemigymnus melapterus": ("Blackeye thicklip", None),
    "Lutjanus fulvus": ("Blacktail snapper", None),
    "Scolopsis bilineata": ("Two-lined monocle bream", None),
    "Scaridae": ("Parrotfishes (family)", "비늘돔과"),
    "Pempheris vanicolensis": ("Vanikoro sweeper", None),
    "Zanclus cornutus": ("Moorish idol", "깃대돔"),
    "Neoglyphidodon nigroris": ("Black-and-gold chromis", None),
    "Balistapus undulatus": ("Orange-lined triggerfish", None),
    "Siganus fuscescens": ("Mottled spinefoot", "독가시치"),
}


def preprocess(path):
    """The serving contract: RGB, Lanczos resize to 350x200, /255, HWC float32.
    No EXIF rotation here: the training photos carry none; sitga applies the
    EXIF orientation of uploads before this same pipeline."""
    with Image.open(path) as img:
        rgb = img.convert("RGB").resize((WIDTH, HEIGHT), Image.LANCZOS)
        return np.asarray(rgb, dtype=np.float32) / 255.0


def load_split(root):
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    paths, labels = [], []
    for index, name in enumerate(classes):
        for p in sorted((root / name).glob("*.png")):
            paths.append(p)
            labels.append(index)
    return classes, paths, np.array(labels)


def embed(session, paths, batch=32):
    input_name = session.get_inputs()[0].name
    out = []
    for start in range(0, len(paths), batch):
        x = np.stack([preprocess(p) for p in paths[start : start + batch]])
        out.append(session.run(None, {input_name: x})[0])
        print(f"  embedded {min(start + batch, len(paths))}/{len(paths)}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return np.concatenate(out)


def export(backbone_path, weights, bias, out_path):
    model = onnx.load(str(backbone_path))
    graph = model.graph
    features = graph.output[0].name
    n_classes = weights.shape[0]
    graph.initializer.extend(
        [
            numpy_helper.from_array(weights.T.astype(np.float32), "head_weight"),
            numpy_helper.from_array(bias.astype(np.float32), "head_bias"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("MatMul", [features, "head_weight"], ["head_logits_raw"]),
            helper.make_node("Add", ["head_logits_raw", "head_bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ]
    )
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes])])
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--data", default=str(here.parent / "shared" / "fish"))
    parser.add_argument("--out", default=str(here / "assets" / "models"))
    args = parser.parse_args()
    data = pathlib.Path(args.data)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backbone = data / "efficientnet_lite0_backbone_200x350.onnx"

    session = ort.InferenceSession(str(backbone), providers=["CPUExecutionProvider"])
    classes, train_paths, y_train = load_split(data / "f4k" / "train")
    val_classes, val_paths, y_val = load_split(data / "f4k" / "val")
    assert classes == val_classes, "train and val must have the same classes"
    print(f"{len(classes)} classes, {len(train_paths)} train / {len(val_paths)} val photos", file=sys.stderr)
    x_train = embed(session, train_paths)
    x_val = embed(session, val_paths)

    head = LogisticRegression(max_iter=3000, C=1.0, class_weight="balanced")
    head.fit(x_train, y_train)
    predicted = head.predict(x_val)
    top1 = float((predicted == y_val).mean())
    recall = {}
    for index, name in enumerate(classes):
        mask = y_val == index
        recall[name] = float((predicted[mask] == index).mean()) if mask.any() else None
    print(f"validation top-1 accuracy: {top1:.4f}")
    for name, r in recall.items():
        shown = "n/a (no val photos)" if r is None else f"{r:.3f}"
        print(f"  recall {name}: {shown} ({int((y_val == classes.index(name)).sum())} val photos)")

    model_path = out / f"{VERSION}.onnx"
    export(backbone, head.coef_, head.intercept_, model_path)

    # The exported graph must give what sklearn gives.
    full = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    probe = np.stack([preprocess(p) for p in val_paths[:16]])
    ours = full.run(None, {full.get_inputs()[0].name: probe})[0]
    theirs = head.predict_proba(x_val[:16])
    assert np.abs(ours - theirs).max() < 1e-4, "exported head disagrees with sklearn"

    labels = []
    for index, folder in enumerate(classes):
        latin = folder.split("_", 1)[1].replace("_", " ")
        en, ko = NAMES[latin]
        labels.append({"index": index, "latin": latin, "name_en": en, "name_ko": ko})
    manifest = {
        "model": VERSION,
        "version": 1,
        "file": model_path.name,
        "input": {"name": full.get_inputs()[0].name, "layout": "NHWC", "height": HEIGHT, "width": WIDTH,
                  "channels": "RGB", "scaling": "pixel / 255", "resize_filter": "lanczos3",
                  "exif_orientation": "applied before resizing"},
        "output": {"name": "probabilities", "softmax": True},
        "unknown_threshold": UNKNOWN_THRESHOLD,
        "labels": labels,
        "training": {
            "data": "Fish4Knowledge subset (../shared/fish/f4k), trajectory-disjoint train/val",
            "backbone": "EfficientNet-Lite0, ImageNet weights, frozen",
            "head": "multinomial logistic regression (scikit-learn, class_weight=balanced)",
            "train_photos": len(train_paths),
            "val_photos": len(val_paths),
            "val_top1": round(top1, 4),
            "val_recall": recall,
            "trained_on": datetime.date.today().isoformat(),
        },
    }
    (out / f"{VERSION}.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {model_path} and its manifest")


if __name__ == "__main__":
    main()
