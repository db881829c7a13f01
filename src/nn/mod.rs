//! The attention U-Net of `shared/reference/SPEC.md`, built as a graph. Parameter and
//! buffer names are PyTorch's `state_dict` names, so checkpoints move between the two.

pub mod init;
pub mod programs;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::graph::{Graph, V};
use crate::ops::Act;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attention {
    None,
    Se,
    Cbam,
    Ca,
}

impl std::str::FromStr for Attention {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => Attention::None,
            "se" => Attention::Se,
            "cbam" => Attention::Cbam,
            "ca" => Attention::Ca,
            _ => return Err(Error::config("AttnUNet", format!("attention `{s}` is not one of none, se, cbam, ca"))),
        })
    }
}

/// `AttnUNet(in_channels, out_channels, widths, attention, gates)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub in_channels: usize,
    pub out_channels: usize,
    pub widths: Vec<usize>,
    pub attention: Attention,
    pub gates: bool,
}

/// Which attention an attention map belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    /// An attention gate's per-pixel coefficients on a skip connection, (N, 1, H, W).
    Gate,
    /// CBAM's spatial map, (N, 1, H, W).
    CbamSpatial,
    /// CBAM's channel weights, (N, C, 1, 1).
    CbamChannel,
    /// SE's channel weights, (N, C, 1, 1).
    Se,
    /// Coordinate attention along height, (N, C, H, 1).
    CaH,
    /// Coordinate attention along width, (N, C, 1, W).
    CaW,
}

impl MapKind {
    /// Whether the map varies over the image (so it can be compared with a salt mask).
    pub fn spatial(self) -> bool {
        matches!(self, MapKind::Gate | MapKind::CbamSpatial)
    }
}

/// Where the network multiplies a value by an attention map: `output = input · σ(logits)`,
/// the map broadcast over `input`. `level` counts halvings of the image (0: full size).
#[derive(Clone, Debug)]
pub struct Tap {
    /// "down.1.cbam_spatial", "gate.0", … (the block's state_dict prefix and the kind).
    pub name: String,
    pub kind: MapKind,
    pub level: usize,
    pub logits: V,
    pub input: V,
    pub output: V,
}

/// "cbam+gates, widths [8, 16, 32]", for messages.
pub fn describe(cfg: &Config) -> String {
    format!("{:?}{}, widths {:?}", cfg.attention, if cfg.gates { "+gates" } else { "" }, cfg.widths).to_lowercase()
}

/// Levels a network may have (each halves the image).
pub const MAX_LEVELS: usize = 12;
/// Channels any layer may have.
pub const MAX_CHANNELS: usize = 1 << 16;

