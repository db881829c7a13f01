//! A brine checkpoint loads into the PyTorch reference (`shared/reference/attn_unet.py`) and
//! gives the same eval output; a PyTorch state_dict loads into brine. Runs where python3 has
//! torch and safetensors; elsewhere it says loudly that it skipped.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use brine::nn::programs::{Inference, init_store};
use brine::nn::{Attention, Config};
use brine::rng::Rng;
use brine::{Backend, Cpu, checkpoint};

const SCRIPT: &str = r#"
import json, sys, torch
from safetensors.torch import load_file, save_file
sys.path.insert(0, sys.argv[1])
from attn_unet import AttnUNet
ckpt, io, back = sys.argv[2], sys.argv[3], sys.argv[4]
cfg = json.loads(open(io + ".json").read())
net = AttnUNet(**cfg)
net.load_state_dict(load_file(ckpt))
net.eval()
t = load_file(io)
with torch.no_grad():
    y = net(t["input"])
rel = ((y - t["output"]).norm() / t["output"].norm()).item()
print("relative difference", rel)
assert rel < 1e-4, rel
torch.manual_seed(3)
save_file(AttnUNet(**cfg).state_dict(), back)
"#;

#[test]
fn checkpoints_move_between_brine_and_pytorch() {
    let has_torch = Command::new("python3")
        .args(["-c", "import torch, safetensors.torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        let _ =
            writeln!(std::io::stderr(), "!!! SKIPPING PyTorch interop: python3 with torch and safetensors not found");
        return;
    }
    let b = Cpu;
    let cfg = Config { in_channels: 3, out_channels: 1, widths: vec![8, 16], attention: Attention::Cbam, gates: true };
    let dir = std::env::temp_dir().join(format!("brine-torch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ckpt, io, back) = (dir.join("brine.safetensors"), dir.join("io.safetensors"), dir.join("torch.safetensors"));
    let mut store = init_store(&b, &cfg, 5).unwrap();
    checkpoint::save(&b, &ckpt, &cfg, &store, None).unwrap();
    let shape = [2, 3, 16, 12];
    let x = Rng::new(8).normal_vec(shape.iter().product(), 1.0);
    let y = Inference::new(&cfg, shape).unwrap().run(&b, &mut store, &x).unwrap();
    let tensors = [("input", shape.to_vec(), x.clone()), ("output", vec![2, 1, 16, 12], b.download(&y).unwrap())];
    let views: Vec<(&str, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                *n,
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), bytemuck::cast_slice(v))
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &io).unwrap();
    std::fs::write(io.with_extension("safetensors.json"), serde_json::to_string(&cfg).unwrap()).unwrap();
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    let out = Command::new("python3")
        .args([
            "-c",
            SCRIPT,
            reference.to_str().unwrap(),
            ckpt.to_str().unwrap(),
            io.to_str().unwrap(),
            back.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The reverse: PyTorch's own state_dict, with no brine metadata, loads given the config.
    let (_, from_torch) = checkpoint::load(&b, &back, Some(&cfg)).unwrap();
    assert_eq!(from_torch.params.len(), store.params.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
