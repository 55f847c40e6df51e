"""Reads what `cargo run --release --features serde --example save_and_reload` wrote, from Python:
the safetensors export of the parameters (by their bijectors names) and the JSON model file, and
checks that both hold the same weights. Needs `pip install safetensors numpy`."""
import json
import pathlib

import numpy as np
from safetensors.numpy import load_file

out = pathlib.Path(__file__).parent / "output"
params = load_file(str(out / "moons_params.safetensors"))
model = json.loads((out / "moons_flow.json").read_text())
assert model["format"] == "bijectors" and model["version"] == 1

layers = model["model"]["bijector"]["layers"]
checked = 0
for i, layer in enumerate(layers):
    net = layer["state"]["conditioner"]
    for k, (w, b) in enumerate(zip(net["weights"], net["biases"])):
        for name, t in ((f"{i}.net.w{k}", w), (f"{i}.net.b{k}", b)):
            a = np.array(t["data"], dtype=np.float32).reshape(t["shape"])
            assert t["dtype"] == "f32" and params[name].dtype == np.float32, name
            assert np.array_equal(a, params[name]), name
            checked += 1
assert checked == len(params), (checked, len(params))
print(f"{len(params)} parameter arrays, {sum(p.size for p in params.values())} values: "
      f"safetensors and JSON agree; {len(layers)} layers of kind {layers[0]['kind']}")