impl Config {
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 || self.out_channels == 0 || self.widths.is_empty() || self.widths.contains(&0) {
            return Err(Error::config("AttnUNet", format!("channels and widths must be positive: {self:?}")));
        }
        if self.widths.len() > MAX_LEVELS {
            return Err(Error::config(
                "AttnUNet",
                format!("{} levels (--widths): at most {MAX_LEVELS}, each halving the image", self.widths.len()),
            ));
        }
        let widest = self.widths.iter().chain([&self.in_channels, &self.out_channels]).max().copied().unwrap_or(0);
        if widest > MAX_CHANNELS {
            return Err(Error::config(
                "AttnUNet",
                format!("{widest} channels (--widths or the data's shots): at most {MAX_CHANNELS}"),
            ));
        }
        Ok(())
    }

    /// Checks a training batch: besides `check_input`, BatchNorm at the deepest level needs
    /// more than one value per channel (batch × the image halved L−1 times).
    pub fn check_train_input(&self, x: [usize; 4]) -> Result<()> {
        self.check_input(x)?;
        let f = 1usize << (self.widths.len() - 1);
        if x[0] * (x[2] / f) * (x[3] / f) < 2 {
            return Err(Error::shape(
                "AttnUNet",
                "input",
                format!(
                    "{x:?}: after {} halvings the batch holds one value per channel, too few for BatchNorm's \
                     training statistics: use fewer levels (--widths), a larger batch or a larger image",
                    self.widths.len() - 1
                ),
            ));
        }
        Ok(())
    }

    /// Checks an input shape against the config: channels, and H, W divisible by 2^(L−1).
    pub fn check_input(&self, x: [usize; 4]) -> Result<()> {
        self.validate()?;
        if x[1] != self.in_channels {
            return Err(Error::shape(
                "AttnUNet",
                "input",
                format!("{x:?} has {} channels, the network takes {}", x[1], self.in_channels),
            ));
        }
        let f = 1usize << (self.widths.len() - 1);
        if x[0] == 0 || x[2] == 0 || x[3] == 0 || !x[2].is_multiple_of(f) || !x[3].is_multiple_of(f) {
            return Err(Error::shape(
                "AttnUNet",
                "input",
                format!(
                    "{x:?}: H and W must be positive multiples of {f} (2^{} for {} levels)",
                    self.widths.len() - 1,
                    self.widths.len()
                ),
            ));
        }
        Ok(())
    }

    /// Records the forward pass on `x` [n, in_channels, h, w]; returns [n, out_channels, h, w].
    pub fn forward(&self, g: &mut Graph, x: V, train: bool) -> Result<V> {
        Ok(self.forward_tapped(g, x, train)?.0)
    }

    /// `forward`, also returning where each attention map multiplies a value, in the order
    /// the network applies them.
    pub fn forward_tapped(&self, g: &mut Graph, x: V, train: bool) -> Result<(V, Vec<Tap>)> {
        let xs: [usize; 4] = g.shape(x).try_into().map_err(|_| Error::shape("AttnUNet", "input", "must be 4-D"))?;
        self.check_input(xs)?;
        let mut b = Builder { g, train, attention: self.attention, taps: vec![], level: 0 };
        let l = self.widths.len();
        let (mut x, mut cin, mut skips) = (x, self.in_channels, vec![]);
        for (i, &w) in self.widths.iter().enumerate() {
            b.level = i;
            x = b.stage(x, &format!("down.{i}"), cin, w)?;
            cin = w;
            if i + 1 < l {
                skips.push(x);
                x = b.g.max_pool2d(x)?;
            }
        }
        for k in 0..l - 1 {
            let i = l - 2 - k;
            b.level = i;
            let (wi, wn) = (self.widths[i], self.widths[i + 1]);
            let w = b.g.param(&format!("up.{k}.weight"), &[wn, wi, 2, 2])?;
            let bias = b.g.param(&format!("up.{k}.bias"), &[wi])?;
            let u = b.g.conv_transpose2d(x, w, Some(bias), 2, 0)?;
            let s = if self.gates {
                b.attention_gate(u, skips[i], &format!("gate.{k}"), wi, wi, (wi / 2).max(1))?
            } else {
                skips[i]
            };
            let cat = b.g.concat(s, u, 1)?;
            x = b.stage(cat, &format!("dec.{k}"), 2 * wi, wi)?;
        }
        let y = b.conv(x, "head", self.widths[0], self.out_channels, 1, true)?;
        Ok((y, b.taps))
    }

    /// Parameter count.
    pub fn parameters(&self) -> Result<usize> {
        self.validate()?;
        let f = 1 << (self.widths.len() - 1);
        let mut g = Graph::new();
        let x = g.input("input", &[2, self.in_channels, f, f]);
        self.forward(&mut g, x, false)?;
        Ok(g.params().iter().map(|(_, s)| s.iter().product::<usize>()).sum())
    }
}

struct Builder<'g> {
    g: &'g mut Graph,
    train: bool,
    attention: Attention,
    taps: Vec<Tap>,
    /// The level of the block being built.
    level: usize,
}

