//! Velocity-model metrics with OpenFWI's conventions: MAE and RMSE on velocities
//! normalised to [-1, 1], SSIM on [0, 1] (an 11×11 Gaussian window, σ = 1.5, zero padding,
//! C1 = 0.01², C2 = 0.03², averaged over the map, as the `pytorch_ssim` package OpenFWI uses).

use crate::error::{Error, Result};

fn same_len(what: &str, a: &[f32], b: &[f32]) -> Result<()> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::shape(what, "prediction", format!("has {} values, the truth {}", a.len(), b.len())));
    }
    Ok(())
}

/// Mean absolute error.
pub fn mae(pred: &[f32], truth: &[f32]) -> Result<f64> {
    same_len("mae", pred, truth)?;
    Ok(pred.iter().zip(truth).map(|(p, t)| (*p as f64 - *t as f64).abs()).sum::<f64>() / pred.len() as f64)
}

/// Root mean square error.
pub fn rmse(pred: &[f32], truth: &[f32]) -> Result<f64> {
    same_len("rmse", pred, truth)?;
    let mse = pred.iter().zip(truth).map(|(p, t)| (*p as f64 - *t as f64).powi(2)).sum::<f64>() / pred.len() as f64;
    Ok(mse.sqrt())
}

/// SSIM of two single-channel h×w images with values in [0, 1] (computed as the `ssim`
/// loss term's fast path does, in f64).
pub fn ssim(pred: &[f32], truth: &[f32], h: usize, w: usize) -> Result<f64> {
    same_len("ssim", pred, truth)?;
    if h * w != pred.len() {
        return Err(Error::shape("ssim", "prediction", format!("has {} values, not {h}x{w}", pred.len())));
    }
    Ok(crate::fast::ssim::mean_similarity(pred, truth, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_score_perfectly() {
        let img: Vec<f32> = (0..70 * 70).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        assert!((ssim(&img, &img, 70, 70).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(mae(&img, &img).unwrap(), 0.0);
        assert_eq!(rmse(&img, &img).unwrap(), 0.0);
    }

    #[test]
    fn ssim_matches_pytorch_ssim() {
        // Reference: pytorch_ssim's formula (conv2d with the 11x11 Gaussian, padding 5) run
        // in PyTorch float64 on these same f32 images gave 0.8430597079.
        let a: Vec<f32> = (0..70 * 70).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        let b: Vec<f32> = (0..70 * 70)
            .map(|i| (((i * 37) % 101) as f32 / 100.0 * 0.7 + ((i * 13) % 17) as f32 / 40.0).min(1.0))
            .collect();
        assert!((ssim(&a, &b, 70, 70).unwrap() - 0.8430597079).abs() < 1e-9);
    }

    #[test]
    fn errors_are_measured() {
        let a = vec![0.0f32, 1.0, 2.0, 3.0];
        let b = vec![1.0f32, 1.0, 2.0, 1.0];
        assert!((mae(&a, &b).unwrap() - 0.75).abs() < 1e-12);
        assert!((rmse(&a, &b).unwrap() - (5.0f64 / 4.0).sqrt()).abs() < 1e-12);
        // A constant offset keeps structure but lowers luminance similarity.
        let img: Vec<f32> = (0..32 * 32).map(|i| 0.3 + 0.4 * ((i % 7) as f32 / 7.0)).collect();
        let shifted: Vec<f32> = img.iter().map(|v| v + 0.2).collect();
        let s = ssim(&img, &shifted, 32, 32).unwrap();
        assert!(s < 0.99 && s > 0.5, "{s}");
        let noise: Vec<f32> = (0..32 * 32).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        assert!(ssim(&img, &noise, 32, 32).unwrap() < 0.2);
        assert!(mae(&a, &b[..3]).is_err());
        assert!(ssim(&img, &img, 31, 32).is_err());
    }
}
