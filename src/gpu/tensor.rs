use wgpu::util::DeviceExt;

use super::Context;
use crate::error::{Error, Result};

/// A flat GPU buffer of 32-bit elements (f32, or u32 for argmax indices). Shapes live in
/// the op descriptors; the tensor knows only its length.
#[derive(Debug)]
pub struct GpuTensor {
    pub buffer: wgpu::Buffer,
    pub len: usize,
}

const USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

impl Context {
    fn check_size(&self, op: &str, tensor: &str, len: usize) -> Result<u64> {
        let bytes = (len.max(1) * 4) as u64;
        let limit = self.max_binding_bytes();
        if bytes > limit {
            return Err(Error::TooLarge { op: op.into(), tensor: tensor.into(), bytes, limit });
        }
        Ok(bytes)
    }

    /// A zero-filled tensor of `len` elements; `op` and `tensor` name it in errors.
    pub fn zeros(&self, op: &str, tensor: &str, len: usize) -> Result<GpuTensor> {
        let size = self.check_size(op, tensor, len)?;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(tensor),
            size,
            usage: USAGE,
            mapped_at_creation: false,
        });
        Ok(GpuTensor { buffer, len })
    }

    /// Copies host data (f32 or u32) to a new GPU tensor.
    pub fn upload<T: bytemuck::Pod>(&self, tensor: &str, data: &[T]) -> Result<GpuTensor> {
        debug_assert_eq!(std::mem::size_of::<T>(), 4);
        self.check_size("upload", tensor, data.len())?;
        let bytes: &[u8] = if data.is_empty() { &[0; 4] } else { bytemuck::cast_slice(data) };
        let buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(tensor),
            contents: bytes,
            usage: USAGE,
        });
        Ok(GpuTensor { buffer, len: data.len() })
    }

    /// A small uniform buffer of parameters that change between replays of a captured
    /// program (bound with `Access::Uniform`, rewritten with `write`). `words` 32-bit words,
    /// rounded up to whole 16-byte rows.
    pub fn uniform(&self, tensor: &str, words: usize) -> Result<GpuTensor> {
        let len = words.div_ceil(4).max(1) * 4;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(tensor),
            size: (len * 4) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(GpuTensor { buffer, len })
    }

    /// Overwrites a tensor's contents from the host.
    pub fn write<T: bytemuck::Pod>(&self, t: &GpuTensor, data: &[T]) -> Result<()> {
        if data.len() != t.len || std::mem::size_of::<T>() != 4 {
            return Err(Error::shape("write", "tensor", format!("has {} elements, got {}", t.len, data.len())));
        }
        self.queue.write_buffer(&t.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Overwrites `data.len()` elements of a tensor from element `at` on.
    pub fn write_at<T: bytemuck::Pod>(&self, t: &GpuTensor, at: usize, data: &[T]) -> Result<()> {
        if at + data.len() > t.len || std::mem::size_of::<T>() != 4 {
            return Err(Error::shape("write", "tensor", format!("has {} elements, got {} at {at}", t.len, data.len())));
        }
        self.queue.write_buffer(&t.buffer, (at * 4) as u64, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Copies a GPU tensor back to the host (waits for the GPU).
    pub fn read<T: bytemuck::Pod>(&self, t: &GpuTensor) -> Result<Vec<T>> {
        if t.len == 0 {
            return Ok(Vec::new());
        }
        let size = (t.len * 4) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&t.buffer, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        super::context::count(|c| c.submissions += 1);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| Error::Gpu(format!("readback: {e}")))?
            .map_err(|e| Error::Gpu(format!("readback: {e}")))?;
        let view = staging.get_mapped_range(..).map_err(|e| Error::Gpu(format!("readback: {e}")))?;
        let out = bytemuck::cast_slice(&view).to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}