impl Builder<'_> {
    /// `x · σ(z)`, recorded as an attention map of `kind` for block `prefix`.
    fn gate(&mut self, x: V, z: V, prefix: &str, kind: MapKind) -> Result<V> {
        let y = self.g.gate(x, z)?;
        let suffix = match kind {
            MapKind::Gate => "",
            MapKind::CbamSpatial => ".cbam_spatial",
            MapKind::CbamChannel => ".cbam_channel",
            MapKind::Se => ".se",
            MapKind::CaH => ".ca_h",
            MapKind::CaW => ".ca_w",
        };
        let name = format!("{}{suffix}", prefix.trim_end_matches(".attn"));
        self.taps.push(Tap { name, kind, level: self.level, logits: z, input: x, output: y });
        Ok(y)
    }

    fn conv(&mut self, x: V, prefix: &str, cin: usize, cout: usize, k: usize, bias: bool) -> Result<V> {
        let w = self.g.param(&format!("{prefix}.weight"), &[cout, cin, k, k])?;
        let b = if bias { Some(self.g.param(&format!("{prefix}.bias"), &[cout])?) } else { None };
        self.g.conv2d(x, w, b, 1, k / 2)
    }

    fn bn(&mut self, x: V, prefix: &str) -> Result<V> {
        self.g.batch_norm(x, prefix, self.train)
    }

    fn conv_bn_relu(&mut self, x: V, prefix: &str, cin: usize, cout: usize) -> Result<V> {
        let y = self.conv(x, &format!("{prefix}.conv"), cin, cout, 3, false)?;
        let y = self.bn(y, &format!("{prefix}.bn"))?;
        Ok(self.g.act(Act::Relu, y))
    }

    fn stage(&mut self, x: V, prefix: &str, cin: usize, cout: usize) -> Result<V> {
        let y = self.conv_bn_relu(x, &format!("{prefix}.block.c1"), cin, cout)?;
        let y = self.conv_bn_relu(y, &format!("{prefix}.block.c2"), cout, cout)?;
        let p = format!("{prefix}.attn");
        match self.attention {
            Attention::None => Ok(y),
            Attention::Se => self.se(y, &p, cout),
            Attention::Cbam => self.cbam(y, &p, cout),
            Attention::Ca => self.coord(y, &p, cout),
        }
    }

    /// fc2(ReLU(fc1(s))), the MLP that SE and CBAM share.
    fn mlp(&mut self, s: V, prefix: &str, c: usize) -> Result<V> {
        let h = (c / 16).max(4);
        let a = self.conv(s, &format!("{prefix}.fc1"), c, h, 1, true)?;
        let a = self.g.act(Act::Relu, a);
        self.conv(a, &format!("{prefix}.fc2"), h, c, 1, true)
    }

    fn se(&mut self, x: V, prefix: &str, c: usize) -> Result<V> {
        let s = self.g.mean(x, &[2, 3])?;
        let z = self.mlp(s, prefix, c)?;
        self.gate(x, z, prefix, MapKind::Se)
    }

    fn cbam(&mut self, x: V, prefix: &str, c: usize) -> Result<V> {
        let avg = self.g.mean(x, &[2, 3])?;
        let mx = self.g.max(x, &[2, 3])?;
        let (za, zm) = (self.mlp(avg, prefix, c)?, self.mlp(mx, prefix, c)?);
        let z = self.g.add(za, zm)?;
        let x1 = self.gate(x, z, prefix, MapKind::CbamChannel)?;
        let (cm, cx) = (self.g.mean(x1, &[1])?, self.g.max(x1, &[1])?);
        let maps = self.g.concat(cm, cx, 1)?;
        let s = self.conv(maps, &format!("{prefix}.spatial"), 2, 1, 7, true)?;
        self.gate(x1, s, prefix, MapKind::CbamSpatial)
    }

    fn coord(&mut self, x: V, prefix: &str, c: usize) -> Result<V> {
        let [n, _, h, w]: [usize; 4] =
            self.g.shape(x).try_into().map_err(|_| Error::shape("coordinate attention", "x", "must be 4-D"))?;
        let mip = (c / 32).max(8);
        let x_h = self.g.mean(x, &[3])?; // n,c,h,1
        let x_w = self.g.mean(x, &[2])?; // n,c,1,w
        let x_w = self.g.reshape(x_w, &[n, c, w, 1])?;
        let y = self.g.concat(x_h, x_w, 2)?; // n,c,h+w,1
        let y = self.conv(y, &format!("{prefix}.conv1"), c, mip, 1, false)?;
        let y = self.bn(y, &format!("{prefix}.bn1"))?;
        let y = self.g.act(Act::HSwish, y);
        let (y_h, y_w) = self.g.split(y, h, 2)?;
        let a_h = self.conv(y_h, &format!("{prefix}.conv_h"), mip, c, 1, true)?; // n,c,h,1
        let a_w = self.conv(y_w, &format!("{prefix}.conv_w"), mip, c, 1, true)?; // n,c,w,1
        let a_w = self.g.reshape(a_w, &[n, c, 1, w])?;
        let xh = self.gate(x, a_h, prefix, MapKind::CaH)?;
        self.gate(xh, a_w, prefix, MapKind::CaW)
    }

    fn attention_gate(&mut self, gsig: V, x: V, prefix: &str, cg: usize, cx: usize, cint: usize) -> Result<V> {
        let a = self.conv(gsig, &format!("{prefix}.wg"), cg, cint, 1, false)?;
        let a = self.bn(a, &format!("{prefix}.bn_g"))?;
        let b = self.conv(x, &format!("{prefix}.wx"), cx, cint, 1, false)?;
        let b = self.bn(b, &format!("{prefix}.bn_x"))?;
        let s = self.g.add(a, b)?;
        let s = self.g.act(Act::Relu, s);
        let p = self.conv(s, &format!("{prefix}.psi"), cint, 1, 1, false)?;
        let p = self.bn(p, &format!("{prefix}.bn_psi"))?;
        self.gate(x, p, prefix, MapKind::Gate)
    }
}
